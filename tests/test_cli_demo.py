"""The main job: `jupyter-debug-server serve --demo` leaves a session stopped at its breakpoint."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_debug_server.cli import serve as cli

from .support.server_process import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[ServerProcess]:
    root = tmp_path / "root"
    root.mkdir()
    # What an earlier run or someone else left where the env file goes: a symlink to a
    # file that must not be written through.
    runtime = tmp_path / "state" / "runtime"
    runtime.mkdir(parents=True, mode=0o700)
    (tmp_path / "victim").write_text("untouched\n")
    (runtime / cli.DEMO_ENV).symlink_to(tmp_path / "victim")
    srv = ServerProcess(root, tmp_path / "state", extra=["--demo"])
    srv.start(ready="Demo session")
    yield srv
    srv.stop()


def test_demo_session_is_stopped_at_the_marked_line_and_env_file_works(
        demo: ServerProcess) -> None:
    # Outside root_dir, in Jupyter's runtime directory (JUPYTER_RUNTIME_DIR here).
    env_file = demo.state / "runtime" / cli.DEMO_ENV
    assert not env_file.is_symlink() and env_file.is_file()
    assert (demo.state.parent / "victim").read_text() == "untouched\n"
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert not (demo.root / "debug_demo" / "demo.env").exists()
    assert not [p for p in env_file.parent.iterdir() if p.name.startswith(".")]
    values = dict(line.removeprefix("export ").split("=", 1)
                  for line in env_file.read_text().splitlines())
    values = {k: shlex.split(v)[0] for k, v in values.items()}
    assert values["JDS_TOKEN"] == demo.token
    assert values["JDS_URL"].endswith(f":{demo.port}")
    status, model = demo.request("GET", f"/api/debug/sessions/{values['JDS_SESSION']}")
    assert status == 200 and model["state"] == "stopped"
    program = demo.root / "debug_demo" / "demo.py"
    line = program.read_text().splitlines()[model["stopped"]["line"] - 1]
    assert line.rstrip().endswith("# DEMO-BREAKPOINT")
    assert model["stopped"]["line"] == cli._demo_line()
    assert (model["stopped"]["path"], model["stopped"]["reason"]) == (str(program), "breakpoint")
    # The printed instructions name the env file.
    assert any(f"source {env_file}" in line for line in demo.log)


def test_write_private_replaces_a_stale_file_and_never_follows_a_link(tmp_path: Path) -> None:
    target = tmp_path / "demo.env"
    target.write_text("stale\n")
    target.chmod(0o644)
    cli.write_private(target, "fresh\n")
    assert target.read_text() == "fresh\n" and target.stat().st_mode & 0o777 == 0o600
    (tmp_path / "elsewhere").write_text("keep\n")
    target.unlink()
    target.symlink_to(tmp_path / "elsewhere")
    cli.write_private(target, "new\n")
    assert not target.is_symlink() and target.read_text() == "new\n"
    assert (tmp_path / "elsewhere").read_text() == "keep\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.env", "elsewhere"]
