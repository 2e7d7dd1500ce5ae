"""The server's session stream, WebSocket /api/debug/events: the list of sessions first,
then every change of any session's model, in order; Jupyter users who may `execute` only
(never a session token), refused before the upgrade; and no subscription left on a
session once nobody listens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from jupyter_server.auth import Authorizer
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClientConnection

from jupyter_debug_server.api.server_events import ServerEventsHandler

from ..support.jp_server import (
    LOOP,
    DenyDebugExecute,
    Server,
    bearer,
    issue,
    launch_stopped,
)
from ..support.openapi import SPEC

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("targets")]

EVENTS = "api/debug/events"
FINAL = ("exited", "terminated", "failed", "lost")


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[asyncio.Queue[None]]:
    """One item each time the server has let go of an events socket (its on_close ran)."""
    queue: asyncio.Queue[None] = asyncio.Queue()
    original = ServerEventsHandler.on_close

    def on_close(self: ServerEventsHandler) -> None:
        original(self)
        queue.put_nowait(None)

    monkeypatch.setattr(ServerEventsHandler, "on_close", on_close)
    yield queue


async def _frame(conn: WebSocketClientConnection) -> dict[str, Any]:
    raw = await asyncio.wait_for(conn.read_message(), 30)
    assert raw is not None, (conn.close_code, conn.close_reason)
    assert isinstance(raw, str) and raw.isascii(), raw
    frame = json.loads(raw)
    jsonschema.validate(frame, {"$ref": "#/components/schemas/ServerEvent",
                                "components": SPEC["components"]},
                        cls=jsonschema.Draft202012Validator)
    return dict(frame)


async def _models_until_end(conn: WebSocketClientConnection,
                            sid: str) -> list[dict[str, Any]]:
    """The models of session `sid` the stream sends, up to its final one."""
    models = []
    while not models or models[-1]["state"] not in FINAL:
        frame = await _frame(conn)
        assert frame["type"] == "session" and set(frame) == {"type", "session"}, frame
        if frame["session"]["id"] == sid:
            models.append(frame["session"])
    return models


async def _close(conn: WebSocketClientConnection, closed: asyncio.Queue[None]) -> None:
    conn.close()
    await asyncio.wait_for(closed.get(), 10)


async def test_the_list_first_then_every_change_of_a_launched_session(
        api: Any, manager: Any, jp_ws_fetch: Any, closed: asyncio.Queue[None]) -> None:
    existing = await launch_stopped(api, manager)
    conn = await jp_ws_fetch("api", "debug", "events")
    first = await _frame(conn)
    status, listed = await api("GET", "sessions")
    assert status == 200 and first == {"type": "sessions", "sessions": listed}, first
    assert [model["id"] for model in listed] == [existing]

    sid = await launch_stopped(api, manager, breakpoints=[{"path": LOOP, "line": 13}])
    status, ended = await api("DELETE", f"sessions/{sid}")
    assert status == 200 and ended["state"] == "terminated", ended
    models = await _models_until_end(conn, sid)

    states = [m["state"] for m in models]
    assert states[0] == "starting" and states[-1] == "terminated", states
    stops = [i for i, m in enumerate(models) if m["state"] == "stopped"]
    assert stops, states
    assert models[stops[0]]["stopped"]["line"] == 13, models[stops[0]]
    updated = [m["updated"] for m in models]
    assert updated == sorted(updated), models  # in the order of the changes
    assert models[-1] == ended  # the REST answer's model, links (base_url) and all
    assert all(m["links"] == ended["links"] for m in models)
    assert not manager.get(sid).fields.listeners  # ended: no longer subscribed

    # The session that was there first: subscribed while the stream is open, not after.
    session = manager.get(existing)
    assert session.fields.listeners
    await _close(conn, closed)
    assert not session.fields.listeners
    status, step = await api("POST", f"sessions/{existing}/step", {"kind": "over"})
    assert status == 200 and step["state"] == "stopped", step
    await api("DELETE", f"sessions/{existing}")


async def test_two_streams_both_get_every_change(
        api: Any, manager: Any, jp_ws_fetch: Any, closed: asyncio.Queue[None]) -> None:
    sid = await launch_stopped(api, manager)
    session = manager.get(sid)
    assert not session.fields.listeners  # nobody listens: stepping builds no model
    conns = [await jp_ws_fetch("api", "debug", "events") for _ in range(2)]
    for conn in conns:
        first = await _frame(conn)
        assert [m["id"] for m in first["sessions"]] == [sid], first
    assert len(session.fields.listeners) == 1  # one subscription for all streams

    status, step = await api("POST", f"sessions/{sid}/step", {"kind": "over"})
    assert status == 200 and step["state"] == "stopped", step
    status, ended = await api("DELETE", f"sessions/{sid}")
    assert status == 200, ended
    seen = [await _models_until_end(conn, sid) for conn in conns]
    assert seen[0] == seen[1], seen
    states = [m["state"] for m in seen[0]]
    assert states[0] == "running" and states[-1] == "terminated", states
    assert step["stopped"] in [m["stopped"] for m in seen[0]], seen[0]

    # One stream leaving keeps the other's subscriptions; the last one drops them all.
    again = await launch_stopped(api, manager)
    frame = await _frame(conns[1])
    assert frame["session"]["id"] == again and frame["session"]["state"] == "starting"
    await _close(conns[0], closed)
    assert manager.get(again).fields.listeners
    await _close(conns[1], closed)
    assert not manager.get(again).fields.listeners
    await api("DELETE", f"sessions/{again}")


async def test_a_session_created_while_the_list_is_read_is_not_missed(
        api: Any, manager: Any, jp_ws_fetch: Any, jp_serverapp: Any,
        closed: asyncio.Queue[None], monkeypatch: pytest.MonkeyPatch) -> None:
    # The list is read after the stream subscribed: a session that starts in between
    # comes after the list, from its first state on.
    status, _ = await api("GET", "sessions")  # (the manager is ready)
    assert status == 200
    list_models = manager.list_models
    created: list[str] = []

    async def slow_list(base_url: str) -> list[dict[str, Any]]:
        models = await list_models(base_url)
        created.append(await launch_stopped(api, manager))
        return list(models)

    monkeypatch.setattr(jp_serverapp.web_app.settings["debug_app"].manager, "list_models",
                        slow_list)
    conn = await jp_ws_fetch("api", "debug", "events")
    first = await _frame(conn)
    assert first == {"type": "sessions", "sessions": []}, first
    frame = await _frame(conn)
    assert frame["session"]["id"] == created[0] and frame["session"]["state"] == "starting"
    await api("DELETE", f"sessions/{created[0]}")
    states = [m["state"] for m in await _models_until_end(conn, created[0])]
    assert states[-1] == "terminated", states
    await _close(conn, closed)


async def test_refused_before_the_upgrade(api: Any, manager: Any, server: Server) -> None:
    sid = await launch_stopped(api, manager)
    token = await issue(api, sid, "control")
    try:
        for headers, query in (({}, ""), ({"Authorization": "token nope"}, ""),
                               ({}, "token=nope")):
            with pytest.raises(HTTPClientError) as refused:
                await server.ws(EVENTS, headers, query)
            assert refused.value.code == 403, (headers, query, refused.value)

        # A session token is a credential for its own session's routes only.
        for headers, query in ((bearer(token["secret"]), ""), ({}, f"token={token['secret']}")):
            with pytest.raises(HTTPClientError) as refused:
                await server.ws(EVENTS, headers, query)
            assert refused.value.code == 403
            assert refused.value.response is not None
            body = json.loads(refused.value.response.body)
            assert body["reason"] == "token-refused", body
            assert "session token is not accepted on this route" in body["message"]
            assert token["secret"] not in body["message"]

        with pytest.raises(HTTPClientError) as refused:
            await server.ws(EVENTS, server.token_header, "since=3")
        assert refused.value.code == 400
        assert refused.value.response is not None
        body = json.loads(refused.value.response.body)
        assert body["reason"] == "unknown-argument" and "'since'" in body["message"], body
        assert not manager.get(sid).fields.listeners
    finally:
        await api("DELETE", f"sessions/{sid}")


async def test_what_clients_send_is_ignored(
        api: Any, jp_ws_fetch: Any, closed: asyncio.Queue[None]) -> None:
    conn = await jp_ws_fetch("api", "debug", "events")
    assert (await _frame(conn))["type"] == "sessions"
    await conn.write_message('{"command": "launch"}')
    await conn.write_message(b"\x00\xff", binary=True)
    status, listed = await api("GET", "sessions")
    assert status == 200 and listed == []
    await _close(conn, closed)


class TestAuthorizer:
    """Opening the stream is the `execute` action, asked before the upgrade."""

    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict[str, Any]) -> dict[str, Any]:
        jp_server_config["ServerApp"]["authorizer_class"] = DenyDebugExecute
        return jp_server_config

    async def test_execute_is_needed(self, api: Any, server: Server,
                                     jp_serverapp: Any) -> None:
        auth: Authorizer = jp_serverapp.authorizer
        assert isinstance(auth, DenyDebugExecute)
        status, _ = await api("GET", "sessions")  # (starts the listener; read is allowed)
        assert status == 200
        auth.calls.clear()
        with pytest.raises(HTTPClientError) as refused:
            await server.ws(EVENTS, server.token_header)
        assert refused.value.code == 403
        assert auth.calls == [("GET", "execute", "debug")], auth.calls
