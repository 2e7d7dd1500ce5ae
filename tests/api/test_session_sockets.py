"""The two session sockets (events, DAP tunnel) stand on one base (api/session_ws.py): one
origin policy, the same authentication, the same token watch, one bounded sender."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_debug_server.api import events, server_events, session_ws, tunnel

from ..support.jp_server import Server, issue, launch_stopped

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("targets")]
SOCKETS = ("dap", "events")



async def _refusal(server: Server, path: str, query: str, origin: str) -> dict[str, Any]:
    request = HTTPRequest(server.url(path, "ws", query), request_timeout=30,
                          headers={"Origin": origin})
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(request)
    assert refused.value.code == 403
    assert refused.value.response is not None
    return dict(json.loads(refused.value.response.body))


async def test_one_origin_policy_for_both_sockets(
        api: Any, manager: Any, server: Server, jp_serverapp: Any) -> None:
    sid = await launch_stopped(api, manager)
    secret = (await issue(api, sid))["secret"]
    settings = jp_serverapp.web_app.settings
    words = {}
    for name in SOCKETS:
        path = f"api/debug/sessions/{sid}/{name}"
        # Refused, whatever the credential (a token can leak into a page).
        for query in (f"token={server.token}", f"token={secret}"):
            error = await _refusal(server, path, query, "http://evil.example")
            assert error["reason"] == "foreign-origin", error
            words[name] = error["message"]
        # The origin the server allows (c.ServerApp.allow_origin) opens both.
        settings["allow_origin"] = "http://ide.example"
        try:
            conn = await websocket_connect(HTTPRequest(
                server.url(path, "ws", f"token={secret}"), request_timeout=30,
                headers={"Origin": "http://ide.example"}))
            conn.close()
            error = await _refusal(server, path, f"token={secret}", "http://evil.example")
            assert error["reason"] == "foreign-origin"
        finally:
            settings.pop("allow_origin")
    # The same sentence, each naming its socket.
    assert words["dap"] == words["events"].replace("a session's event stream", "a DAP tunnel")
    assert "'http://evil.example' may not open a DAP tunnel" in words["dap"], words


async def test_both_sockets_close_with_their_token(api: Any, manager: Any,
                                                   server: Server) -> None:
    sid = await launch_stopped(api, manager)
    token = await issue(api, sid)
    conns = [await server.ws(f"api/debug/sessions/{sid}/{name}",
                             query=f"token={token['secret']}") for name in SOCKETS]
    status, _ = await api("DELETE", f"sessions/{sid}/tokens/{token['id']}")
    assert status == 204
    for conn in conns:
        while await asyncio.wait_for(conn.read_message(), 30) is not None:
            pass  # (the events socket's first state)
        assert conn.close_code == 1008, (conn.close_code, conn.close_reason)
        assert conn.close_reason == "the session token was revoked", conn.close_reason


def test_one_base_and_one_bounded_sender() -> None:
    # The server's session stream stands on the base of all sockets, the session
    # sockets on the session one above it.
    shared = (session_ws.DebugSocket, session_ws.SessionSocket)
    for handler in (tunnel.DapTunnel, events.SessionEventsHandler,
                    server_events.ServerEventsHandler):
        base = (session_ws.DebugSocket if handler is server_events.ServerEventsHandler
                else session_ws.SessionSocket)
        assert handler.__mro__[1] is base, handler.__mro__
        for name in ("get", "send_bounded", "send_json", "watch_token", "cut_off",
                     "get_websocket_protocol", "check_origin"):
            if hasattr(base, name):
                owner = next(k for k in handler.__mro__ if name in vars(k))
                assert owner in (*shared, handler), (handler, name, owner)
    # The tunnel no longer borrows the events socket's private limit.
    assert not hasattr(events, "_MAX_UNSENT") and not hasattr(tunnel, "_MAX_UNSENT")
