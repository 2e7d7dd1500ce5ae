"""Lifecycle actions are emitted through jupyter_events with the versioned schema."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.app import EVENT_SCHEMA_ID

pytestmark = pytest.mark.timeout(60)


async def test_create_and_terminate_are_emitted(jp_serverapp: Any, api: Any,
                                                targets: Path) -> None:
    seen: list[dict[str, Any]] = []
    terminated = asyncio.Event()

    async def listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        seen.append(data)
        if data["action"] == "terminate":
            terminated.set()

    jp_serverapp.event_logger.add_listener(schema_id=EVENT_SCHEMA_ID, listener=listener)
    status, model = await api("POST", "sessions", {"program": "targets/loop.py",
                                                   "stop_on_entry": True})
    assert status == 201
    status, _ = await api("DELETE", f"sessions/{model['id']}")
    assert status == 200
    await asyncio.wait_for(terminated.wait(), 10)  # listeners run as tasks
    actions = [(d["action"], d["session_id"]) for d in seen]
    assert actions == [("create", model["id"]), ("terminate", model["id"])]
    assert seen[0]["debugger"] == "debugpy"
