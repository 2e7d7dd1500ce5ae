"""One session, many IDEs (issue 12): breakpoints per client, ending the shared program.

Real jupyter_server, real debugpy, gdb and lldb-dap sessions, WebSocket tunnel clients
(tests/support/ws_dap.py) behaving as IDEs do.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.app import EVENT_SCHEMA_ID
from jupyter_debug_server.client import DebugServerClient
from jupyter_debug_server.dap import FrameDecoder, encode

from ..support.debuggers import NATIVE, Debuggee, debuggee
from ..support.forward import ForwardProcess
from ..support.jp_server import Server, bearer, issue
from ..support.native import targets_server
from ..support.server_process import ServerProcess
from ..support.ws_dap import Tunnel, TunnelClient

pytestmark = pytest.mark.timeout(150)

LOOP = "targets/loop.py"


async def _launch(api: Any, manager: Any, debugger: str, **spec: Any) -> Any:
    status, model = await api("POST", "sessions", {"debugger": debugger, **spec})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 60), (
        session.state, session.error)
    return session


def _stop_hits(stop: dict[str, Any]) -> list[int]:
    return list(stop["body"].get("hitBreakpointIds") or [])


async def _set(client: TunnelClient, path: str, *lines: int) -> list[dict[str, Any]]:
    body = await client.body("setBreakpoints", {
        "source": {"path": path}, "breakpoints": [{"line": line} for line in lines]})
    return list(body["breakpoints"])


async def _resume_and_stop(driver: TunnelClient, others: list[TunnelClient], thread: int,
                           line: int) -> dict[int, dict[str, Any]]:
    """`continue` from `driver`; every client sees the stop, at `line`."""
    clients = [driver, *others]
    marks = {id(c): len(c.messages) for c in clients}
    await driver.body("continue", {"threadId": thread})
    stops = {}
    for client in clients:
        stops[id(client)] = await client.event("stopped", after=marks[id(client)])
    frames = (await driver.body("stackTrace", {"threadId": thread, "levels": 1}))[
        "stackFrames"]
    assert frames[0]["line"] == line, frames[0]
    return stops


async def test_two_clients_keep_their_own_breakpoints_in_one_file(
        api: Any, manager: Any, tunnel: Tunnel, debugger: str, program: Debuggee) -> None:
    path, line_a, line_b = str(program.source), program.line, program.callee_line
    session = await _launch(api, manager, debugger, program=program.program,
                            stop_on_entry=True)
    a, b = await tunnel(session.id), await tunnel(session.id)
    for client in (a, b):
        await client.join()
        await client.event("stopped")  # the entry stop, replayed
    thread = session.stopped["thread_id"]

    mark_b = len(b.messages)
    mine_a = await _set(a, path, line_a)
    assert [(bp["line"], bp["verified"]) for bp in mine_a] == [(line_a, True)], mine_a
    told_b = await b.event("breakpoint", after=mark_b)
    assert told_b["body"]["reason"] == "new", told_b
    assert told_b["body"]["breakpoint"]["id"] == mine_a[0]["id"]
    assert told_b["body"]["breakpoint"]["line"] == line_a

    mark_a = len(a.messages)
    mine_b = await _set(b, path, line_b)  # the same file: A's must survive it
    assert [(bp["line"], bp["verified"]) for bp in mine_b] == [(line_b, True)], mine_b
    told_a = await a.event("breakpoint", after=mark_a)
    assert (told_a["body"]["reason"], told_a["body"]["breakpoint"]["line"]) == ("new", line_b)
    assert mine_b[0]["id"] != mine_a[0]["id"]
    # Each is answered with its own only; neither hears of its own change by event.
    assert [bp["line"] for bp in await _set(a, path, line_a)] == [line_a]
    assert not [e for e in b.events[:] if e["event"] == "breakpoint"
                and e["body"]["breakpoint"]["id"] == mine_b[0]["id"]]

    # The program stops at both lines, and both clients see every stop; a stop's
    # hitBreakpointIds are each client's own (or none).
    stops = await _resume_and_stop(a, [b], thread, line_a)
    assert _stop_hits(stops[id(b)]) == []
    assert _stop_hits(stops[id(a)]) in ([], [mine_a[0]["id"]])
    stops = await _resume_and_stop(b, [a], thread, line_b)
    assert _stop_hits(stops[id(a)]) == []
    assert _stop_hits(stops[id(b)]) in ([], [mine_b[0]["id"]])
    if debugger == "debugpy":  # (debugpy reports the breakpoint it hit)
        assert _stop_hits(stops[id(b)]) == [mine_b[0]["id"]]

    # B leaves: its breakpoint goes with it, and A is told.
    mark_a = len(a.messages)
    await b.close()
    removed = await a.event("breakpoint", lambda e: e["body"]["reason"] == "removed",
                            after=mark_a)
    assert removed["body"]["breakpoint"]["id"] == mine_b[0]["id"]
    await _resume_and_stop(a, [], thread, line_a)
    await _resume_and_stop(a, [], thread, line_a)  # with B's still set: line B
    status, _ = await api("DELETE", f"sessions/{session.id}")
    assert status == 200


@pytest.mark.parametrize("debugger", NATIVE, indirect=True)
@pytest.mark.usefixtures("native")
async def test_two_clients_keep_their_own_function_breakpoints(
        api: Any, manager: Any, tunnel: Tunnel, debugger: str) -> None:
    session = await _launch(api, manager, debugger, program="native/points",
                            stop_on_entry=True)
    a, b = await tunnel(session.id), await tunnel(session.id)
    for client in (a, b):
        await client.join()
        await client.event("stopped")
    thread = session.stopped["thread_id"]

    async def set_functions(client: TunnelClient, *names: str) -> list[dict[str, Any]]:
        body = await client.body("setFunctionBreakpoints",
                                 {"breakpoints": [{"name": n} for n in names]})
        return list(body["breakpoints"])

    mark_a = len(a.messages)
    mine_b = await set_functions(b, "recurse")
    mine_a = await set_functions(a, "square")  # setFunctionBreakpoints replaces all: not B's
    assert len(mine_a) == len(mine_b) == 1 and mine_a[0]["id"] != mine_b[0]["id"]
    assert mine_a[0]["verified"] and mine_b[0]["verified"], (mine_a, mine_b)
    told = await a.event("breakpoint", after=mark_a)
    assert (told["body"]["reason"], told["body"]["breakpoint"]["id"]) == ("new",
                                                                        mine_b[0]["id"])

    async def run_to_function() -> str:
        mark = len(a.messages)
        await a.body("continue", {"threadId": thread})
        await a.event("stopped", after=mark)
        frames = (await a.body("stackTrace", {"threadId": thread, "levels": 1}))[
            "stackFrames"]
        return str(frames[0]["name"])

    assert "square" in await run_to_function()
    mark_b = len(b.messages)
    assert await set_functions(a) == []  # A clears its own: B's stays
    removed = await b.event("breakpoint", after=mark_b)
    assert (removed["body"]["reason"], removed["body"]["breakpoint"]["id"]) == (
        "removed", mine_a[0]["id"])
    assert "recurse" in await run_to_function()  # with A's still set: square again
    await api("DELETE", f"sessions/{session.id}")


@pytest.mark.usefixtures("targets")
async def test_the_rest_routes_breakpoints_stay_when_clients_come_and_go(
        api: Any, manager: Any, tunnel: Tunnel) -> None:
    session = await _launch(api, manager, "debugpy", program=LOOP,
                            breakpoints=[{"path": LOOP, "line": 13}])
    status, own = await api("GET", f"sessions/{session.id}/breakpoints")
    assert status == 200 and [bp["line"] for bp in own[0]["breakpoints"]] == [13], own
    # The session stopped at its own breakpoint: that is in its model, in its ids.
    assert session.stopped["hit_breakpoint_ids"] == [own[0]["breakpoints"][0]["id"]]

    ide = await tunnel(session.id)
    await ide.join()
    replayed = await ide.event("stopped")
    assert "hitBreakpointIds" not in replayed["body"], replayed  # not this client's
    path = str(Path(session.spec.program))
    assert [bp["line"] for bp in await _set(ide, path, 5)] == [5]
    status, own = await api("GET", f"sessions/{session.id}/breakpoints")
    assert [bp["line"] for bp in own[0]["breakpoints"]] == [13], own  # REST's own only
    thread = session.stopped["thread_id"]
    await _resume_and_stop(ide, [], thread, 5)
    await ide.close()
    assert await session.wait_for(lambda: session.clients == 0, 10)

    # The IDE's breakpoint left with it; the session's own stays.
    status, model = await api("POST", f"sessions/{session.id}/continue")
    assert status == 200 and model["stopped"]["line"] == 13, model
    status, model = await api("POST", f"sessions/{session.id}/continue")
    assert status == 200 and model["stopped"]["line"] == 13, model
    await api("DELETE", f"sessions/{session.id}")


@pytest.mark.parametrize("how", ["terminate", "disconnect"])
@pytest.mark.usefixtures("targets")
async def test_a_control_client_ends_the_session_and_is_recorded(
        api: Any, manager: Any, jp_serverapp: Any, jp_http_port: int, jp_base_url: str,
        how: str) -> None:
    seen: list[dict[str, Any]] = []
    terminated = asyncio.Event()

    async def listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        seen.append(data)
        if data["action"] == "terminate":
            terminated.set()

    jp_serverapp.event_logger.add_listener(schema_id=EVENT_SCHEMA_ID, listener=listener)
    session = await _launch(api, manager, "debugpy", program=LOOP, stop_on_entry=True)
    server = Server(jp_http_port, jp_base_url, jp_serverapp.identity_provider.token)
    token = await issue(api, session.id, "control")
    ide = TunnelClient(await server.ws(f"api/debug/sessions/{session.id}/dap",
                                       bearer(token["secret"])))
    capabilities = await ide.join()
    assert capabilities["supportsTerminateRequest"] is True
    assert capabilities["supportTerminateDebuggee"] is True
    arguments = {} if how == "terminate" else {"terminateDebuggee": True}
    reply = await ide.request(how, arguments)
    assert reply["success"] and "message" not in reply, reply
    await ide.event("terminated")
    assert await session.wait_for(lambda: not session.active, 30)
    # Ended on request, as DELETE does: `terminated` (the exit code, if any, is the
    # target's own: killed by SIGTERM it is -15), never `exited`.
    assert session.state == "terminated", (session.state, session.exit_code)
    audit = await manager.store.list_audit(session.id)
    ended = [a for a in audit if a["action"] == "terminate"]
    assert len(ended) == 1, audit
    assert token["id"] in ended[0]["user"], ended
    assert ended[0]["detail"]["role"] == "control"
    assert ended[0]["detail"]["token_id"] == token["id"]
    assert ended[0]["detail"]["command"] == how
    assert ended[0]["detail"]["client"].endswith("/control")
    await asyncio.wait_for(terminated.wait(), 10)  # listeners run as tasks
    event = next(d for d in seen if d["action"] == "terminate")
    assert (event["token_id"], event["command"]) == (token["id"], how), event
    await ide.close()


@pytest.mark.usefixtures("targets")
async def test_an_observer_can_leave_but_never_end_the_session(
        api: Any, manager: Any, tunnel: Tunnel) -> None:
    session = await _launch(api, manager, "debugpy", program=LOOP, stop_on_entry=True)
    watcher = await tunnel(session.id, role="observe")
    capabilities = await watcher.join()
    assert capabilities["supportsTerminateRequest"] is False
    assert capabilities["supportTerminateDebuggee"] is False
    for command, arguments in (("terminate", {}), ("disconnect", {"terminateDebuggee": True})):
        reply = await watcher.request(command, arguments)
        assert not reply["success"], reply
        assert f"observes session {session.id}" in reply["message"], reply
    assert session.state == "stopped"
    assert (await watcher.request("disconnect", {}))["success"]  # leaving is fine
    await watcher.close()
    assert await session.wait_for(lambda: session.clients == 0, 10)
    assert session.state == "stopped"
    await api("DELETE", f"sessions/{session.id}")


# -- an IDE as nvim-dap is one: seq from 0, pipelined inspection, quit by terminate ------


@pytest.fixture(scope="module")
def server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with targets_server(tmp_path_factory.mktemp("shared")) as srv:
        yield srv


class RawIde:
    """A DAP client that writes its own bytes: requests numbered from 0 (as nvim-dap
    numbers them) and several requests in one write (pipelined, as IDEs send them)."""

    def __init__(self, reader: asyncio.StreamReader, writer: Any) -> None:
        self.writer = writer
        self.messages: list[dict[str, Any]] = []
        self._seq = itertools.count(0)
        self._changed = asyncio.Event()
        self._decoder = FrameDecoder()
        self._reader = asyncio.ensure_future(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(65536):
            self.messages.extend(self._decoder.feed(data))
            self._changed.set()
        self._changed.set()

    def send(self, *requests: tuple[str, Any]) -> list[int]:
        """Write `requests` ((command, arguments) each) at once; their seqs."""
        seqs, data = [], b""
        for command, arguments in requests:
            seqs.append(next(self._seq))
            data += encode({"type": "request", "seq": seqs[-1], "command": command,
                            "arguments": arguments})
        self.writer.write(data)
        return seqs

    async def wait(self, match: Callable[[dict[str, Any]], bool], after: int = 0,
                   timeout: float = 60) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            index = after
            while True:
                for message in self.messages[index:]:
                    if match(message):
                        return message
                index = len(self.messages)
                assert not self._reader.done(), f"the forward closed: {self.messages}"
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(scan(), timeout)

    async def answers(self, *requests: tuple[str, Any]) -> list[dict[str, Any]]:
        """Send `requests` pipelined; their successful bodies, in order."""
        mark = len(self.messages)
        seqs = self.send(*requests)
        out = []
        for seq, (command, _) in zip(seqs, requests, strict=True):
            reply = await self.wait(lambda m, seq=seq: m["type"] == "response"
                                    and m["request_seq"] == seq, mark)
            assert reply["success"] and reply["command"] == command, reply
            out.append(reply.get("body") or {})
        return out

    async def inspect(self, thread: int) -> int:
        """What an IDE asks after every stop: threads and stackTrace together, scopes,
        then the variables of every non-expensive scope together; the top line."""
        threads, trace = await self.answers(
            ("threads", {}), ("stackTrace", {"threadId": thread, "startFrame": 0,
                                             "levels": 20}))
        assert thread in [t["id"] for t in threads["threads"]], threads
        top = trace["stackFrames"][0]
        (scopes,) = await self.answers(("scopes", {"frameId": top["id"]}))
        cheap = [s for s in scopes["scopes"] if not s.get("expensive")
                 and s["variablesReference"]]
        assert cheap, scopes
        bodies = await self.answers(*[("variables", {"variablesReference":
                                                     s["variablesReference"]})
                                      for s in cheap])
        assert all(isinstance(b["variables"], list) for b in bodies)
        return int(top["line"])


@pytest.mark.parametrize("mode", ["--stdio", "--port"])
def test_an_ide_numbering_from_zero_pipelines_and_quits_with_terminate(
        server_process: ServerProcess, debugger: str, mode: str) -> None:
    srv = server_process
    program = debuggee(debugger, srv.root)
    path, line_a = str(program.source), program.line
    url = f"http://127.0.0.1:{srv.port}/"
    with DebugServerClient(url, srv.token) as client:
        model = client.create_session({"debugger": debugger, "program": program.program,
                                       "stop_on_entry": True})
        model = client.wait_settled(model["id"], 60)
        assert model["state"] == "stopped", model
        sid = str(model["id"])

        async def run() -> None:
            forward = await ForwardProcess.start(url, srv.token, sid, mode)
            try:
                if mode == "--stdio":
                    assert forward.proc.stdout is not None
                    ide = RawIde(forward.proc.stdout, forward.proc.stdin)
                else:
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", await forward.port())
                    ide = RawIde(reader, writer)
                await _ide_session(ide, path, line_a)
                assert await forward.wait() == 0  # the session ended: the forward too
            finally:
                await forward.stop()

        asyncio.run(run())
        assert client.session(sid)["state"] == "terminated"
    with sqlite3.connect(f"file:{srv.state / 'debug.db'}?mode=ro", uri=True) as conn:
        details = [json.loads(d) for (d,) in conn.execute(
            "SELECT detail FROM audit WHERE session_id = ? AND action = 'terminate'",
            (sid,))]
    assert [(d["command"], d["role"]) for d in details] == [("terminate", "control")]


async def _ide_session(ide: RawIde, path: str, line: int) -> None:
    (capabilities,) = await ide.answers(("initialize", {
        "clientID": "neovim", "adapterID": "jds", "linesStartAt1": True,
        "columnsStartAt1": True, "pathFormat": "path"}))
    assert ide.messages[0]["request_seq"] == 0  # the first request was seq 0
    assert capabilities["supportsTerminateRequest"] is True
    await ide.wait(lambda m: m.get("event") == "initialized")
    mark = len(ide.messages)
    _, breakpoints, _ = await ide.answers(
        ("attach", {}), ("setBreakpoints", {"source": {"path": path},
                                            "breakpoints": [{"line": line}]}),
        ("configurationDone", {}))
    assert [bp["line"] for bp in breakpoints["breakpoints"]] == [line]
    stop = await ide.wait(lambda m: m.get("event") == "stopped", mark)
    thread = stop["body"]["threadId"]
    await ide.inspect(thread)
    for command in ("continue", "next", "next"):
        mark = len(ide.messages)
        await ide.answers((command, {"threadId": thread}))
        await ide.wait(lambda m: m.get("event") == "stopped", mark)
        found = await ide.inspect(thread)
        assert command != "continue" or found == line
    mark = len(ide.messages)
    await ide.answers(("terminate", {}))  # nvim-dap's terminate(), and its quit
    await ide.wait(lambda m: m.get("event") == "terminated", mark)
    ide.send(("disconnect", {}))  # what an IDE sends after `terminated`; then it closes
    ide.writer.close()
