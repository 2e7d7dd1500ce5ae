"""Sessions of every debugger through the REST API: the same scenarios on debugpy, gdb and
lldb (tests/support/debuggers.py names each one's program). What only one debugger does is
in test_debugpy_adapter.py and test_native_sessions.py."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import debugpy
import psutil
import pytest

from jupyter_debug_server.runner.debuggers.lldb_adapter import find_lldb_dap

from ..support.debuggers import Debuggee, skip_unless
from ..support.native import marker_line

pytestmark = pytest.mark.timeout(120)

# How each debugger's REPL writes a core file of the program (a debugger command through
# REST needs its prefix: gdb's `-exec `, as cppdbg's, lldb-dap's backtick).
SAVE_CORE = {"gdb": "-exec generate-core-file {path}", "lldb": "`process save-core {path}"}
# `counter > 0` as each debugger writes true: Python's, C's int (gdb), C++'s bool (lldb).
TRUE = {"debugpy": "True", "gdb": "1", "lldb": "true"}


async def _until(manager: Any, session_id: str, *states: str) -> dict[str, Any]:
    session = manager.get(session_id)
    assert await session.wait_for(lambda: session.state in states, 60), (
        session.state, session.error, session.stopped)
    return dict(session.model())


async def test_debuggers_route_reports_every_debugger(api: Any, debugger: str) -> None:
    status, debuggers = await api("GET", "debuggers")
    probe = {d["name"]: d for d in debuggers}[debugger]
    assert status == 200 and probe["available"] and probe["reason"] is None, probe
    assert probe["path"] == {"debugpy": os.path.dirname(debugpy.__file__),
                             "gdb": shutil.which("gdb"), "lldb": find_lldb_dap()}[debugger]
    assert probe["version"] and probe["version"][0].isdigit()


async def test_breakpoint_stack_variables_evaluate_step_continue_exit(
        api: Any, manager: Any, debugger: str, program: Debuggee) -> None:
    status, model = await api("POST", "sessions", {
        "debugger": debugger, "program": program.program,
        "breakpoints": [{"path": program.source_path, "line": program.line}]})
    assert status == 201, model
    sid = model["id"]
    model = await _until(manager, sid, "stopped")
    assert model["stopped"]["reason"] == "breakpoint"
    assert (model["stopped"]["path"], model["stopped"]["line"]) == (str(program.source),
                                                                    program.line)
    assert model["pid"] and model["pid"] != model.get("worker_pid")

    status, stack = await api("GET", f"sessions/{sid}/stack")
    assert status == 200 and stack["frames"][0]["name"] == program.frame, stack

    status, variables = await api("GET", f"sessions/{sid}/variables")
    assert status == 200
    name, value = program.local
    locals_ = {v["name"]: v["value"] for v in variables["scopes"][0]["variables"]}
    assert locals_[name] == value, variables

    expression, result = program.watch
    for context in ({"context": "watch"}, {}):  # the default context answers the same
        status, answer = await api("POST", f"sessions/{sid}/evaluate",
                                   {"expression": expression, **context})
        assert status == 200 and answer["result"] == result, (context, answer)

    # step in: into the callee; step over inside it; step out back to the caller.
    status, model = await api("POST", f"sessions/{sid}/step", {"kind": "in"})
    assert status == 200 and model["completed"], model
    stopped = model["stopped"]
    assert (stopped["name"], stopped["line"]) == (program.callee, program.callee_line)
    status, model = await api("POST", f"sessions/{sid}/step", {"kind": "over"})
    assert status == 200 and model["stopped"]["line"] == program.callee_line + 1, model
    status, model = await api("POST", f"sessions/{sid}/step", {"kind": "out"})
    assert status == 200, model
    assert (model["stopped"]["name"], model["stopped"]["line"]) == (program.frame,
                                                                    program.line)

    status, bps = await api("PUT", f"sessions/{sid}/breakpoints",
                            {"path": program.source_path, "breakpoints": []})
    assert status == 200 and bps["breakpoints"] == []
    status, model = await api("POST", f"sessions/{sid}/continue", {})
    assert status == 200 and model["completed"], model
    model = await _until(manager, sid, "exited")
    assert model["exit_code"] == program.exit_code

    status, out = await api("GET", f"sessions/{sid}/output")
    assert status == 200 and out["state"] == "exited"
    text = {c: "".join(i["output"] for i in out["items"] if i["category"] == c)
            for c in ("stdout", "stderr")}
    assert text == {"stdout": program.stdout, "stderr": program.stderr}


async def test_delete_ends_every_process_of_the_session(
        api: Any, manager: Any, debugger: str, program: Debuggee) -> None:
    status, model = await api("POST", "sessions", {
        "debugger": debugger, "program": program.program, "stop_on_entry": True})
    assert status == 201 and model["state"] == "stopped", model
    assert model["stopped"]["reason"] == "entry"
    session = manager.get(model["id"])
    worker = psutil.Process(session.worker.pid)
    procs = [worker, *worker.children(recursive=True)]
    # the worker and the program; a native session's debugger is a process of its own
    assert len(procs) >= (2 if debugger == "debugpy" else 3), procs
    assert session.pid in {p.pid for p in procs}
    status, model = await api("DELETE", f"sessions/{model['id']}")
    assert status == 200 and model["state"] == "terminated"
    _, alive = psutil.wait_procs(procs, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    # Idempotent: a second DELETE is not an error and changes nothing.
    status, again = await api("DELETE", f"sessions/{model['id']}")
    assert status == 200 and again["state"] == "terminated"


@asynccontextmanager
async def _waiter(debugger: str, root: Path) -> AsyncIterator[
        tuple[asyncio.subprocess.Process, Path, str, str]]:
    """A running waiter, ready: (process, source, marker of its loop's body, function)."""
    if debugger == "debugpy":
        source = root / "targets" / "waiter.py"
        argv, marker, function = [sys.executable, str(source)], "ATTACH-HERE", "<module>"
    else:
        source = root / "native" / "waiter.c"
        argv, marker, function = [str(root / "native" / "waiter")], "TICK-BODY", "tick"
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"
        yield proc, source, marker, function
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


@pytest.mark.usefixtures("program")
async def test_attach_by_pid_stop_evaluate_detach(
        api: Any, manager: Any, debugger: str, jp_root_dir: Path) -> None:
    async with _waiter(debugger, jp_root_dir) as (proc, source, marker, function):
        status, model = await api("POST", "sessions", {
            "debugger": debugger, "request": "attach", "pid": proc.pid,
            "breakpoints": [{"path": str(source.relative_to(jp_root_dir)),
                             "line": marker_line(source, marker)}]})
        assert status == 201, model
        assert model["pid"] == proc.pid
        session = manager.get(model["id"])
        assert await session.wait_for(lambda: session.state == "stopped", 60), session.error
        assert (session.stopped["path"], session.stopped["name"]) == (str(source), function)
        status, result = await api("POST", f"sessions/{model['id']}/evaluate",
                                   {"expression": "counter > 0", "context": "watch"})
        assert status == 200 and result["result"] == TRUE[debugger], result
        status, model = await api("DELETE", f"sessions/{model['id']}")
        assert status == 200 and model["state"] == "terminated"
        # Detaching leaves the process running, no longer under the debugger.
        assert proc.returncode is None
        assert psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE


@pytest.mark.usefixtures("program")
async def test_core_file_written_through_the_repl_opens_in_a_session(
        api: Any, manager: Any, debugger: str, jp_root_dir: Path) -> None:
    skip_unless(debugger, "core files")
    core = jp_root_dir / "native" / "waiter.core"
    async with _waiter(debugger, jp_root_dir) as (proc, source, marker, function):
        status, model = await api("POST", "sessions", {
            "debugger": debugger, "request": "attach", "pid": proc.pid,
            "breakpoints": [{"path": "native/waiter.c", "line": marker_line(source, marker)}]})
        assert status == 201, model
        session = manager.get(model["id"])
        assert await session.wait_for(lambda: session.state == "stopped", 30), session.error
        assert session.stopped["name"] == function
        assert shutil.which("gcore")  # (gdb's generate-core-file is gcore's work)
        status, result = await api("POST", f"sessions/{model['id']}/evaluate", {
            "expression": SAVE_CORE[debugger].format(path=core)})
        assert status == 200 and core.stat().st_size > 0, result
        status, model = await api("DELETE", f"sessions/{model['id']}")
        assert status == 200 and model["state"] == "terminated"
        assert proc.returncode is None  # detached, still running
    status, model = await api("POST", "sessions", {
        "debugger": debugger, "program": "native/waiter", "core": "native/waiter.core"})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 30), session.error
    assert session.stopped["name"] == function
    status, error = await api("POST", f"sessions/{model['id']}/step", {"kind": "over"})
    assert status == 422 and "cannot run or step" in error["message"]
    status, model = await api("DELETE", f"sessions/{model['id']}")
    assert status == 200 and model["state"] == "terminated"
