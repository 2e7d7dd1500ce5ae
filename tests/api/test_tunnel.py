"""The DAP tunnel: WebSocket clients of a real session, multiplexed onto one debugger."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
import websocket
from tornado.httpclient import HTTPClientError

from ..support.jp_server import DenyDebugExecute
from ..support.ws_dap import Tunnel, TunnelClient

pytestmark = pytest.mark.timeout(120)

LOOP = "targets/loop.py"
BREAK_LINE = 13  # result = add(result, v)
STEP_LINE = 12  # `next` from there goes back to: for v in values
MAX_DAP = 256 * 1024


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["DebugServerApp"]["max_dap_message"] = MAX_DAP
    return jp_server_config


async def _stopped_session(api: Any, manager: Any, **spec: Any) -> Any:
    spec = {"program": LOOP, "breakpoints": [{"path": LOOP, "line": BREAK_LINE}]} | spec
    status, model = await api("POST", "sessions", {"debugger": "debugpy", **spec})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 30), (
        session.state, session.error)
    return session


def _seqs_are_own_counter(client: TunnelClient) -> None:
    assert [m["seq"] for m in client.messages] == list(range(1, len(client.messages) + 1))


@pytest.mark.usefixtures("targets")
async def test_two_clients_see_every_event_and_only_their_own_responses(
        api: Any, manager: Any, tunnel: Tunnel) -> None:
    session = await _stopped_session(api, manager)
    sid = session.id
    a, b = await tunnel(sid), await tunnel(sid)
    for client in (a, b):
        capabilities = await client.join()
        assert capabilities == session.capabilities
        stop = await client.event("stopped")  # the current state, replayed
        assert stop["body"]["threadId"] == session.stopped["thread_id"]
        assert stop["body"]["reason"] == "breakpoint"
    assert session.model()["clients"] == 2

    # Both use the same seq numbers; each gets its own answer and nothing else.
    marks = {id(c): len(c.messages) for c in (a, b)}
    seq_a = a.send("threads")
    seq_b = b.send("stackTrace", {"threadId": session.stopped["thread_id"]})
    assert seq_a == seq_b == 4
    reply_a = await a.wait_for(lambda m: m["type"] == "response", after=marks[id(a)])
    reply_b = await b.wait_for(lambda m: m["type"] == "response", after=marks[id(b)])
    assert (reply_a["command"], reply_a["request_seq"], reply_a["success"]) == ("threads", 4,
                                                                                True)
    assert (reply_b["command"], reply_b["request_seq"]) == ("stackTrace", 4)
    assert reply_b["body"]["stackFrames"][0]["line"] == BREAK_LINE

    # One client steps: both see the stop; only the stepper gets a `next` response.
    marks = {id(c): len(c.messages) for c in (a, b)}
    thread = session.stopped["thread_id"]
    step = await a.request("next", {"threadId": thread})
    assert step["success"] and step["request_seq"] == 5
    for client in (a, b):
        stop = await client.event("stopped", after=marks[id(client)])
        assert stop["body"]["reason"] == "step"
    # The stepper's response says the program runs (DAP): only the other gets `continued`.
    continued = {name: [m for m in c.messages[marks[id(c)]:] if m.get("event") == "continued"]
                 for name, c in (("a", a), ("b", b))}
    assert (len(continued["a"]), len(continued["b"])) == (0, 1), continued
    status, model = await api("GET", f"sessions/{session.id}")  # REST sees the new stop
    assert status == 200 and model["stopped"]["line"] == STEP_LINE, model
    frames = (await b.body("stackTrace", {"threadId": thread}))["stackFrames"]
    assert frames[0]["line"] == STEP_LINE

    # Run to the end without the breakpoint: both see the output and the exit.
    status, _ = await api("PUT", f"sessions/{sid}/breakpoints",
                          {"path": LOOP, "breakpoints": []})
    assert status == 200
    await b.body("continue", {"threadId": thread})
    for client in (a, b):
        exited = await client.event("exited")
        assert exited["body"]["exitCode"] == 0
        await client.event("terminated")
        stdout = "".join(e["body"]["output"] for e in client.events if e["event"] == "output"
                         and e["body"].get("category") == "stdout")
        assert stdout == "result 6\n"  # the target's output reached both clients
    for client in (a, b):
        own = {m["seq"] for m in client.messages
               if m["type"] == "request"}  # never: the server sends no requests
        assert not own
        answered = [r["request_seq"] for r in client.responses]
        assert len(answered) == len(set(answered)), client.responses
        _seqs_are_own_counter(client)
    assert sorted(r["command"] for r in a.responses) == [
        "attach", "configurationDone", "initialize", "next", "threads"]
    assert sorted(r["command"] for r in b.responses) == [
        "attach", "configurationDone", "continue", "initialize", "stackTrace", "stackTrace"]
    assert await session.wait_for(lambda: session.state == "exited", 30)


@pytest.mark.usefixtures("targets")
async def test_late_joiner_and_client_that_skips_configuration_done_see_the_stop(
        api: Any, manager: Any, tunnel: Tunnel) -> None:
    session = await _stopped_session(api, manager)
    status, model = await api("POST", f"sessions/{session.id}/step", {"kind": "in"})
    assert status == 200 and model["stopped"]["name"] == "add"

    late = await tunnel(session.id)
    await late.body("initialize", {"adapterID": "test", "linesStartAt1": True})
    await late.event("initialized")
    attach = await late.request("attach", {"justMyCode": False})
    assert attach["success"] and "message" not in attach  # DAP: `message` means failure
    assert not [e for e in late.events if e["event"] == "stopped"]  # not before configuring
    mark = len(late.messages)
    await late.body("configurationDone")
    stop = await late.event("stopped", after=mark)
    assert stop["body"]["reason"] == "step"
    assert stop["body"]["threadId"] == model["stopped"]["thread_id"]
    assert "allThreadsStopped" in stop["body"]  # as debugpy reported it
    frames = (await late.body("stackTrace", {"threadId": stop["body"]["threadId"]}))[
        "stackFrames"]
    assert (frames[0]["name"], frames[0]["line"]) == ("add", model["stopped"]["line"])

    # No initialize dance at all: the first real request still gets the state first.
    raw = await tunnel(session.id)
    seq = raw.send("threads")
    reply = await raw.wait_for(lambda m: m["type"] == "response")
    assert reply["request_seq"] == seq and reply["success"]
    # (debugpy announced its process: a late joiner learns that first, then the stop)
    assert [m.get("event") for m in raw.messages[:2]] == ["process", "stopped"]

    # A client asking for 0-based lines is told why it cannot join.
    odd = await tunnel(session.id)
    reply = await odd.request("initialize", {"adapterID": "x", "linesStartAt1": False})
    assert not reply["success"] and "linesStartAt1" in reply["message"]


@pytest.mark.usefixtures("targets")
async def test_observer_reads_but_cannot_change_the_program(
        api: Any, manager: Any, tunnel: Tunnel) -> None:
    session = await _stopped_session(api, manager)
    entry = dict(session.stopped)
    thread = entry["thread_id"]
    watcher = await tunnel(session.id, role="observe")
    await watcher.join()
    await watcher.event("stopped")
    assert [t["id"] for t in (await watcher.body("threads"))["threads"]].count(thread) == 1
    frames = (await watcher.body("stackTrace", {"threadId": thread}))["stackFrames"]
    scopes = (await watcher.body("scopes", {"frameId": frames[0]["id"]}))["scopes"]
    variables = (await watcher.body("variables", {
        "variablesReference": scopes[0]["variablesReference"]}))["variables"]
    assert {v["name"]: v["value"] for v in variables}["values"] == "[1, 2, 3]"

    for command, arguments in [
            ("next", {"threadId": thread}),
            ("continue", {"threadId": thread}),
            ("evaluate", {"expression": "values.append(4)", "frameId": frames[0]["id"]}),
            ("setVariable", {"variablesReference": scopes[0]["variablesReference"],
                             "name": "result", "value": "99"}),
            ("setBreakpoints", {"source": {"path": entry["path"]}, "breakpoints": []}),
            ("terminate", {})]:
        reply = await watcher.request(command, arguments)
        assert not reply["success"], (command, reply)
        assert f"observes session {session.id}" in reply["message"], reply
        assert "control connection" in reply["message"]
    assert session.state == "stopped" and session.stopped == entry
    status, result = await api("POST", f"sessions/{session.id}/evaluate",
                               {"expression": "values"})
    assert status == 200 and result["result"] == "[1, 2, 3]"
    status, _ = await api("GET", f"sessions/{session.id}")
    assert status == 200

    status, reply = await api("GET", f"sessions/{session.id}/stack")
    assert status == 200 and reply["frames"][0]["line"] == BREAK_LINE


@pytest.mark.usefixtures("targets")
async def test_client_dropping_mid_step_reconnects_and_session_survives(
        api: Any, manager: Any, tunnel: Tunnel) -> None:
    session = await _stopped_session(api, manager)
    thread = session.stopped["thread_id"]
    first = await tunnel(session.id)
    await first.join()
    await first.event("stopped")
    first.send("next", {"threadId": thread})
    await first.close()  # gone before the answer (and the stop) arrive
    assert await session.wait_for(lambda: session.stopped is not None
                                  and session.stopped["line"] == STEP_LINE, 30), (
        session.state, session.stopped)
    assert await session.wait_for(lambda: session.clients == 0, 10)
    assert session.state == "stopped"

    again = await tunnel(session.id)
    await again.join()
    stop = await again.event("stopped")
    assert stop["body"]["reason"] == "step"
    frames = (await again.body("stackTrace", {"threadId": thread}))["stackFrames"]
    assert frames[0]["line"] == STEP_LINE
    disconnect = await again.request("disconnect", {"restart": False})
    assert disconnect["success"]  # answered here: a plain disconnect only leaves
    await again.close()
    assert await session.wait_for(lambda: session.clients == 0, 10)

    status, model = await api("GET", f"sessions/{session.id}")
    assert status == 200 and model["state"] == "stopped" and model["clients"] == 0
    status, stack = await api("GET", f"sessions/{session.id}/stack")
    assert status == 200 and stack["frames"][0]["line"] == STEP_LINE

    third = await tunnel(session.id)
    await third.join()
    await third.event("stopped")
    mark = len(third.messages)
    await third.body("continue", {"threadId": thread})
    stop = await third.event("stopped", after=mark)  # the breakpoint, next iteration
    assert stop["body"]["reason"] == "breakpoint"
    status, model = await api("GET", f"sessions/{session.id}")
    assert status == 200 and model["stopped"]["line"] == BREAK_LINE, model
    reply = await third.request("terminate")
    assert reply["success"], reply  # a control client may end the program
    await third.event("terminated")
    assert await session.wait_for(lambda: not session.active, 30)


@pytest.mark.usefixtures("targets")
async def test_upgrade_is_refused_before_any_dap_byte(
        api: Any, manager: Any, jp_ws_fetch: Any, jp_fetch: Any) -> None:
    session = await _stopped_session(api, manager)
    sid = session.id
    path = ("api", "debug", "sessions", sid, "dap")
    refusals = [
        ({"Authorization": ""}, {}),
        ({"Authorization": "token wrong"}, {}),
        ({"Origin": "http://evil.example"}, {}),  # with valid credentials
        ({"Origin": "http://evil.example", "Authorization": ""}, {}),
    ]
    for headers, params in refusals:
        with pytest.raises(HTTPClientError) as refused:
            await jp_ws_fetch(*path, headers=headers, params=params)
        assert refused.value.code == 403, (headers, refused.value)
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch("api", "debug", "sessions", "0123456789ab", "dap",
                          headers={"Origin": "http://evil.example"})
    assert refused.value.code == 403  # a foreign page learns nothing about ids either
    assert session.clients == 0

    with pytest.raises(HTTPClientError) as missing:
        await jp_ws_fetch("api", "debug", "sessions", "0123456789ab", "dap")
    assert missing.value.code == 404
    assert missing.value.response is not None
    error = json.loads(missing.value.response.body)
    assert error["reason"] == "no-such-session" and "0123456789ab" in error["message"]

    with pytest.raises(HTTPClientError) as bad_role:
        await jp_ws_fetch(*path, params={"role": "admin"})
    assert bad_role.value.code == 400

    # A plain GET is told to upgrade or POST.
    response = await jp_fetch(*path, method="GET", raise_error=False)
    assert response.code == 400
    assert json.loads(response.body)["reason"] == "upgrade-required"
    assert session.state == "stopped" and session.clients == 0


@pytest.mark.usefixtures("targets")
async def test_same_origin_browser_page_may_open_the_tunnel(
        api: Any, manager: Any, jp_ws_fetch: Any, jp_http_port: int) -> None:
    session = await _stopped_session(api, manager)
    conn = await jp_ws_fetch("api", "debug", "sessions", session.id, "dap",
                             headers={"Origin": f"http://localhost:{jp_http_port}"})
    client = TunnelClient(conn)
    try:
        assert (await client.body("threads"))["threads"]
    finally:
        await client.close()


@pytest.mark.usefixtures("targets")
async def test_oversized_and_malformed_frames_are_refused_clearly(
        api: Any, manager: Any, tunnel: Tunnel) -> None:
    session = await _stopped_session(api, manager)
    client = await tunnel(session.id)
    reply = await client.request("threads", {"pad": "x" * (MAX_DAP + 10)})
    assert not reply["success"]
    assert f"limit of {MAX_DAP} bytes" in reply["message"]
    assert "max_dap_message" in reply["message"]
    assert (await client.body("threads"))["threads"]  # still connected

    client.conn.write_message("not json")
    code, reason = await asyncio.wait_for(client.closed, 30)
    assert code == 1007 and "not a DAP message" in reason

    huge = await tunnel(session.id)
    huge.send("threads", {"pad": "x" * (MAX_DAP + 2 * 1024 * 1024)})
    code, _reason = await asyncio.wait_for(huge.closed, 30)
    assert code == 1009

    binary = await tunnel(session.id)
    binary.conn.write_message(b"\x00\x01", binary=True)
    code, reason = await asyncio.wait_for(binary.closed, 30)
    assert code == 1003 and "text frame" in reason
    assert await session.wait_for(lambda: session.clients == 0, 10)
    assert session.state == "stopped"


class TestAuthorizerDecides:
    """A deployment's Authorizer that denies `execute` keeps the tunnel shut."""

    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict[str, Any]) -> dict[str, Any]:
        jp_server_config["ServerApp"]["authorizer_class"] = DenyDebugExecute
        return jp_server_config

    @pytest.mark.usefixtures("targets")
    async def test_denied_execute_refuses_the_upgrade(
            self, manager: Any, api: Any, jp_ws_fetch: Any, jp_serverapp: Any) -> None:
        await api("GET", "sessions")  # the extension is ready
        session = await manager.create({"program": LOOP, "stop_on_entry": True}, "someone")
        try:
            assert await session.wait_for(lambda: session.state == "stopped", 30)
            for session_id, role in ((session.id, "observe"), ("0123456789ab", "control")):
                jp_serverapp.authorizer.calls.clear()
                with pytest.raises(HTTPClientError) as refused:
                    await jp_ws_fetch("api", "debug", "sessions", session_id, "dap",
                                      params={"role": role})
                assert refused.value.code == 403
                assert jp_serverapp.authorizer.calls == [("GET", "execute", "debug")]
            assert session.clients == 0 and session.state == "stopped"
        finally:
            await manager.terminate(session.id, "someone")


@pytest.mark.usefixtures("targets")
async def test_tunnel_steps_cost_the_debugger_no_request_of_the_session(
        api: Any, manager: Any, tunnel: Tunnel) -> None:
    """A stop's location is learnt from the tunnel client's own stackTrace, or fetched when
    a route needs it: the session asks nothing that would queue ahead of the next step.
    (With the stop history off: a snapshot does ask, in batches it stops sending once a
    client resumes, tests/runner/test_snapshots.py.)"""
    session = await _stopped_session(api, manager, snapshots=False)
    thread = session.stopped["thread_id"]
    client = await tunnel(session.id)
    await client.join()
    await client.event("stopped")
    asked: list[str] = []
    channel = session.channel
    real_send = channel.send_request

    def counting(command: str, arguments: Any, on_response: Any) -> int:
        asked.append(command)
        return real_send(command, arguments, on_response)

    channel.send_request = counting  # a spy: every request still reaches the debugger
    try:
        mark = len(client.messages)
        await client.body("next", {"threadId": thread})
        await client.event("stopped", after=mark)
        frames = (await client.body("stackTrace", {"threadId": thread}))["stackFrames"]
        assert frames[0]["line"] == STEP_LINE
        status, model = await api("GET", f"sessions/{session.id}")
        assert status == 200 and model["stopped"]["line"] == STEP_LINE, model
        assert asked == ["next", "stackTrace"]  # the client's two, nothing of ours

        mark = len(client.messages)
        await client.body("next", {"threadId": thread})
        await client.event("stopped", after=mark)
        assert asked == ["next", "stackTrace", "next"]
        status, model = await api("GET", f"sessions/{session.id}")  # nobody asked: we do
        assert status == 200 and model["stopped"]["line"] == BREAK_LINE, model
        assert asked == ["next", "stackTrace", "next", "stackTrace"]
    finally:
        channel.send_request = real_send  # type: ignore[method-assign]
        await client.close()


@pytest.mark.usefixtures("targets")
async def test_a_client_that_stops_reading_is_cut_off_and_the_session_runs_on(
        api: Any, manager: Any, jp_serverapp: Any, jp_http_port: int,
        jp_base_url: str) -> None:
    """Bounded memory per client: a tunnel client that reads nothing while 48 MiB of output
    are broadcast is closed with 1008; the session is not held back and ends normally."""
    status, model = await api("POST", "sessions", {
        "program": "targets/flood.py", "args": [str(48 * 1024 * 1024)],
        "stop_on_entry": True})
    assert status == 201 and model["state"] == "stopped", model
    session = manager.get(model["id"])
    url = (f"ws://127.0.0.1:{jp_http_port}{jp_base_url.rstrip('/')}"
           f"/api/debug/sessions/{session.id}/dap")
    token = jp_serverapp.identity_provider.token

    def join() -> Any:
        # A small receive buffer, so the server's side fills soon after we stop reading.
        conn = websocket.create_connection(
            url, timeout=30, header=[f"Authorization: token {token}"],
            sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])
        for seq, command in enumerate(("initialize", "attach", "configurationDone"), 1):
            conn.send(json.dumps({"type": "request", "seq": seq, "command": command,
                                  "arguments": {"adapterID": "t"} if seq == 1 else {}}))
            while True:
                message = json.loads(conn.recv())
                if message.get("type") == "response" and message["request_seq"] == seq:
                    break
        return conn

    conn = await asyncio.to_thread(join)
    try:
        assert session.clients == 1
        # The program floods its stdout; this client reads nothing meanwhile.
        status, ended = await api("POST", f"sessions/{session.id}/continue", {})
        assert status == 200, ended
        assert await session.wait_for(lambda: not session.active, 90), session.state
        assert session.state == "exited" and session.exit_code == 0
        assert session.clients == 0  # the server let go of the slow client

        def close_code() -> int | None:
            try:
                while True:  # what was sent before the cut-off, then the close frame
                    frame = conn.recv_data_frame(control_frame=True)[1]
                    if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
                        return int.from_bytes(frame.data[:2], "big")
            except websocket.WebSocketConnectionClosedException:
                return None  # the close frame sat behind unread data when tornado gave up

        # Closed by the server: with 1008, or dropped once its close timed out.
        assert await asyncio.to_thread(close_code) in (1008, None)
    finally:
        conn.close(timeout=5)
    status, page = await api("GET", f"sessions/{session.id}/output", limit=1)
    assert status == 200 and page["items"]  # output was kept for the REST routes
