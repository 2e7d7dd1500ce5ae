"""A session's captured output: buffered briefly in memory, persisted in batches.

Owned by the server's event loop. Chunks go to the store in one transaction per
batch; a reader first flushes, so what the API returns is always complete.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger(__name__)

# Merge consecutive chunks of one stream up to this size: fewer rows, same text.
_ROW_CHARS = 64 * 1024
# Output waiting for the store: above HIGH the worker is asked to wait (its target
# then blocks on a full pipe, so nothing is lost), below LOW it may go on.
PENDING_HIGH = 8 * 1024 * 1024
PENDING_LOW = 1024 * 1024
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class OutputLog:
    """Append-only output of one session, persisted through the store."""

    def __init__(self, session_id: str, store: Store, retention_chars: int,
                 pressure: Callable[[bool], None] | None = None) -> None:
        self.session_id = session_id
        self.store = store
        self.retention_chars = retention_chars
        self.pressure = pressure  # called with True above PENDING_HIGH, False below LOW
        self._throttled = False
        self.pending_chars = 0
        self._pending: list[tuple[str, str]] = []
        self._flushing: asyncio.Task[None] | None = None
        self.total_chars = 0
        self.dropped = False

    def append(self, category: str, text: str) -> None:
        """Queue a chunk; a flush is scheduled if none is under way."""
        if not text:
            return
        if not text.isascii():
            text = _storable(text)
        self.total_chars += len(text)
        self.pending_chars += len(text)
        if not self._throttled and self.pending_chars > PENDING_HIGH and self.pressure:
            self._throttled = True
            self.pressure(True)
        if self._pending and self._pending[-1][0] == category and len(
                self._pending[-1][1]) + len(text) <= _ROW_CHARS:
            self._pending[-1] = (category, self._pending[-1][1] + text)
        else:
            self._pending.append((category, text))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush_loop())

    async def _flush_loop(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self.store.append_output(self.session_id, batch)
                self.pending_chars -= sum(len(text) for _, text in batch)
                if self._throttled and self.pending_chars < PENDING_LOW and self.pressure:
                    self._throttled = False
                    self.pressure(False)
                if (self.retention_chars and self.total_chars > self.retention_chars
                        and await self.store.trim_output(self.session_id, self.retention_chars)):
                    self.dropped = True
            except Exception:
                log.exception("session %s: could not persist %d output chunks",
                              self.session_id, len(batch))
                self.pending_chars -= sum(len(text) for _, text in batch)

    async def flush(self) -> None:
        """Wait until everything appended so far is in the store."""
        while self._flushing is not None and not self._flushing.done():
            await asyncio.shield(self._flushing)
        if self._pending:
            self._flushing = asyncio.ensure_future(self._flush_loop())
            await asyncio.shield(self._flushing)

    async def read(self, since: int, limit: int) -> dict[str, Any]:
        """Output after `since` (a seq), at most `limit` chunks, with the next cursor."""
        await self.flush()
        items = await self.store.read_output(self.session_id, since, limit)
        return {"items": items, "next": items[-1]["seq"] if items else since,
                "truncated": self.dropped}


def _storable(text: str) -> str:
    """`text` with lone surrogates (a debugger's `\\udc80` escape, e.g. a file name
    decoded with surrogateescape) replaced by U+FFFD: SQLite takes UTF-8 only, and one
    such chunk would fail its whole batch."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text)
    return text
