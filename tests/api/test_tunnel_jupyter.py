"""JupyterLab's non-DAP requests over the real DAP tunnel of a real debugpy session:
`debugInfo` lists the REST route's breakpoints (the CLI's `break`) and the stop; the
kernel-only requests are refused."""

from __future__ import annotations

from typing import Any

import pytest

from ..support.ws_dap import Tunnel

pytestmark = pytest.mark.timeout(120)

LOOP = "targets/loop.py"
ADD_LINE = 6  # total = a + b
BREAK_LINE = 13  # result = add(result, v)


@pytest.mark.usefixtures("targets")
async def test_debug_info_shows_rest_breakpoints_and_the_stop_over_the_tunnel(
        api: Any, manager: Any, tunnel: Tunnel) -> None:
    status, model = await api("POST", "sessions", {"debugger": "debugpy", "program": LOOP,
                                                   "stop_on_entry": True})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 30), (
        session.state, session.error)
    thread = session.stopped["thread_id"]

    # The CLI's `break` is this route: the session's own breakpoints.
    status, rest = await api("PUT", f"sessions/{session.id}/breakpoints",
                             {"path": LOOP, "breakpoints": [
                                 {"line": BREAK_LINE, "condition": "v == 2"}]})
    assert status == 200, rest
    path, (rest_bp,) = rest["path"], rest["breakpoints"]

    # JupyterLab asks debugInfo first, before initialize.
    lab = await tunnel(session.id)
    info = await lab.body("debugInfo", {})
    assert info["isStarted"] is True and info["stoppedThreads"] == [thread], info
    assert (info["hashMethod"], info["hashSeed"], info["tmpFileSuffix"]) == ("Murmur2", 0,
                                                                             ".py")
    assert info["tmpFilePrefix"] == f"/jupyter-debug-server/session/{session.id}/cells/"
    assert (info["richRendering"], info["exceptionPaths"], info["copyToGlobals"]) == (
        False, [], False)
    assert info["breakpoints"] == [{"source": path, "breakpoints": [
        {"id": rest_bp["id"], "verified": True, "line": BREAK_LINE, "source": {"path": path},
         "condition": "v == 2", "mine": False, "owner": "session"}]}]
    assert not [e for e in lab.events if e["event"] == "stopped"]  # not before configuring

    reply = await lab.request("dumpCell", {"code": "x = 1"})
    assert not reply["success"]
    assert reply["message"] == (f"'dumpCell' is a Jupyter kernel request; session "
                                f"{session.id} debugs a program, not a kernel")

    # The set-up follows: the stop is replayed after configurationDone all the same.
    await lab.join()
    stop = await lab.event("stopped")
    assert stop["body"]["threadId"] == thread

    # A breakpoint of the client's own shows as `mine`, next to the session's.
    mine = (await lab.body("setBreakpoints", {"source": {"path": path}, "breakpoints": [
        {"line": ADD_LINE, "logMessage": "a={a}"}]}))["breakpoints"]
    info = await lab.body("debugInfo")
    assert [(bp["id"], bp["line"], bp["mine"], bp["owner"], bp.get("logMessage"))
            for group in info["breakpoints"] for bp in group["breakpoints"]] == [
        (rest_bp["id"], BREAK_LINE, False, "session", None),
        (mine[0]["id"], ADD_LINE, True, "you", "a={a}")]

    # An observer may ask too; once the program ran to its end nothing is stopped.
    watcher = await tunnel(session.id, role="observe")
    assert (await watcher.body("debugInfo"))["stoppedThreads"] == [thread]
    status, _ = await api("PUT", f"sessions/{session.id}/breakpoints",
                          {"path": LOOP, "breakpoints": []})
    assert status == 200
    await lab.body("setBreakpoints", {"source": {"path": path}, "breakpoints": []})
    await lab.body("continue", {"threadId": thread})
    await watcher.event("exited")
    info = await watcher.body("debugInfo")
    assert (info["stoppedThreads"], info["breakpoints"]) == ([], [])
    assert await session.wait_for(lambda: session.state == "exited", 30)
