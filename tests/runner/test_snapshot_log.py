"""The stop history's writes: a stop's snapshot goes to the store at once, a burst of
stops (a program stepped as fast as it goes) in one write, and a reader sees them all."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import pytest

from jupyter_debug_server.runner import snapshot_log
from jupyter_debug_server.runner.launch_spec import LaunchSpec
from jupyter_debug_server.runner.snapshot_log import SnapshotLog
from jupyter_debug_server.runner.state import SessionState
from jupyter_debug_server.store import Store

pytestmark = pytest.mark.timeout(60)


def _snapshot(seq: int) -> dict[str, Any]:
    return {"seq": seq, "time": f"2026-01-01T00:00:{seq:02d}.000000Z", "thread_id": 1,
            "reason": "step", "frames": [], "variables": [], "watches": [],
            "complete": False, "truncated": False}


def test_a_burst_of_stops_is_written_once_and_read_whole(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        async with await Store.open(tmp_path / "db.sqlite") as store:
            await store.create_session({"id": "s1", "state": "running"})
            writes: list[list[int]] = []
            wrote = asyncio.Event()
            append = store.append_snapshots

            async def counted(session_id: str, snapshots: Any) -> None:
                writes.append([s["seq"] for s in snapshots])
                await append(session_id, snapshots)
                wrote.set()

            store.append_snapshots = counted  # type: ignore[method-assign]
            state = SessionState("s1", LaunchSpec("debugpy", program="p.py"), "owner",
                                 store=store, base_url="/")
            published: list[int] = []
            state.subscribe(lambda event: published.append(event["snapshot"]["seq"]))
            log = SnapshotLog(state, store, retention=0)
            log.add(_snapshot(log.next_seq()))
            # The first stop is written at once: well before the interval has passed.
            await asyncio.wait_for(wrote.wait(), snapshot_log.WRITE_INTERVAL / 2)
            wrote.clear()
            for _ in range(3):
                log.add(_snapshot(log.next_seq()))
            assert published == [1, 2, 3, 4]  # live subscribers get each at once
            page = await log.read(0, 10)  # a reader has what waits written first
            assert [s["seq"] for s in page["items"]] == [1, 2, 3, 4]
            assert writes == [[1], [2, 3, 4]]  # the burst in one write
            wrote.clear()
            log.add(_snapshot(log.next_seq()))
            log.add(_snapshot(log.next_seq()))
            await asyncio.wait_for(wrote.wait(), 10)  # written without a reader
            assert writes == [[1], [2, 3, 4], [5, 6]]
            assert await store.snapshot_range("s1") == (1, 6)

    asyncio.run(main())
