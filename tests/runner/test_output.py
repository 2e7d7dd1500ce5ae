"""50 MiB of output arrive complete, and a slow store throttles the worker, not memory."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.runner import output

pytestmark = pytest.mark.timeout(240)
TOTAL = 50 * 1024 * 1024
LINE = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!@#\n"


async def test_slow_store_pauses_the_worker_and_nothing_is_lost(
        api: Any, manager: Any, targets: Path) -> None:
    await api("GET", "debuggers")  # the extension has started: its store exists
    store = manager.store
    original = store.append_output
    gate = asyncio.Event()

    async def slow_append(session_id: str, chunks: Any) -> int:
        await gate.wait()  # the disk is stuck until the test says so
        return int(await original(session_id, chunks))

    store.append_output = slow_append
    try:
        status, model = await api("POST", "sessions", {"program": "targets/flood.py",
                                                       "args": [str(TOTAL)]})
        assert status == 201
        session = manager.get(model["id"])
        throttled = asyncio.Event()
        pressure = session.output.pressure

        def watch(high: bool) -> None:
            if high:
                throttled.set()
            pressure(high)

        session.output.pressure = watch
        if not session.output._throttled:
            await asyncio.wait_for(throttled.wait(), 60)
        # The server stopped reading the worker, so what waits in memory is bounded by the
        # high-water mark plus what was already in flight.
        assert not session.channel._writer.transport.is_reading()
        assert session.output.pending_chars < output.PENDING_HIGH + 2 * 1024 * 1024
        assert session.active  # the target is blocked on its pipe, not finished
    finally:
        gate.set()
        store.append_output = original
    assert await session.wait_for(lambda: session.state == "exited", 180), session.error
    received = 0
    since = 0
    while True:
        status, page = await api("GET", f"sessions/{model['id']}/output", since=since,
                                 limit=1000)
        if not page["items"]:
            break
        for item in page["items"]:
            if item["category"] == "stdout":
                text = item["output"]
                assert text == (LINE * (len(text) // len(LINE) + 2))[
                    received % len(LINE): received % len(LINE) + len(text)]
                received += len(text)
        since = page["next"]
    assert received == TOTAL
