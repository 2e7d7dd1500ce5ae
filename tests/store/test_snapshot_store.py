"""The stop history in the store: migration 4, paging, trimming to the retention, and
deletion with the session (its output and snapshots go together)."""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from jupyter_debug_server.store import Store, queries

pytestmark = pytest.mark.timeout(60)


def run(body: Callable[[Store], Awaitable[None]], path: pathlib.Path) -> None:
    async def main() -> None:
        async with await Store.open(path) as store:
            await body(store)

    asyncio.run(main())


def _snapshot(seq: int, **more: Any) -> dict[str, Any]:
    return {"seq": seq, "time": f"2026-01-01T00:00:{seq:02d}.000000Z", "thread_id": 1,
            "reason": "breakpoint", "frames": [], "variables": [],
            "watches": [{"expression": "i", "value": str(seq)}], "complete": True,
            "truncated": False, **more}


async def _session(store: Store, session_id: str) -> None:
    await store.create_session({"id": session_id, "state": "running"})


def test_snapshots_page_by_seq_and_come_back_as_stored(tmp_path: pathlib.Path) -> None:
    async def body(store: Store) -> None:
        await _session(store, "s1")
        await _session(store, "s2")
        await store.append_snapshots("s1", [_snapshot(n) for n in (1, 2, 3)])
        await store.append_snapshots("s1", [_snapshot(4, complete=False)])
        await store.append_snapshots("s2", [_snapshot(1)])
        items, first = await store.read_snapshots("s1", since=1, limit=2)
        assert [s["seq"] for s in items] == [2, 3] and first == 1
        assert items[0] == _snapshot(2)
        items, _ = await store.read_snapshots("s1", since=3, limit=10)
        assert items == [_snapshot(4, complete=False)]
        assert await store.get_snapshot("s1", 4) == _snapshot(4, complete=False)
        assert await store.get_snapshot("s1", 5) is None
        assert await store.snapshot_range("s1") == (1, 4)
        assert await store.snapshot_range("nobody") == (0, 0)
        assert (await store.read_snapshots("s2"))[0] == [_snapshot(1)]

    run(body, tmp_path / "db.sqlite")


def test_trimming_keeps_the_newest_and_deletion_takes_them_with_the_session(
        tmp_path: pathlib.Path) -> None:
    async def body(store: Store) -> None:
        await _session(store, "s1")
        await store.append_snapshots("s1", [_snapshot(n) for n in range(1, 8)])
        await store.append_output("s1", [("stdout", "hello\n")])
        assert await store.trim_snapshots("s1", 3) == 4
        assert await store.snapshot_range("s1") == (5, 7)
        items, first = await store.read_snapshots("s1")
        assert [s["seq"] for s in items] == [5, 6, 7] and first == 5
        await store.delete_session("s1")
        assert await store.snapshot_range("s1") == (0, 0)
        assert await store.read_output("s1") == []

    run(body, tmp_path / "db.sqlite")


def test_a_version_3_database_gains_the_snapshots_table(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "db.sqlite"
    conn = sqlite3.connect(path)
    for script in queries.MIGRATIONS[:3]:
        conn.executescript(script)
    conn.execute("INSERT INTO sessions (id, state, created, updated) VALUES "
                 "('old', 'exited', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')")
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()

    async def body(store: Store) -> None:
        assert (await store.get_session("old") or {})["state"] == "exited"
        assert await store.read_snapshots("old") == ([], 0)
        await store.append_snapshots("old", [_snapshot(1)])
        assert await store.get_snapshot("old", 1) == _snapshot(1)

    run(body, path)
    assert queries.SCHEMA_VERSION >= 4
