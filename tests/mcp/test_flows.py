"""An agent debugs through `jupyter-debug-server mcp`, driven by the SDK's stdio client
against a real Jupyter server: list → launch with a breakpoint → the stop's location,
source and locals in the answer → step → stack, variables, evaluate → output → run to the
end → stop, on debugpy and on gdb."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession

from ..support.debuggers import Debuggee, debuggee, require_installed
from ..support.server_process import ServerProcess
from .agent import Json, call, mcp_session

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("name", ["debugpy", "gdb"])
def test_launch_step_inspect_and_run_to_the_end(server: ServerProcess, stderr: Path,
                                                name: str) -> None:
    require_installed(name)
    d = debuggee(name, server.root)

    async def scenario() -> None:
        with anyio.fail_after(150):
            async with mcp_session(server, stderr=stderr) as agent:
                debuggers = (await call(agent, "list_debuggers"))["debuggers"]
                assert next(x for x in debuggers if x["name"] == name)["available"]
                known = {s["id"] for s in (await call(agent, "list_sessions"))["sessions"]}

                stop = await call(agent, "launch_session", program=d.program, debugger=name,
                                  breakpoints=[{"path": d.source_path, "line": d.line}],
                                  exception_breakpoints=[])
                sid = stop["session_id"]
                assert sid not in known
                listed = (await call(agent, "list_sessions"))["sessions"]
                assert listed[0]["id"] == sid and listed[0]["state"] == "stopped"
                _first_stop(stop, d)
                await _step_and_inspect(agent, sid, d)
                await _run_to_the_end(agent, sid, d)

    anyio.run(scenario)


def _first_stop(stop: Json, d: Debuggee) -> None:
    assert (stop["state"], stop["pending"]) == ("stopped", False), stop
    where = stop["location"]
    assert (where["path"], where["line"], where["function"]) == (str(d.source), d.line,
                                                                 d.frame), stop
    assert where["reason"] == "breakpoint"
    # The source around the line, the line itself marked.
    current = next(line for line in stop["source"].splitlines() if line.startswith(">"))
    assert current.split("|", 1)[0].split() == [">", str(d.line)]
    assert current.split("|", 1)[1].strip() == d.source.read_text().splitlines()[
        d.line - 1].strip()
    local, value = d.local
    assert {"name": local, "value": value} in [
        {"name": v["name"], "value": v["value"]} for v in stop["locals"]], stop["locals"]
    assert stop["new_output"]["next"] >= 0


async def _step_and_inspect(agent: ClientSession, sid: str, d: Debuggee) -> None:
    stepped = await call(agent, "step", session_id=sid, kind="in")
    assert stepped["state"] == "stopped" and stepped["location"]["reason"] == "step"
    assert (stepped["location"]["function"], stepped["location"]["line"]) == (
        d.callee, d.callee_line), stepped
    assert f"> {d.callee_line} |" in stepped["source"].replace(">  ", "> ")

    stack = await call(agent, "stack", session_id=sid)
    assert [f["function"] for f in stack["frames"][:2]] == [d.callee, d.frame]
    caller = stack["frames"][1]["id"]
    expression, value = d.watch
    assert (await call(agent, "evaluate", session_id=sid, expression=expression,
                       frame_id=caller))["result"] == value

    # The caller's locals, and one page of the children of one of them.
    scopes = (await call(agent, "variables", session_id=sid, frame_id=caller))["scopes"]
    assert d.local[0] in {v["name"] for v in scopes[0]["variables"]}
    parent = next(v for v in scopes[0]["variables"] if v.get("reference"))
    page = await call(agent, "variables", session_id=sid, reference=parent["reference"],
                      count=2)
    assert len(page["variables"]) == 2 and page["start"] == 0

    # Tool calls run in the SDK's worker threads at once, over one client.
    answers = await asyncio.gather(*(
        call(agent, tool, session_id=sid) for tool in
        ("stack", "variables", "get_session", "list_breakpoints", "output", "snapshots",
         "stack", "get_session")))
    assert answers[2]["state"] == "stopped" and answers[7] == answers[2]
    # (gdb numbers the frames anew for every request)
    assert [(f["function"], f["line"]) for f in answers[0]["frames"]] == [
        (f["function"], f["line"]) for f in answers[6]["frames"]]
    assert answers[3]["sources"][0]["breakpoints"][0]["line"] == d.line


async def _run_to_the_end(agent: ClientSession, sid: str, d: Debuggee) -> None:
    cleared = await call(agent, "set_breakpoints", session_id=sid, path=d.source_path,
                         breakpoints=[])
    assert cleared["breakpoints"] == []
    ended = await call(agent, "continue", session_id=sid)
    assert (ended["state"], ended["pending"], ended["exit_code"]) == (
        "exited", False, d.exit_code), ended
    assert d.stdout in ended["new_output"]["text"]

    everything = await call(agent, "output", session_id=sid)
    assert d.stdout in everything["text"] and d.stderr in everything["text"]
    assert everything["more"] is False and everything["state"] == "exited"
    after = await call(agent, "output", session_id=sid, since=everything["next"])
    assert (after["text"], after["next"]) == ("", everything["next"])

    history = await call(agent, "snapshots", session_id=sid)
    assert [s["reason"] for s in history["items"]][:2] == ["breakpoint", "step"]

    stopped = await call(agent, "stop_session", session_id=sid)
    assert (stopped["state"], stopped["exit_code"]) == ("exited", d.exit_code)
    assert (await call(agent, "get_session", session_id=sid))["state"] == "exited"
