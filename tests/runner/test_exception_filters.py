"""A launch spec's `exception_breakpoints` (issue 14): each debugger's filters listed by
GET /api/debug/debuggers, applied at start (omitted: the debugger's defaults; []: no
exception stops), and an id the debugger does not offer refused before anything starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..support.debuggers import NATIVE
from ..support.native import marker_line

pytestmark = pytest.mark.timeout(120)

#: The filters each debugger offers (lldb-dap's are lldb-dap 19's C++ and Objective-C).
OFFERED = {"debugpy": {"raised", "uncaught", "userUnhandled"}, "gdb": {"throw", "catch"},
           "lldb": {"cpp_throw", "cpp_catch"}}
DEFAULTS = {"debugpy": {"uncaught"}, "gdb": set(), "lldb": set()}
THROW = {"gdb": "throw", "lldb": "cpp_throw"}
CATCH = {"gdb": "catch", "lldb": "cpp_catch"}


async def _launch(api: Any, manager: Any, **spec: Any) -> Any:
    status, model = await api("POST", "sessions", spec)
    assert status == 201, model
    assert model["state"] != "failed", model["error"]
    return manager.get(model["id"])


async def _settled(session: Any) -> Any:
    """Wait for the first stop or the end (nothing here resumes a stopped session)."""
    assert await session.wait_for(lambda: session.state not in ("starting", "running"), 60), (
        session.state, session.error)
    return session


async def test_each_debugger_lists_its_exception_filters(api: Any, debugger: str) -> None:
    status, items = await api("GET", "debuggers")
    assert status == 200
    probe = next(d for d in items if d["name"] == debugger)
    filters = {f["id"]: f for f in probe["exception_filters"]}
    assert OFFERED[debugger] <= set(filters), filters
    assert {i for i, f in filters.items() if f["default"]} == DEFAULTS[debugger]
    assert all(isinstance(f["label"], str) and f["label"] for f in filters.values())


async def test_an_unknown_filter_is_refused_naming_it_and_the_valid_ones(
        api: Any, manager: Any, debugger: str, program: Any) -> None:
    status, body = await api("POST", "sessions", {
        "debugger": debugger, "program": program.program,
        "exception_breakpoints": [*sorted(OFFERED[debugger])[:1], "on_fire"]})
    assert status == 400, body
    assert body["reason"] == "unknown-exception-filter"
    assert "'on_fire'" in body["message"] and repr(debugger) in body["message"]
    for valid in OFFERED[debugger]:
        assert valid in body["message"], body["message"]
    status, sessions = await api("GET", "sessions")
    assert status == 200 and sessions == []  # nothing was started

    status, body = await api("POST", "sessions", {
        "debugger": debugger, "program": program.program, "exception_breakpoints": "raised"})
    assert status == 400 and "'exception_breakpoints' must be a list" in body["message"], body


async def test_debugpy_no_filters_let_sys_exit_end_the_program_without_a_stop(
        api: Any, manager: Any, targets: Path) -> None:
    # The contrast first: named explicitly, `uncaught` stops on sys.exit(3)'s SystemExit.
    session = await _settled(await _launch(api, manager, program="targets/loop.py",
                                           args=["3"], exception_breakpoints=["uncaught"]))
    assert session.state == "stopped" and session.stopped["reason"] == "exception", (
        session.stopped)
    assert session.spec.public()["exception_breakpoints"] == ["uncaught"]
    await api("DELETE", f"sessions/{session.id}")

    # With none, nothing resumes the program, so reaching `exited` means it never stopped.
    session = await _settled(await _launch(api, manager, program="targets/loop.py",
                                           args=["3"], exception_breakpoints=[]))
    assert (session.state, session.exit_code) == ("exited", 3), (session.state,
                                                                 session.stopped)
    status, model = await api("GET", f"sessions/{session.id}")
    assert status == 200 and model["spec"]["exception_breakpoints"] == []


async def test_debugpy_raised_stops_on_a_caught_exception(
        api: Any, manager: Any, targets: Path) -> None:
    source = targets / "exceptions.py"
    session = await _settled(await _launch(api, manager, program="targets/exceptions.py",
                                           exception_breakpoints=["raised"]))
    assert session.state == "stopped", (session.state, session.exit_code)
    stop = session.stopped
    assert stop["reason"] == "exception" and "too big: 3" in stop["description"], stop
    assert (stop["path"], stop["line"]) == (str(source), marker_line(source, "RAISE-LINE"))
    await api("DELETE", f"sessions/{session.id}")

    # The debugger's default (`uncaught`) lets the caught ones pass: it runs to its end.
    session = await _settled(await _launch(api, manager, program="targets/exceptions.py"))
    assert (session.state, session.exit_code) == ("exited", 0), session.stopped
    assert session.spec.public()["exception_breakpoints"] is None


@pytest.mark.parametrize("debugger", NATIVE, indirect=True)
async def test_native_cpp_throw_and_catch_filters(
        api: Any, manager: Any, debugger: str, native: dict[str, Path]) -> None:
    # throw.cpp throws (and catches) on passes 3 and 4, then returns 0 + 1 + 2.
    for filters in ([THROW[debugger]], [CATCH[debugger]]):
        session = await _settled(await _launch(api, manager, debugger=debugger,
                                               program="native/throw",
                                               exception_breakpoints=filters))
        assert session.state == "stopped", (filters, session.state, session.exit_code)
        assert session.stopped["reason"] == "exception", session.stopped
        await api("DELETE", f"sessions/{session.id}")

    for filters in ([], None):  # none, and the defaults (none either): no stop
        spec = {} if filters is None else {"exception_breakpoints": filters}
        session = await _settled(await _launch(api, manager, debugger=debugger,
                                               program="native/throw", **spec))
        assert (session.state, session.exit_code) == ("exited", 3), session.stopped
