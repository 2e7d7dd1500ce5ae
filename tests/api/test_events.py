"""A session's events as the server publishes them: the events WebSocket's `?only=end`
filter (the current state, then only the final one), and lifecycle actions emitted through
jupyter_events with the versioned schema."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_debug_server.app import EVENT_SCHEMA_ID

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("targets")]

LOOP = "targets/loop.py"


async def _frame(conn: Any, timeout: float = 30) -> dict[str, Any] | None:
    raw = await asyncio.wait_for(conn.read_message(), timeout)
    return None if raw is None else dict(json.loads(raw))


async def test_only_end_streams_the_current_then_the_final_state(
        api: Any, manager: Any, jp_ws_fetch: Any) -> None:
    status, model = await api("POST", "sessions", {"program": LOOP, "stop_on_entry": True})
    assert status == 201 and model["state"] == "stopped", model
    sid = model["id"]
    session = manager.get(sid)
    conn = await jp_ws_fetch("api", "debug", "sessions", sid, "events",
                             params={"only": "end"})
    first = await _frame(conn)
    assert first is not None and first["session"]["state"] == "stopped"
    assert session.clients == 1
    for _ in range(2):  # stops and resumes: nothing on this stream
        status, stepped = await api("POST", f"sessions/{sid}/step", {"kind": "over"})
        assert status == 200 and stepped["state"] == "stopped", stepped
    status, ended = await api("DELETE", f"sessions/{sid}")
    assert status == 200 and ended["state"] == "terminated"
    final = await _frame(conn)
    assert final is not None and final["type"] == "state", final
    assert final["session"]["state"] == "terminated"
    conn.close()


async def test_an_unknown_filter_is_refused_naming_it(
        api: Any, manager: Any, jp_ws_fetch: Any) -> None:
    status, model = await api("POST", "sessions", {"program": LOOP, "stop_on_entry": True})
    assert status == 201, model
    try:
        with pytest.raises(HTTPClientError) as refused:
            await jp_ws_fetch("api", "debug", "sessions", model["id"], "events",
                              params={"only": "stops"})
        assert refused.value.code == 400
        body = json.loads(refused.value.response.body)
        assert body["reason"] == "bad-argument" and "only='stops'" in body["message"]
    finally:
        await api("DELETE", f"sessions/{model['id']}")


async def test_create_and_terminate_are_emitted(jp_serverapp: Any, api: Any) -> None:
    seen: list[dict[str, Any]] = []
    terminated = asyncio.Event()

    async def listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        seen.append(data)
        if data["action"] == "terminate":
            terminated.set()

    jp_serverapp.event_logger.add_listener(schema_id=EVENT_SCHEMA_ID, listener=listener)
    status, model = await api("POST", "sessions", {"program": LOOP, "stop_on_entry": True})
    assert status == 201
    status, _ = await api("DELETE", f"sessions/{model['id']}")
    assert status == 200
    await asyncio.wait_for(terminated.wait(), 10)  # listeners run as tasks
    actions = [(d["action"], d["session_id"]) for d in seen]
    assert actions == [("create", model["id"]), ("terminate", model["id"])]
    assert seen[0]["debugger"] == "debugpy"
