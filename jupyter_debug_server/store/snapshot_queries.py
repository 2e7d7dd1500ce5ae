"""The SQL of the stop history: a session's snapshots (the table is migration 4 of
queries.py). Like queries.py, everything here runs on the store's own thread."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from .queries import transaction


def insert_snapshots(conn: sqlite3.Connection, session_id: str,
                     snapshots: Sequence[dict[str, Any]]) -> None:
    """Insert snapshots (each with its `seq` and `time`) in one transaction."""
    with transaction(conn):
        conn.executemany(
            "INSERT INTO snapshots (session_id, seq, time, data) VALUES (?, ?, ?, ?)",
            ((session_id, s["seq"], s["time"], json.dumps(s)) for s in snapshots))


def read_snapshots(conn: sqlite3.Connection, session_id: str, since: int,
                   limit: int) -> list[dict[str, Any]]:
    """Up to `limit` snapshots with seq > since, in seq order."""
    rows = conn.execute(
        "SELECT data FROM snapshots WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        (session_id, since, limit))
    return [json.loads(r[0]) for r in rows]


def get_snapshot(conn: sqlite3.Connection, session_id: str,
                 seq: int) -> dict[str, Any] | None:
    """One snapshot, or None."""
    row = conn.execute("SELECT data FROM snapshots WHERE session_id = ? AND seq = ?",
                       (session_id, seq)).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def snapshot_range(conn: sqlite3.Connection, session_id: str) -> tuple[int, int]:
    """The first and last seq kept for a session, (0, 0) if none."""
    row = conn.execute("SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM snapshots"
                       " WHERE session_id = ?", (session_id,)).fetchone()
    return int(row[0]), int(row[1])


def trim_snapshots(conn: sqlite3.Connection, session_id: str, keep: int) -> int:
    """Delete all but the newest `keep` snapshots of a session; return rows deleted."""
    with transaction(conn):
        return conn.execute(
            "DELETE FROM snapshots WHERE session_id = ? AND seq <= (SELECT MAX(seq) FROM"
            " snapshots WHERE session_id = ?) - ?", (session_id, session_id, keep)).rowcount
