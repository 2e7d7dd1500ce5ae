"""The main job: `jupyter-debug-server serve --demo` leaves a session stopped at its breakpoint."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_debug_server import cli

from .support.server_process import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[ServerProcess]:
    root = tmp_path / "root"
    root.mkdir()
    srv = ServerProcess(root, tmp_path / "state", extra=["--demo"])
    srv.start(ready="Demo session")
    yield srv
    srv.stop()


def test_demo_session_is_stopped_at_the_marked_line_and_env_file_works(
        demo: ServerProcess) -> None:
    env_file = demo.root / "debug_demo" / "demo.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
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
