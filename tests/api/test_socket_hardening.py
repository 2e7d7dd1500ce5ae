"""Hostile input on the session WebSockets of a real server with a real debugpy session.

Every connection presents its credential as `?token=…`, so a log line that printed the
request would carry it: the server's log is checked for the Jupyter token, the session
tokens and tracebacks after each case. After each, a fresh client still gets `threads`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websocket  # websocket-client: a blocking client whose reads we control
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_debug_server.dap import mux
from jupyter_debug_server.runner.session import Session
from jupyter_debug_server.websocket import connection

from ..support.jp_server import Server, issue, launch_stopped
from ..support.ws_dap import TunnelClient
from ..support.ws_frames import CLOSE, TEXT, encode_frame, mask, parse_head

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("targets")]
with warnings.catch_warnings():  # conftest's gate reads this marker; nobody registered it
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    _ALLOW_ERROR_LOGS = pytest.mark.allow_error_logs


class _Everything(logging.Handler):
    """Every record the server logs, formatted with its traceback if any."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def server_log(jp_serverapp: Any) -> Iterator[_Everything]:
    collect = _Everything()
    names = ["", "ServerApp", "tornado.access", "tornado.general", "tornado.application",
             "asyncio", "jupyter_debug_server", jp_serverapp.log.name]
    loggers = {logging.getLogger(n) for n in names} | {jp_serverapp.log}
    saved = {lg: lg.level for lg in loggers}
    for lg in loggers:
        lg.addHandler(collect)
        lg.setLevel(logging.DEBUG)
    yield collect
    for lg, level in saved.items():
        lg.removeHandler(collect)
        lg.setLevel(level)



def _assert_log_clean(log: _Everything, *secrets: str) -> None:
    text = log.text()
    for secret in secrets:
        assert secret not in text, f"a secret is in the server log:\n{text[-3000:]}"
    assert "Traceback" not in text, text[-3000:]


async def _still_answers(server: Server, sid: str) -> None:
    client = TunnelClient(await server.ws(f"api/debug/sessions/{sid}/dap",
                                          query=f"token={server.token}"))
    try:
        assert (await client.body("threads"))["threads"]
    finally:
        await client.close()


def _request(command: str, arguments: Any) -> str:
    return json.dumps({"type": "request", "seq": 1, "command": command,
                       "arguments": arguments})


_DEEP = 5000
# (name, whose token, raw text frame, expected: "error" response | "answer" | close code)
TRIGGERS = [
    ("initialize-array", "observe", _request("initialize", [1]), "error"),
    ("cancel-string", "jupyter", _request("cancel", "x"), "error"),
    ("cancel-unhashable", "control", _request("cancel", {"requestId": []}), "error"),
    ("cancel-float", "jupyter", _request("cancel", {"requestId": 1.5}), "error"),
    # null is no requestId (found by the frame fuzzer: the range check compared None)
    ("cancel-null", "control", _request("cancel", {"requestId": None}), "answer"),
    ("setBreakpoints-shapes", "control",
     _request("setBreakpoints", {"source": [1], "breakpoints": "x"}), "error"),
    ("breakpoint-line", "jupyter",
     _request("setBreakpoints", {"source": {"path": "x.py"}, "breakpoints": [{"line": "1"}]}),
     "error"),
    ("stackTrace-thread", "jupyter", _request("stackTrace", {"threadId": {}}), "error"),
    # A lone surrogate, escaped in the JSON text (valid JSON, not encodable as UTF-8).
    ("surrogate-argument", "jupyter",
     '{"type":"request","seq":1,"command":"evaluate","arguments":{"expression":"\'\\ud800\'"}}',
     "answer"),
    ("surrogate-command", "control",
     '{"type":"request","seq":1,"command":"thr\\ud800eads"}', "answer"),
    ("nested-too-deep", "jupyter",
     '{"type":"request","seq":1,"command":"threads","arguments":{"x":'
     + "[" * _DEEP + "]" * _DEEP + "}}", 1007),
    # Parseable, but deeper than the server's encoder or the debugger may go.
    ("nested-deep", "jupyter",
     '{"type":"request","seq":1,"command":"evaluate","arguments":{"expression":"1","x":'
     + "[" * 900 + "]" * 900 + "}}", "answer"),
    ("seq-too-large", "jupyter",
     '{"type":"request","seq":' + "9" * 40 + ',"command":"threads"}', 1007),
    ("seq-boolean", "jupyter", '{"type":"request","seq":true,"command":"threads"}', 1007),
]


@pytest.mark.parametrize(("name", "who", "frame", "expected"), TRIGGERS,
                         ids=[t[0] for t in TRIGGERS])
async def test_hostile_dap_messages_get_an_answer_and_leak_nothing(
        api: Any, manager: Any, server: Server, server_log: _Everything,
        name: str, who: str, frame: str, expected: Any) -> None:
    sid = await launch_stopped(api, manager)
    observe = await issue(api, sid, "observe")
    control = await issue(api, sid, "control")
    secret = {"observe": observe["secret"], "control": control["secret"],
              "jupyter": server.token}[who]
    client = TunnelClient(await server.ws(f"api/debug/sessions/{sid}/dap",
                                          query=f"token={secret}"))
    try:
        client.conn.write_message(frame)
        if isinstance(expected, int):
            code, reason = await asyncio.wait_for(client.closed, 30)
            assert code == expected, (code, reason)
            assert "DAP message" in reason, reason
        else:
            reply = await client.wait_for(lambda m: m["type"] == "response")
            assert reply["request_seq"] == 1, reply
            if expected == "error":
                assert not reply["success"], reply
                assert len(reply["message"]) > 20, reply  # a sentence naming the value
            assert (await client.body("threads"))["threads"]  # still connected
    finally:
        await client.close()
    await _still_answers(server, sid)
    _assert_log_clean(server_log, server.token, observe["secret"], control["secret"])
    assert manager.get(sid).state == "stopped"


async def test_a_bad_argument_names_the_value(api: Any, manager: Any, server: Server) -> None:
    sid = await launch_stopped(api, manager)
    client = TunnelClient(await server.ws(f"api/debug/sessions/{sid}/dap",
                                          query=f"token={server.token}"))
    try:
        reply = await client.request("cancel", {"requestId": []})
        assert reply["message"] == ("cancel: argument 'requestId' must be an integer, not an "
                                    "array ([])"), reply
        reply = await client.request("initialize", [1])
        assert reply["message"] == ("the arguments of 'initialize' must be a JSON object, not "
                                    "an array ([1])"), reply
    finally:
        await client.close()


# -- frames that break RFC 6455 ------------------------------------------------------------

def _masked(opcode: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    return bytes((0x80 | opcode, 0x80 | len(payload))) + key + mask(payload, key)


VIOLATIONS = {
    "unmasked": (bytes((0x80 | TEXT, 2)) + b"{}", 1002),
    "close-reason-not-utf8": (_masked(CLOSE, (1000).to_bytes(2, "big") + b"\xff\xfe"), 1007),
    "close-one-byte": (_masked(CLOSE, b"\x03"), 1002),
    "close-code-reserved": (_masked(CLOSE, (1005).to_bytes(2, "big")), 1002),
    "text-not-utf8": (_masked(TEXT, b"\xc3\x28"), 1007),
}


async def _close_code_after(server: Server, path: str, frame: bytes) -> int | None:
    """Upgrade by hand (`?token=`), send `frame`, return the close code the server sends."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        target = server.url(path, query=f"token={server.token}").split(str(server.port), 1)[1]
        writer.write((f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert head.startswith(b"HTTP/1.1 101"), head
        writer.write(frame)
        data = b""
        while True:  # frames the server sent (the events socket's first state), then close
            frame_head = parse_head(data)
            if frame_head is not None and len(data) >= frame_head.start + frame_head.length:
                payload = data[frame_head.start:frame_head.start + frame_head.length]
                if frame_head.opcode == CLOSE:
                    return int.from_bytes(payload[:2], "big") if payload else None
                data = data[frame_head.start + frame_head.length:]
                continue
            more = await asyncio.wait_for(reader.read(65536), 30)
            if not more:
                return None
            data += more
    finally:
        writer.close()


@pytest.mark.parametrize("take_over", [True, False], ids=["own-socket", "tornado-stream"])
@pytest.mark.parametrize("socket_name", ["dap", "events"])
async def test_frames_that_break_rfc6455_are_closed_with_their_code(
        api: Any, manager: Any, server: Server, server_log: _Everything,
        monkeypatch: pytest.MonkeyPatch, take_over: bool, socket_name: str) -> None:
    monkeypatch.setattr(connection, "TAKE_OVER", take_over)
    sid = await launch_stopped(api, manager)
    violations = dict(VIOLATIONS)
    if socket_name == "events":  # its clients only listen: a large frame is refused
        violations["frame-too-large"] = (encode_frame(TEXT, b"x" * 70_000, os.urandom(4)),
                                         1009)
    for name, (frame, code) in violations.items():
        got = await _close_code_after(server, f"api/debug/sessions/{sid}/{socket_name}", frame)
        assert got == code, (name, got)
    session = manager.get(sid)
    await _eventually(lambda: session.clients == 0)
    await _still_answers(server, sid)
    _assert_log_clean(server_log, server.token)


@pytest.mark.parametrize("take_over", [True, False], ids=["own-socket", "tornado-stream"])
async def test_a_failed_connection_reads_on_until_the_client_closes(
        api: Any, manager: Any, server: Server, monkeypatch: pytest.MonkeyPatch,
        take_over: bool) -> None:
    # After a failure's close frame the server half-closes and discards what the client
    # still sends: a full close with unread bytes resets the connection (RST), and a
    # client then loses the close frame it was owed (seen as ConnectionResetError).
    monkeypatch.setattr(connection, "TAKE_OVER", take_over)
    sid = await launch_stopped(api, manager)
    loop = asyncio.get_running_loop()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.setblocking(False)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        path = f"api/debug/sessions/{sid}/dap"
        target = server.url(path, query=f"token={server.token}").split(str(server.port), 1)[1]
        await loop.sock_sendall(sock, (
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n").encode())
        await loop.sock_sendall(sock, VIOLATIONS["unmasked"][0])
        received = b""
        while True:  # the handshake's answer, the close frame, then our end of the stream
            more = await asyncio.wait_for(loop.sock_recv(sock, 65536), 30)
            if not more:
                break
            received += more
        head = parse_head(received.split(b"\r\n\r\n", 1)[1])
        assert head is not None and head.opcode == CLOSE, received
        # The server reads on: what we send now is discarded, not answered with a reset.
        await loop.sock_sendall(sock, os.urandom(256 * 1024))
        sock.shutdown(socket.SHUT_WR)
        assert await asyncio.wait_for(loop.sock_recv(sock, 65536), 30) == b""
    finally:
        sock.close()
    await _still_answers(server, sid)


# -- limits and origins --------------------------------------------------------------------

async def test_connections_per_token_and_per_user_are_capped_before_the_upgrade(
        api: Any, manager: Any, server: Server, jp_serverapp: Any) -> None:
    app = jp_serverapp.web_app.settings["debug_app"]
    app.max_connections_per_token = 2
    app.max_connections_per_user = 3
    sid = await launch_stopped(api, manager)
    token = (await issue(api, sid, "control"))["secret"]
    dap, events = f"api/debug/sessions/{sid}/dap", f"api/debug/sessions/{sid}/events"
    # Tunnels and event streams count together.
    first = await server.ws(dap, query=f"token={token}")
    second = await server.ws(events, query=f"token={token}")
    with pytest.raises(HTTPClientError) as refused:
        await server.ws(dap, query=f"token={token}")
    assert refused.value.code == 429
    assert refused.value.response is not None
    error = json.loads(refused.value.response.body)
    assert error["reason"] == "too-many-connections"
    assert "c.DebugServerApp.max_connections_per_token = 2" in error["message"], error
    # Closing one frees its place (once the server has seen the close).
    second.close()
    session = manager.get(sid)
    await _eventually(lambda: session.clients == 1)
    third = await server.ws(events, query=f"token={token}")

    # Jupyter users: counted by user, whatever the session.
    mine = [await server.ws(dap, query=f"token={server.token}") for _ in range(3)]
    with pytest.raises(HTTPClientError) as refused:
        await server.ws(events, query=f"token={server.token}")
    assert refused.value.code == 429
    assert refused.value.response is not None
    assert "max_connections_per_user = 3" in json.loads(refused.value.response.body)["message"]
    for conn in (first, third, *mine):
        conn.close()


async def _eventually(condition: Callable[[], bool], within: float = 10) -> None:
    """Wait for a server-side count to change (no event announces it), with a deadline."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("socket_name", ["dap", "events"])
async def test_a_foreign_origin_is_refused_on_both_sockets(
        api: Any, manager: Any, server: Server, jp_http_port: int, socket_name: str) -> None:
    sid = await launch_stopped(api, manager)
    path = f"api/debug/sessions/{sid}/{socket_name}"
    for query in (f"token={server.token}", f"token={(await issue(api, sid))['secret']}"):
        request = HTTPRequest(server.url(path, "ws", query), request_timeout=30,
                              headers={"Origin": "http://evil.example"})
        with pytest.raises(HTTPClientError) as refused:
            await websocket_connect(request)
        assert refused.value.code == 403
        assert refused.value.response is not None
        error = json.loads(refused.value.response.body)
        assert error["reason"] == "foreign-origin", error
        assert "'http://evil.example'" in error["message"], error
    # The server's own pages may.
    same = HTTPRequest(server.url(path, "ws", f"token={server.token}"), request_timeout=30,
                       headers={"Origin": f"http://127.0.0.1:{jp_http_port}"})
    conn = await websocket_connect(same)
    conn.close()


async def test_a_client_that_stops_reading_is_cut_off_at_max_client_backlog(
        api: Any, manager: Any, server: Server, server_log: _Everything,
        jp_serverapp: Any) -> None:
    """8 MiB of output to a tunnel and an event stream that read nothing: with
    max_client_backlog at 256 KiB both are closed (before: 32 MiB per tunnel)."""
    jp_serverapp.web_app.settings["debug_app"].max_client_backlog = 256 * 1024
    status, model = await api("POST", "sessions", {
        "program": "targets/flood.py", "args": [str(8 * 1024 * 1024)], "stop_on_entry": True})
    assert status == 201 and model["state"] == "stopped", model
    session = manager.get(model["id"])

    def connect(kind: str) -> Any:
        # A small receive buffer, so the server's side fills soon after we stop reading.
        conn = websocket.create_connection(
            server.url(f"api/debug/sessions/{session.id}/{kind}", "ws",
                       f"token={server.token}"), timeout=30,
            sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])
        if kind == "dap":
            for seq, command in enumerate(("initialize", "attach", "configurationDone"), 1):
                conn.send(json.dumps({"type": "request", "seq": seq, "command": command,
                                      "arguments": {"adapterID": "t"} if seq == 1 else {}}))
                while True:
                    message = json.loads(conn.recv())
                    if message.get("type") == "response" and message["request_seq"] == seq:
                        break
        return conn

    tunnel = await asyncio.to_thread(connect, "dap")
    events = await asyncio.to_thread(connect, "events")
    try:
        await _eventually(lambda: session.clients == 2)
        status, ended = await api("POST", f"sessions/{session.id}/continue", {})
        assert status == 200, ended
        assert await session.wait_for(lambda: not session.active, 90), session.state
        assert session.state == "exited" and session.exit_code == 0
        await _eventually(lambda: session.clients == 0)  # the server let go of both
        text = server_log.text()
        for what in ("Closing DAP tunnel", "Closing the event stream"):
            assert any(what in line and "(c.DebugServerApp.max_client_backlog)" in line
                       for line in server_log.lines), f"{what}: {text[-2000:]}"
    finally:
        tunnel.close(timeout=5)
        events.close(timeout=5)
    _assert_log_clean(server_log, server.token)


@_ALLOW_ERROR_LOGS  # the injected bug is logged at ERROR, as a bug must be
async def test_a_bug_of_ours_closes_with_1011_and_is_logged_redacted(
        api: Any, manager: Any, server: Server, server_log: _Everything,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sid = await launch_stopped(api, manager)
    control = await issue(api, sid, "control")

    def bug(self: Any, message: Any) -> None:  # an injected fault, quoting the secrets
        raise RuntimeError(f"broken by {control['secret']} and {server.token}")

    monkeypatch.setattr(mux.MuxClient, "receive", bug)
    client = TunnelClient(await server.ws(f"api/debug/sessions/{sid}/dap",
                                          query=f"token={control['secret']}"))
    client.send("threads")
    code, reason = await asyncio.wait_for(client.closed, 30)
    assert (code, reason) == (1011, "internal error of the server; see its log")
    monkeypatch.undo()
    await _still_answers(server, sid)
    text = server_log.text()
    # One line, as the REST handlers log a bug (api/redaction.py): the request redacted,
    # the exception's type and redacted message, and where it passed in our code.
    assert "Uncaught exception GET " in text and "token=[secret]" in text, text[-2000:]
    assert "RuntimeError: 'broken by jds_[secret] and [secret]'" in text, text[-2000:]
    assert "(our code: tunnel.py:" in text, text[-2000:]
    assert "Traceback" not in text
    _assert_log_clean(server_log, server.token, control["secret"])


@_ALLOW_ERROR_LOGS  # the injected bug is logged at ERROR, as a bug must be
@pytest.mark.parametrize(("socket_name", "method"), [("dap", "connect"),
                                                     ("events", "subscribe")])
async def test_a_bug_while_a_socket_opens_closes_it_with_1011(
        api: Any, manager: Any, server: Server, server_log: _Everything,
        monkeypatch: pytest.MonkeyPatch, socket_name: str, method: str) -> None:
    sid = await launch_stopped(api, manager)

    def bug(*args: Any, **kwargs: Any) -> None:  # an injected fault, quoting the token
        raise RuntimeError(f"broken by {server.token}")

    monkeypatch.setattr(Session, method, bug)
    conn = await server.ws(f"api/debug/sessions/{sid}/{socket_name}",
                           query=f"token={server.token}")
    while await asyncio.wait_for(conn.read_message(), 30) is not None:
        pass  # (the events socket may send its first state before subscribing)
    assert (conn.close_code, conn.close_reason) == (
        1011, "internal error of the server; see its log")
    monkeypatch.undo()
    session = manager.get(sid)
    await _eventually(lambda: session.clients == 0)
    await _still_answers(server, sid)
    text = server_log.text()
    assert "Uncaught exception GET " in text and "RuntimeError: 'broken by [secret]'" in text
    _assert_log_clean(server_log, server.token)
