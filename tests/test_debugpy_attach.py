"""Attach to a running Python process by pid, then detach and leave it running."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = pytest.mark.timeout(120)


def _line(path: Path, marker: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if marker in text)


async def test_attach_by_pid_stop_evaluate_detach(api: Any, manager: Any,
                                                  targets: Path) -> None:
    program = targets / "waiter.py"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(program), stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"
        status, model = await api("POST", "sessions", {
            "debugger": "debugpy", "request": "attach", "pid": proc.pid,
            "breakpoints": [{"path": "targets/waiter.py",
                             "line": _line(program, "ATTACH-HERE")}]})
        assert status == 201, model
        assert model["pid"] == proc.pid
        session = manager.get(model["id"])
        assert await session.wait_for(lambda: session.state == "stopped", 60), session.error
        assert session.stopped["path"] == str(program)
        status, result = await api("POST", f"sessions/{model['id']}/evaluate",
                                   {"expression": "counter > 0"})
        assert status == 200 and result["result"] == "True"
        status, model = await api("DELETE", f"sessions/{model['id']}")
        assert status == 200 and model["state"] == "terminated"
        # Detaching leaves the process running, no longer under the debugger.
        assert proc.returncode is None
        assert psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_attach_to_a_missing_pid_is_a_clear_error(api: Any, manager: Any,
                                                        targets: Path) -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await proc.wait()  # a pid that existed and is now gone
    before = await api("GET", "sessions")
    status, error = await api("POST", "sessions", {
        "debugger": "debugpy", "request": "attach", "pid": proc.pid})
    assert status == 400
    assert error["message"] == f"there is no process with pid {proc.pid} to attach to"
    assert await api("GET", "sessions") == before


async def test_attach_to_a_native_process_is_refused_up_front(api: Any, targets: Path) -> None:
    proc = await asyncio.create_subprocess_exec("sleep", "60")
    try:
        before = await api("GET", "sessions")
        status, error = await api("POST", "sessions", {
            "debugger": "debugpy", "request": "attach", "pid": proc.pid})
        assert status == 400 and error["reason"] == "not-python"
        assert f"process {proc.pid} (sleep) is not a Python process" in error["message"]
        assert await api("GET", "sessions") == before
    finally:
        proc.kill()
        await proc.wait()
