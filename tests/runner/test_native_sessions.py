"""What native sessions (gdb and lldb) do through the REST API beyond the scenarios every
debugger shares (test_sessions.py): arguments, struct members, the debuggers' own
commands, conditional, log, hit-count and function breakpoints, deep stacks, signals,
threads and C++ exceptions.

The same scenarios on both debuggers; where they legitimately differ (lldb shows
libc's frames below main, names its C++ exception filter `cpp_throw`, and has its
own REPL commands) the table below or the assertion says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..support.debuggers import NATIVE
from ..support.native import marker_line

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.parametrize("debugger", NATIVE, indirect=True)]


# What differs between the debuggers' REPLs and filters. Through REST (as in a console)
# a debugger command needs its prefix: gdb's `-exec ` (cppdbg's), lldb-dap's backtick.
PRINT_Y = {"gdb": "-exec print p.y", "lldb": "`p p.y"}
THROW_FILTER = {"gdb": "throw", "lldb": "cpp_throw"}


async def test_native_session_arguments_members_and_debugger_commands(
        api: Any, manager: Any, debugger: str, native: dict[str, Path]) -> None:
    source = native["points"].parent / "points.c"
    line = marker_line(source, "MAIN-START")
    status, model = await api("POST", "sessions", {
        "debugger": debugger, "program": "native/points", "args": ["x y", "$(id)"],
        "breakpoints": [{"path": "native/points.c", "line": line}]})
    assert status == 201, model
    sid = model["id"]
    session = manager.get(sid)
    assert await session.wait_for(lambda: session.state == "stopped", 30), session.error
    assert (session.stopped["path"], session.stopped["line"]) == (str(source), line)
    status, stack = await api("GET", f"sessions/{sid}/stack")
    assert status == 200 and stack["frames"][0]["name"] == "main"
    status, variables = await api("GET", f"sessions/{sid}/variables")
    scopes = {s["name"]: s for s in variables["scopes"]}
    p = next(v for v in scopes["Locals"]["variables"] if v["name"] == "p")
    status, members = await api("GET", f"sessions/{sid}/variables", reference=p[
        "variablesReference"])
    assert {v["name"]: v["value"] for v in members["variables"]}["x"] == "3"
    status, result = await api("POST", f"sessions/{sid}/evaluate",
                               {"expression": PRINT_Y[debugger]})
    assert status == 200 and result["result"].rstrip().endswith("4"), result
    # The default (REPL) context answers the value alone on every debugger, as a watch.
    for context in ({}, {"context": "repl"}):
        status, result = await api("POST", f"sessions/{sid}/evaluate",
                                   {"expression": "p.x * 10", **context})
        assert status == 200 and result["result"] == "30", result
    status, model = await api("POST", f"sessions/{sid}/step", {"kind": "over"})
    assert status == 200 and model["stopped"]["line"] == line + 1
    status, _ = await api("PUT", f"sessions/{sid}/breakpoints",
                          {"path": "native/points.c", "breakpoints": []})
    status, model = await api("POST", f"sessions/{sid}/continue", {})
    assert status == 200 and model["state"] == "exited" and model["exit_code"] == 123
    status, out = await api("GET", f"sessions/{sid}/output")
    stdout = "".join(i["output"] for i in out["items"] if i["category"] == "stdout")
    assert stdout.startswith("arg[1]=x y\narg[2]=$(id)\n")


async def test_non_executable_program_is_refused(
        api: Any, debugger: str, native: dict[str, Path]) -> None:
    status, error = await api("POST", "sessions", {"debugger": debugger,
                                                   "program": "native/points.c"})
    assert status == 400 and error["reason"] == "not-executable"
    assert "'native/points.c' is not executable" in error["message"]


async def _stopped(manager: Any, sid: str) -> dict[str, Any]:
    session = manager.get(sid)
    assert await session.wait_for(lambda: session.state == "stopped", 30), (
        session.state, session.error)
    return dict(session.stopped)


async def test_native_scenarios_through_rest(
        api: Any, manager: Any, debugger: str, native: dict[str, Path]) -> None:
    points = native["points"].parent / "points.c"
    # Conditional + log breakpoints and a function breakpoint, from the launch spec.
    status, model = await api("POST", "sessions", {
        "debugger": debugger, "program": "native/points",
        "breakpoints": [
            {"path": "native/points.c", "line": marker_line(points, "SQUARE-BODY"),
             "condition": "n == 4"},
            {"path": "native/points.c", "line": marker_line(points, "LOOP-BODY"),
             "log_message": "i={i}"}],
        "function_breakpoints": ["recurse"]})
    sid = model["id"]
    stop = await _stopped(manager, sid)
    assert stop["name"] == "square"
    status, n = await api("POST", f"sessions/{sid}/evaluate",
                          {"expression": "n", "context": "watch"})
    assert n["result"] == "4"
    # setVariable through raw DAP, on the stopped frame's locals.
    status, scopes = await api("POST", f"sessions/{sid}/dap", {
        "command": "scopes", "arguments": {"frameId": stop["frame_id"]}})
    holder = None  # gdb lists `n` under Arguments, lldb under Locals
    for scope in scopes["scopes"]:
        status, listed = await api("POST", f"sessions/{sid}/dap", {
            "command": "variables",
            "arguments": {"variablesReference": scope["variablesReference"]}})
        if any(v["name"] == "n" for v in listed["variables"]):
            holder = scope["variablesReference"]
            break
    assert holder is not None, scopes
    status, changed = await api("POST", f"sessions/{sid}/dap", {
        "command": "setVariable", "arguments": {
            "variablesReference": holder, "name": "n", "value": "5"}})
    assert status == 200 and changed["value"] == "5"
    status, model = await api("POST", f"sessions/{sid}/continue", {})
    assert model["stopped"]["name"] == "recurse"  # the function breakpoint
    status, out = await api("GET", f"sessions/{sid}/output")
    console = "".join(i["output"] for i in out["items"] if i["category"] == "console")
    assert "i=0\n" in console and "i=4\n" in console
    # Deep stack paged through the stack route.
    status, _ = await api("PUT", f"sessions/{sid}/breakpoints", {
        "path": "native/points.c", "breakpoints": [
            {"line": marker_line(points, "RECURSE-BODY"), "condition": "n == 0"}]})
    await api("POST", f"sessions/{sid}/dap", {"command": "setFunctionBreakpoints",
                                               "arguments": {"breakpoints": []}})
    status, model = await api("POST", f"sessions/{sid}/continue", {})
    status, page = await api("GET", f"sessions/{sid}/stack", start=38, levels=10)
    names = [f["name"] for f in page["frames"]]
    assert names[:4] == ["recurse", "recurse", "recurse", "main"], names
    # recurse(40..0) and main, then (lldb only) libc's start-up frames.
    assert page["total"] == 38 + len(names) and "recurse" not in names[4:]
    await api("DELETE", f"sessions/{sid}")

    # A hit count from the launch spec: the third call of square() is square(4).
    status, model = await api("POST", "sessions", {
        "debugger": debugger, "program": "native/points", "breakpoints": [
            {"path": "native/points.c", "line": marker_line(points, "SQUARE-BODY"),
             "hit_condition": "3"}]})
    await _stopped(manager, model["id"])
    status, n = await api("POST", f"sessions/{model['id']}/evaluate",
                          {"expression": "n", "context": "watch"})
    assert n["result"] == "4"
    await api("DELETE", f"sessions/{model['id']}")

    # A segfault stops with the signal named.
    status, model = await api("POST", "sessions", {"debugger": debugger, "program": "native/crash"})
    stop = await _stopped(manager, model["id"])
    assert stop["reason"] == "exception" and "SIGSEGV" in stop["description"]
    await api("DELETE", f"sessions/{model['id']}")

    # Two threads, and a C++ exception breakpoint set through raw DAP.
    threads_src = native["threads"].parent / "threads.c"
    status, model = await api("POST", "sessions", {
        "debugger": debugger, "program": "native/threads", "breakpoints": [
            {"path": "native/threads.c", "line": marker_line(threads_src, "THREAD-BODY")}]})
    await _stopped(manager, model["id"])
    status, threads = await api("POST", f"sessions/{model['id']}/dap", {"command": "threads"})
    assert len(threads["threads"]) >= 2
    await api("DELETE", f"sessions/{model['id']}")
    status, model = await api("POST", "sessions", {"debugger": debugger, "program": "native/throw",
                                                   "stop_on_entry": True})
    assert model["state"] == "stopped"
    await api("POST", f"sessions/{model['id']}/dap", {
        "command": "setExceptionBreakpoints",
        "arguments": {"filters": [THROW_FILTER[debugger]]}})
    status, model = await api("POST", f"sessions/{model['id']}/continue", {})
    assert model["stopped"]["reason"] == "exception"
    await api("DELETE", f"sessions/{model['id']}")
