"""A session's stop history in the store: snapshots numbered, published, persisted in
batches, trimmed to the retention and read back, also for sessions of an earlier run.

Owned by the server's event loop. Held by `Snapshots` (snapshots.py), which takes the
snapshots; the manager reads those of sessions an earlier server ran (`read_stored`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .errors import DebugServerError

if TYPE_CHECKING:
    from ..store import Store
    from .state import SessionState

log = logging.getLogger(__name__)

#: Seconds between two writes of one session's snapshots, at least. A stop is written at
#: once; a program stepped as fast as it goes (a held "step" key, a script) has its
#: snapshots written in batches instead of one transaction per stop, which cost its
#: steps about 0.1 ms each (bench/tunnel_latency.py). Readers write what waits first.
WRITE_INTERVAL = 0.1


class SnapshotNotFound(DebugServerError):
    """No snapshot of this session has this seq."""

    status = 404
    reason = "no-such-snapshot"


class SnapshotLog:
    """The snapshots of one session: numbered from 1, published at once, stored soon."""

    def __init__(self, state: SessionState, store: Store, retention: int) -> None:
        self.state = state  # publishes to the session's subscribers, wakes its waiters
        self.session_id = state.id
        self.store = store
        self.retention = retention  # snapshots kept, the newest (0: all)
        self.last_seq = 0  # the last number handed out (to a stop, finished or not)
        self.finished = 0  # snapshots added (finished) so far
        self._pending: list[dict[str, Any]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None  # the next write, when delayed
        self._written = -WRITE_INTERVAL  # the loop's time of the last write

    def next_seq(self) -> int:
        """The number of the next snapshot."""
        self.last_seq += 1
        return self.last_seq

    def add(self, snapshot: dict[str, Any]) -> None:
        """Publish a finished snapshot and queue it for the store."""
        self._pending.append(snapshot)
        self._schedule()
        self.finished += 1
        self.state.publish({"type": "snapshot", "snapshot": snapshot})
        self.state.notify()  # (wait_for callers may wait for a snapshot)

    def _writing(self) -> bool:
        return self._flushing is not None and not self._flushing.done()

    def _schedule(self) -> None:
        """Write what waits now, or WRITE_INTERVAL after the last write."""
        if self._timer is not None or self._writing():
            return  # (a write is due, or under way: what waits is written after it)
        loop = asyncio.get_running_loop()
        delay = self._written + WRITE_INTERVAL - loop.time()
        if delay > 0:
            self._timer = loop.call_later(delay, self._write_now)
        else:
            self._write_now()

    def _write_now(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending and not self._writing():
            self._flushing = asyncio.ensure_future(self._write())
            self._flushing.add_done_callback(self._after_write)

    def _after_write(self, _task: asyncio.Task[None]) -> None:
        if self._pending:  # (added while it was written)
            self._schedule()

    async def _write(self) -> None:
        batch, self._pending = self._pending, []
        self._written = asyncio.get_running_loop().time()
        try:
            await self.store.append_snapshots(self.session_id, batch)
            if self.retention and batch[-1]["seq"] > self.retention:
                await self.store.trim_snapshots(self.session_id, self.retention)
        except Exception:
            log.exception("session %s: could not store %d snapshots", self.session_id,
                          len(batch))

    async def flush(self) -> None:
        """Wait until every snapshot added so far is in the store."""
        while self._pending or self._writing():
            if not self._writing():
                self._write_now()
            assert self._flushing is not None
            await asyncio.shield(self._flushing)

    async def read(self, since: int, limit: int) -> dict[str, Any]:
        """Snapshots after `since` (a seq), at most `limit`, with the next cursor."""
        await self.flush()
        return await read_stored(self.store, self.session_id, since, limit)

    async def get(self, seq: int) -> dict[str, Any]:
        """Snapshot `seq` (SnapshotNotFound if there is none)."""
        await self.flush()
        return await get_stored(self.store, self.session_id, seq)


async def read_stored(store: Store, session_id: str, since: int,
                      limit: int) -> dict[str, Any]:
    """A page of a session's stored snapshots: `items`, the `next` cursor, and whether
    older ones were deleted (`truncated`, c.DebugServerApp.snapshot_retention)."""
    items, first = await store.read_snapshots(session_id, since, limit)
    return {"items": items, "next": items[-1]["seq"] if items else since,
            "truncated": first > 1}


async def get_stored(store: Store, session_id: str, seq: int) -> dict[str, Any]:
    """One stored snapshot, or SnapshotNotFound saying which ones there are."""
    snapshot = await store.get_snapshot(session_id, seq)
    if snapshot is not None:
        return snapshot
    first, last = await store.snapshot_range(session_id)
    if not last:
        there = "it has no snapshots (yet)"
    elif first > 1:
        there = (f"it keeps snapshots {first} to {last} (older ones were deleted, see "
                 "c.DebugServerApp.snapshot_retention)")
    else:
        there = f"its snapshots are numbered 1 to {last}"
    raise SnapshotNotFound(f"session {session_id} has no snapshot {seq}; {there}")
