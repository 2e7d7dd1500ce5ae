"""Every route needs Jupyter authentication and passes the Jupyter authorizer.

Requests are built by hand (pytest-jupyter's jp_fetch always adds the token). Authorization
comes before any "does this session exist" answer and before a WebSocket upgrade.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth import Authorizer
from tornado import web
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClientConnection

from jupyter_debug_server.api import ROUTES

from ..support.jp_server import (
    BODIES,
    LOOP,
    UNKNOWN_ID,
    AsyncDenyDebugExecute,
    DenyDebugExecute,
    Server,
)

pytestmark = pytest.mark.timeout(90)

METHODS = ("GET", "POST", "PUT", "DELETE")


def _methods(handler: type) -> list[str]:
    """The HTTP methods a handler class implements itself."""
    return [m for m in METHODS
            if getattr(handler, m.lower()) is not getattr(web.RequestHandler, m.lower())]


CASES = [(pattern, handler, method) for pattern, handler in ROUTES
         for method in _methods(handler)]


def test_route_table_is_covered() -> None:
    """Every route implements at least one method, and all of them are in CASES."""
    assert ROUTES
    for pattern, handler in ROUTES:
        assert _methods(handler), pattern
    assert len(CASES) >= len(ROUTES)
    assert tuple(m for p, _h, m in CASES if p == "/api/debug/sessions") == ("GET", "POST")


def _fill(pattern: str, session_id: str) -> str:
    """The route's path with every parameter filled in."""
    def value(match: re.Match[str]) -> str:
        return session_id if match.group(1) == "session_id" else "nonexistent0"
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", value, pattern)
    assert "(" not in path and "[" not in path, path
    return path


async def _launch_stopped(api: Any, manager: Any) -> dict[str, Any]:
    status, model = await api("POST", "sessions", {"program": LOOP, "stop_on_entry": True})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 30), (
        session.state, session.error)
    return session.model()


async def _delete(api: Any, session_id: str) -> None:
    status, model = await api("DELETE", f"sessions/{session_id}")
    assert status == 200 and model["state"] in ("terminated", "exited"), model


BAD_CREDENTIALS: list[tuple[str, dict[str, str], str]] = [
    ("none", {}, ""),
    ("wrong-token-header", {"Authorization": "token not-the-token"}, ""),
    ("wrong-token-query", {}, "token=not-the-token"),
    ("wrong-scheme", {"Authorization": "Bearer not-the-token"}, ""),
    # Shaped like a session token (the jds_ prefix), but no token was ever issued.
    ("bogus-session-token", {"Authorization": "Bearer jds_" + "A" * 43}, ""),
    ("bogus-session-token-query", {}, "token=jds_" + "A" * 43),
]


@pytest.mark.usefixtures("targets")
@pytest.mark.parametrize("case", CASES,
                         ids=[f"{m} {p.replace('(?P<session_id>[^/]+)', '{id}')}"
                              for p, _h, m in CASES])
async def test_route_refuses_requests_without_valid_credentials(
        api: Any, manager: Any, server: Server, case: tuple[str, type, str]) -> None:
    pattern, _handler, method = case
    model = await _launch_stopped(api, manager)
    sid = model["id"]
    try:
        for session_id in (sid, UNKNOWN_ID):
            path = _fill(pattern, session_id)
            for label, headers, query in BAD_CREDENTIALS:
                status, body = await server.fetch(method, path, headers, query)
                assert status == 403, (label, method, path, status, body)
                assert sid not in json.dumps(body), body

        # The request reached a real route: with the token, an unknown id is a 404 and the
        # collection routes answer (so the 403s above were the authentication's doing).
        path = _fill(pattern, UNKNOWN_ID)
        if method in ("POST", "PUT") and "session_id" not in pattern:
            status, _ = await server.fetch(method, path, server.token_header, body=b"{}")
        else:
            status, _ = await server.fetch(method, path, server.token_header)
        if "session_id" in pattern:
            assert status == 404, (method, path, status)
        else:
            assert status in (200, 400), (method, path, status)

        # None of the refused requests did anything: the session is as it was.
        session = manager.get(sid)
        assert session.state == "stopped" and session.stopped == model["stopped"]
        assert session.breakpoints == {} and session.clients == 0
        assert await manager.tokens.list_tokens(sid) == []
        _status, listed = await api("GET", "sessions")
        assert [s["id"] for s in listed] == [sid]
    finally:
        await _delete(api, sid)


async def test_events_websocket_needs_credentials(
        api: Any, manager: Any, server: Server, targets: Path) -> None:
    model = await _launch_stopped(api, manager)
    sid = model["id"]
    try:
        for session_id in (sid, UNKNOWN_ID):
            path = f"api/debug/sessions/{session_id}/events"
            for label, headers, query in BAD_CREDENTIALS:
                with pytest.raises(HTTPClientError) as refused:
                    await server.ws(path, headers, query)
                assert refused.value.code == 403, (label, session_id, refused.value)
        with pytest.raises(HTTPClientError) as missing:
            await server.ws(f"api/debug/sessions/{UNKNOWN_ID}/events", server.token_header)
        assert missing.value.code == 404
        assert manager.get(sid).clients == 0
    finally:
        await _delete(api, sid)


async def _next_message(conn: WebSocketClientConnection) -> dict[str, Any]:
    raw = await asyncio.wait_for(conn.read_message(), 30)
    assert raw is not None, "the server closed the event stream"
    message = json.loads(raw)
    assert isinstance(message, dict) and "type" in message, message
    return message


@pytest.mark.usefixtures("targets")
@pytest.mark.parametrize("credential", ["header", "query"])
async def test_events_websocket_streams_state_changes(
        api: Any, manager: Any, server: Server, credential: str) -> None:
    model = await _launch_stopped(api, manager)
    sid = model["id"]
    entry = model["stopped"]
    try:
        path = f"api/debug/sessions/{sid}/events"
        if credential == "header":
            conn = await server.ws(path, server.token_header)
        else:
            conn = await server.ws(path, query=f"token={server.token}")
        try:
            first = await _next_message(conn)
            assert first["type"] == "state", first
            assert first["session"]["id"] == sid
            assert first["session"]["state"] == "stopped"
            assert first["session"]["stopped"] == entry
            assert first["session"]["clients"] == 1

            status, stepped = await api("POST", f"sessions/{sid}/step", {"kind": "over"})
            assert status == 200 and stepped["completed"], stepped
            assert stepped["stopped"]["line"] != entry["line"]

            seen = []
            for _ in range(100):
                message = await _next_message(conn)
                seen.append(message)
                if (message["type"] == "state" and message["session"]["state"] == "stopped"
                        and message["session"]["stopped"]["line"] != entry["line"]):
                    break
            else:
                pytest.fail(f"no stopped state with a new line among {seen}")
            assert message["session"]["stopped"] == stepped["stopped"]
            assert message["session"]["id"] == sid
        finally:
            conn.close()
    finally:
        await _delete(api, sid)


# -- a custom authorizer (tests/support/jp_server.py) -------------------------------

READ_ROUTES = [("GET", "stack"), ("GET", "variables"), ("GET", "output"),
               ("GET", "breakpoints"), ("GET", "")]
EXECUTE_ROUTES = [("POST", "step"), ("POST", "continue"), ("POST", "pause"),
                  ("POST", "evaluate"), ("POST", "dap"), ("PUT", "breakpoints"),
                  ("DELETE", "")]


@pytest.mark.parametrize("authorizer", [DenyDebugExecute, AsyncDenyDebugExecute],
                         ids=["sync", "async"])
class TestAuthorizer:
    """A deployment's Authorizer decides; 'execute' covers launching and every control."""

    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict[str, Any],
                         authorizer: type[Authorizer]) -> dict[str, Any]:
        jp_server_config["ServerApp"]["authorizer_class"] = authorizer
        return jp_server_config

    @pytest.mark.usefixtures("targets")
    async def test_execute_is_denied_and_read_is_allowed(
            self, api: Any, manager: Any, server: Server, jp_serverapp: Any,
            authorizer: type[Authorizer]) -> None:
        auth = jp_serverapp.authorizer
        assert type(auth) is authorizer

        status, reply = await api("POST", "sessions", {"program": LOOP, "stop_on_entry": True})
        assert status == 403, reply
        assert ("POST", "execute", "debug") in auth.calls
        status, listed = await api("GET", "sessions")
        assert status == 200 and listed == [], listed
        assert manager.sessions == {}
        status, debuggers = await api("GET", "debuggers")
        assert status == 200 and {d["name"] for d in debuggers} >= {"debugpy"}
        # The process list is for attaching (and shows command lines): `execute`.
        auth.calls.clear()
        status, reply = await api("GET", "processes")
        assert status == 403 and auth.calls == [("GET", "execute", "debug")], reply
        # So is the stream of every session, refused before the upgrade.
        auth.calls.clear()
        with pytest.raises(HTTPClientError) as refused:
            await server.ws("api/debug/events", server.token_header)
        assert refused.value.code == 403 and auth.calls == [("GET", "execute", "debug")]

        # A session started past the API: reading it is allowed, driving it is not.
        session = await manager.create({"program": LOOP, "stop_on_entry": True}, "someone")
        sid = session.id
        try:
            assert await session.wait_for(lambda: session.state == "stopped", 30)
            entry = session.stopped
            for method, route in READ_ROUTES:
                status, reply = await api(method, f"sessions/{sid}/{route}".rstrip("/"))
                assert status == 200, (method, route, reply)
            for session_id in (sid, UNKNOWN_ID):
                for method, route in EXECUTE_ROUTES:
                    path = f"sessions/{session_id}/{route}".rstrip("/")
                    auth.calls.clear()
                    status, reply = await api(method, path, BODIES.get(route))
                    assert status == 403, (method, path, reply)
                    assert auth.calls == [(method, "execute", "debug")], auth.calls
                # The event stream is refused before the upgrade, even for a real session.
                auth.calls.clear()
                with pytest.raises(HTTPClientError) as refused:
                    await server.ws(f"api/debug/sessions/{session_id}/events",
                                    server.token_header)
                assert refused.value.code == 403, refused.value
                assert auth.calls == [("GET", "execute", "debug")], auth.calls
            assert session.state == "stopped" and session.stopped == entry
            assert session.breakpoints == {} and session.clients == 0
        finally:
            await manager.terminate(sid, "someone")
        assert session.state == "terminated"


async def _raw_head(server: Server, path: str, *headers: str) -> bytes:
    """A keep-alive GET by hand: the answer's head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        lines = [f"GET {server.url(path).split(str(server.port), 1)[1]} HTTP/1.1",
                 f"Host: 127.0.0.1:{server.port}", "Connection: keep-alive", *headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    finally:
        writer.close()


async def test_a_refusal_that_drops_the_connection_says_so(
        server: Server, http_server_client: Any) -> None:
    """tornado drops the connection after an answer given before the request was read to
    its end (our auth refusals, in `prepare`, and refused WebSocket upgrades). A keep-alive
    client must be told, or a pooling proxy (JupyterHub's configurable-http-proxy) sends
    the next request, maybe another user's, into the dropped connection (tests/hub/)."""
    upgrade = ("Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")
    for path, headers in (
            ("api/debug/sessions", ()),
            (f"api/debug/sessions/{UNKNOWN_ID}", ("Authorization: Bearer jds_unknown",)),
            (f"api/debug/sessions/{UNKNOWN_ID}/dap", upgrade),
            (f"api/debug/sessions/{UNKNOWN_ID}/dap",
             (*upgrade, "Authorization: Bearer jds_unknown"))):
        head = await _raw_head(server, path, *headers)
        assert head.startswith(b"HTTP/1.1 403"), head
        assert b"\r\nConnection: close\r\n" in head, (path, head)
