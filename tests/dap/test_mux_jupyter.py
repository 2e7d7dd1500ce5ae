"""JupyterLab's non-DAP requests on the mux (dap/jupyter.py): `debugInfo` answered from
the mux's state, the kernel-only requests refused; none of them reaches the debugger.

Same in-memory upstream as test_mux.py: a real DapChannel over a socketpair to a tiny
DAP peer (one that answers setBreakpoints as debugpy can).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jupyter_debug_server.dap import DapMux
from jupyter_debug_server.dap.breakpoints import SESSION_OWNER

from .test_mux import Client, Message, _moving_mux, _mux

pytestmark = pytest.mark.timeout(30)

KERNEL_ONLY = ("dumpCell", "richInspectVariables", "copyToGlobals", "inspectVariables")
PREFIX = "/jupyter-debug-server/session/s1/cells/"


async def _rest_breakpoints(mux: DapMux, arguments: Message) -> Message:
    """Set breakpoints as the session's REST route does (SESSION_OWNER)."""
    done: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
    assert mux.set_breakpoints(SESSION_OWNER, arguments, done.set_result)
    return await asyncio.wait_for(done, 10)


async def _debug_info(client: Client, seq: int, arguments: Any = None) -> Message:
    client.send(seq, "debugInfo", arguments)
    reply = await client.response(seq)
    assert reply["success"] and reply["command"] == "debugInfo", reply
    body: Message = reply["body"]
    return body


def test_debug_info_lists_every_owners_source_breakpoints_with_mine() -> None:
    async def run() -> None:
        mux, peer = await _moving_mux()
        a, b = Client(mux), Client(mux)
        app, lib = "/w/app.py", "/w/lib.py"
        a.send(1, "setBreakpoints", {"source": {"path": app}, "breakpoints": [
            {"line": 9, "condition": "x > 1"}, {"line": 3, "hitCondition": "2"}]})
        mine_a = (await a.response(1))["body"]["breakpoints"]
        a.send(2, "setFunctionBreakpoints", {"breakpoints": [{"name": "main"}]})
        await a.response(2)
        b.send(1, "setBreakpoints", {"source": {"path": app}, "breakpoints": [
            {"line": 11, "logMessage": "v={v}", "condition": ""}]})
        mine_b = (await b.response(1))["body"]["breakpoints"]
        rest = await _rest_breakpoints(mux, {"source": {"path": lib},
                                             "breakpoints": [{"line": 4}]})
        assert rest["success"], rest
        (rest_bp,) = rest["body"]["breakpoints"]
        requests = len(peer.requests)

        info = await _debug_info(a, 3, {})
        assert info == {
            "isStarted": True, "hashMethod": "Murmur2", "hashSeed": 0,
            "tmpFilePrefix": PREFIX, "tmpFileSuffix": ".py",
            "breakpoints": [
                {"source": app, "breakpoints": [
                    {**mine_a[0], "condition": "x > 1", "mine": True, "owner": "you"},
                    {**mine_a[1], "hitCondition": "2", "mine": True, "owner": "you"},
                    # (an empty condition is no condition)
                    {**mine_b[0], "logMessage": "v={v}", "mine": False, "owner": "client"}]},
                {"source": lib, "breakpoints": [
                    {**rest_bp, "mine": False, "owner": "session"}]}],
            "stoppedThreads": [], "richRendering": False, "exceptionPaths": [],
            "copyToGlobals": False}
        # What a client sees of each (the debugger moved line 4 to 5, and verified it).
        assert (rest_bp["line"], rest_bp["verified"]) == (5, True)
        assert [bp["line"] for bp in mine_a] == [9, 3]

        # The other client, without arguments: the same breakpoints, `mine` its own.
        other = await _debug_info(b, 2)
        assert [[bp["mine"] for bp in group["breakpoints"]]
                for group in other["breakpoints"]] == [[False, False, True], [False]]
        assert [[bp["owner"] for bp in group["breakpoints"]]
                for group in other["breakpoints"]] == [["client", "client", "you"], ["session"]]
        assert other["breakpoints"][0]["breakpoints"][2]["id"] == mine_b[0]["id"]

        # A removes its breakpoints of app.py: gone from the listing; a source with none
        # left is not listed at all.
        a.send(4, "setBreakpoints", {"source": {"path": app}, "breakpoints": []})
        await a.response(4)
        b.send(3, "setBreakpoints", {"source": {"path": app}, "breakpoints": []})
        await b.response(3)
        assert (await _debug_info(a, 5))["breakpoints"] == [
            {"source": lib, "breakpoints": [{**rest_bp, "mine": False, "owner": "session"}]}]
        assert [r["command"] for r in peer.requests[requests:]] == [
            "setBreakpoints", "setBreakpoints"]  # debugInfo never went upstream
    asyncio.run(run())


def test_stopped_threads_follow_the_remembered_stop_for_any_role() -> None:
    async def run() -> None:
        mux, peer = await _mux()
        control, watcher = Client(mux), Client(mux, role="observe")
        seqs = iter(range(1, 100))

        async def threads_of(client: Client) -> list[int]:
            stopped: list[int] = (await _debug_info(client, next(seqs)))["stoppedThreads"]
            return stopped

        assert await threads_of(control) == await threads_of(watcher) == []
        mux.broadcast({"type": "event", "event": "stopped",
                       "body": {"threadId": 7, "reason": "breakpoint"}})
        assert await threads_of(control) == await threads_of(watcher) == [7]
        mux.broadcast({"type": "event", "event": "continued", "body": {"threadId": 7}})
        assert await threads_of(watcher) == []
        mux.broadcast({"type": "event", "event": "stopped",
                       "body": {"threadId": 9, "reason": "pause"}})
        assert await threads_of(watcher) == [9]
        mux.broadcast({"type": "event", "event": "exited", "body": {"exitCode": 0}})
        assert await threads_of(control) == []
        mux.broadcast({"type": "event", "event": "stopped",
                       "body": {"threadId": 9, "reason": "pause"}})
        mux.broadcast({"type": "event", "event": "terminated"})
        assert await threads_of(control) == await threads_of(watcher) == []
        assert peer.requests == []
    asyncio.run(run())


def test_debug_info_with_arguments_that_are_not_an_object_is_refused() -> None:
    async def run() -> None:
        mux, peer = await _mux()
        for who in (Client(mux), Client(mux, role="observe")):
            for seq, (arguments, shown) in enumerate(
                    [([1], "an array ([1])"), ("x", "a string ('x')"),
                     (5, "a number (5)")], 1):
                who.send(seq, "debugInfo", arguments)
                reply = await who.response(seq)
                assert not reply["success"], reply
                assert reply["message"] == (
                    f"the arguments of 'debugInfo' must be a JSON object, not {shown}")
        assert peer.requests == []
    asyncio.run(run())


def test_kernel_only_requests_are_refused_with_a_sentence_and_never_sent_upstream() -> None:
    async def run() -> None:
        mux, peer = await _mux()
        mux.broadcast({"type": "event", "event": "stopped",
                       "body": {"threadId": 1, "reason": "step"}})
        for who in (Client(mux), Client(mux, role="observe")):
            for seq, command in enumerate(KERNEL_ONLY, 1):
                who.send(seq, command, {"code": "x = 1", "variablesReference": 3,
                                        "name": "x", "frameId": 1})
                reply = await who.response(seq)
                assert (reply["command"], reply["success"]) == (command, False)
                assert reply["message"] == (
                    f"'{command}' is a Jupyter kernel request; session s1 debugs a program, "
                    "not a kernel")
            # Nothing but the answers: no replayed stop ahead of a set-up.
            assert [m["type"] for m in who.received] == ["response"] * len(KERNEL_ONLY)
        assert peer.requests == []
    asyncio.run(run())


def test_the_stop_is_replayed_after_configuration_done_when_debug_info_came_first() -> None:
    """JupyterLab asks debugInfo before initialize: the stop still comes after
    configurationDone (and, for a client that skips the configuration, before the
    first real request's answer)."""
    async def run() -> None:
        mux, peer = await _mux()
        mux.broadcast({"type": "event", "event": "stopped",
                       "body": {"threadId": 3, "reason": "breakpoint"}})
        lab = Client(mux)
        assert (await _debug_info(lab, 1, {}))["stoppedThreads"] == [3]
        assert lab.events() == []
        lab.send(2, "initialize", {"adapterID": "jupyterlab"})
        lab.send(3, "attach", {})
        lab.send(4, "debugInfo", {})
        lab.send(5, "configurationDone")
        await lab.response(5)
        assert [m.get("event") or m["command"] for m in lab.received] == [
            "debugInfo", "initialize", "initialized", "attach", "debugInfo",
            "configurationDone", "stopped"]
        assert lab.events("stopped")[0]["body"] == {"threadId": 3, "reason": "breakpoint"}

        raw = Client(mux)
        await _debug_info(raw, 1)
        raw.send(2, "threads")
        await raw.response(2)
        assert [m.get("event") or m["command"] for m in raw.received] == [
            "debugInfo", "stopped", "threads"]
        assert [r["command"] for r in peer.requests] == ["threads"]
    asyncio.run(run())
