"""No process of a session survives server shutdown or a SIGKILLed server (nor DELETE, on
every debugger: test_sessions.py)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from ..support.server_process import ServerProcess, python_targets_server

pytestmark = pytest.mark.timeout(120)


def _session_processes(server_pid: int) -> list[psutil.Process]:
    """Every descendant of the server: the workers and their targets."""
    return psutil.Process(server_pid).children(recursive=True)


def _assert_all_gone(procs: list[psutil.Process], within: float = 10) -> None:
    _, alive = psutil.wait_procs(procs, timeout=within)
    assert not alive, f"still running after {within} s: {[p.cmdline() for p in alive]}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with python_targets_server(tmp_path) as srv:
        yield srv


def _launch_stopped(server: ServerProcess) -> dict[str, Any]:
    status, model = server.request("POST", "/api/debug/sessions", {
        "debugger": "debugpy", "program": "targets/loop.py", "stop_on_entry": True})
    assert status == 201, model
    assert model["state"] in ("running", "stopped"), model
    return model


def _target_and_worker(server: ServerProcess, model: dict[str, Any]) -> list[psutil.Process]:
    procs = _session_processes(server.proc.pid)  # type: ignore[union-attr]
    pids = {p.pid for p in procs}
    assert model["pid"] in pids, (model["pid"], pids)
    assert len(procs) >= 2  # the worker and the target
    return procs


def test_server_shutdown_ends_every_process(server: ServerProcess) -> None:
    models = [_launch_stopped(server) for _ in range(2)]
    procs = _session_processes(server.proc.pid)  # type: ignore[union-attr]
    assert {m["pid"] for m in models} <= {p.pid for p in procs}
    server.signal(signal.SIGTERM)
    assert server.wait(30) == 0
    _assert_all_gone(procs)


def test_sigkill_of_the_server_leaves_no_orphans_and_restart_marks_lost(
        server: ServerProcess) -> None:
    model = _launch_stopped(server)
    procs = _target_and_worker(server, model)
    server.signal(signal.SIGKILL)
    server.wait(10)
    _assert_all_gone(procs)
    server.port = server.port  # same state dir and database
    server.start()
    status, after = server.request("GET", f"/api/debug/sessions/{model['id']}")
    assert status == 200 and after["state"] == "lost"
    assert "server stopped" in after["error"]
    # A session of an earlier run can be read but not driven.
    status, error = server.request("POST", f"/api/debug/sessions/{model['id']}/step",
                                   {"kind": "over"})
    assert status == 409 and error["reason"] == "wrong-state"
    assert "earlier server" in error["message"]
    status, output = server.request("GET", f"/api/debug/sessions/{model['id']}/output")
    assert status == 200 and output["state"] == "lost"


def test_restart_reaps_survivors_matched_by_pid_and_start_time(server: ServerProcess) -> None:
    model = _launch_stopped(server)
    procs = _target_and_worker(server, model)
    # A frozen worker cannot notice its server died: it and its target survive the crash.
    for p in procs:
        p.suspend()
    server.signal(signal.SIGKILL)
    server.wait(10)
    assert all(p.is_running() for p in procs)
    server.start()
    _assert_all_gone(procs)
    status, after = server.request("GET", f"/api/debug/sessions/{model['id']}")
    assert status == 200 and after["state"] == "lost"
