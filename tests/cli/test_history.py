"""`launch --watch`, `history [-f]` and `watch` against a real server process, as a user
runs them."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.client import TOKEN_ENV, URL_ENV

from ..support.native import marker_line
from ..support.server_process import ServerProcess, python_targets_server

CLI = [sys.executable, "-m", "jupyter_debug_server.cli"]
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with python_targets_server(tmp_path_factory.mktemp("history")) as srv:
        yield srv


@pytest.fixture
def env(server: ServerProcess, tmp_path: Path) -> dict[str, str]:
    """The server in the environment (not on argv), and no runtime files to find."""
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "no-runtime"))
    env[URL_ENV] = f"http://127.0.0.1:{server.port}/"
    env[TOKEN_ENV] = server.token
    return env


def cli(env: dict[str, str], *args: str, code: int = 0) -> str:
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True,
                          timeout=90, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    return done.stdout if code == 0 else done.stderr


def _launch(server: ServerProcess, env: dict[str, str], *more: str) -> dict[str, Any]:
    line = marker_line(server.root / "targets" / "history.py", "HISTORY-LOOP")
    return dict(json.loads(cli(env, "--json", "launch", "targets/history.py", "--wait",
                               "-b", f"targets/history.py:{line}", *more)))


def _line(proc: subprocess.Popen[str], deadline: float) -> str:
    """The next line `proc` prints (bounded by `deadline`), "" at its end."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
    assert ready, "no line from `history -f` in time"
    return proc.stdout.readline()


def test_history_follows_each_stop_then_prints_the_blocks(
        server: ServerProcess, env: dict[str, str]) -> None:
    model = _launch(server, env, "--watch", "i * 10", "--watch", "nope")
    sid = model["id"]
    assert model["state"] == "stopped" and model["spec"]["watches"] == ["i * 10", "nope"]
    follower = subprocess.Popen([*CLI, "--json", "history", sid[:6], "-f"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL, bufsize=1)
    try:
        deadline = time.monotonic() + 120
        followed = []
        while len(followed) < 5:
            snapshot = json.loads(_line(follower, deadline))
            followed.append(snapshot)
            # This stop's snapshot is printed, so finished: run on to the next stop.
            status, moved = server.request("POST", f"/api/debug/sessions/{sid}/continue", {})
            assert status == 200, moved
        assert _line(follower, deadline) == ""  # the session ended: `-f` returns
        assert follower.wait(30) == 0, follower.stderr.read() if follower.stderr else ""
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert [s["seq"] for s in followed] == [1, 2, 3, 4, 5]
    assert [s["watches"][0]["value"] for s in followed] == ["0", "10", "20", "30", "40"]

    text = cli(env, "history", sid)
    blocks = text.strip().split("\n\n")
    assert len(blocks) == 5, text
    line = marker_line(server.root / "targets" / "history.py", "HISTORY-LOOP")
    third = blocks[2].splitlines()
    assert third[0].startswith(f"#3 stopped at {server.root / 'targets' / 'history.py'}:"
                               f"{line} in main (breakpoint), "), third
    rows = [r.split() for r in third]
    assert ["i", "int", "2"] in rows and ["'name'", "str", "'point'"] in rows, third
    assert "    i * 10 = 20" in third
    assert any(r.startswith("    nope: error: NameError: name 'nope' is not defined")
               for r in third), third
    assert "incomplete" not in text and "truncated" not in text
    assert cli(env, "history", sid, "--since", "4").startswith("#5 stopped at ")
    assert cli(env, "history", sid, "--since", "5") == (
        f"session {sid} has no snapshots after #5\n")
    # A session that ended: `-f` prints the history and returns at once.
    assert len(cli(env, "--json", "history", sid, "-f").splitlines()) == 5


def test_watch_sets_shows_and_clears_the_expressions(
        server: ServerProcess, env: dict[str, str]) -> None:
    sid = _launch(server, env, "--watch", "total")["id"]
    assert cli(env, "watch", sid) == "total\n"
    assert cli(env, "watch", sid, "i", "data['name']") == "i\ndata['name']\n"
    assert json.loads(cli(env, "--json", "watch", sid)) == ["i", "data['name']"]
    status, stepped = server.request("POST", f"/api/debug/sessions/{sid}/continue", {})
    assert status == 200, stepped
    assert cli(env, "watch", sid, "--clear") == f"session {sid} has no watches\n"
    error = cli(env, "watch", sid, "x" * 1001, code=1)
    assert "error: 'watches[0]'" in error and "at most 1000" in error
    assert "give expressions or --clear" in cli(env, "watch", sid, "i", "--clear", code=2)
    cli(env, "stop", sid)
    # The second stop's snapshot shows the watches set before it.
    second = json.loads(cli(env, "--json", "history", sid, "--since", "1").splitlines()[0])
    assert [w["expression"] for w in second["watches"]] == ["i", "data['name']"]
