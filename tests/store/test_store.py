"""Tests of the SQLite metadata store, run with asyncio.run (no pytest-asyncio)."""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import random
import sqlite3
import stat
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from jupyter_debug_server.store import Store, StoreError, queries, utcnow_iso

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    """Run one async test body on a fresh event loop."""

    async def main() -> T:
        return await fn()

    return asyncio.run(main())


def mode(path: pathlib.Path | str) -> int:
    """Return the permission bits of path."""
    return stat.S_IMODE(os.stat(path).st_mode)


def sqlite_pragma(path: pathlib.Path, pragma: str) -> Any:
    """Read one PRAGMA through an independent connection."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {pragma}").fetchone()[0]
    finally:
        conn.close()


def wal_size(path: pathlib.Path) -> int:
    """Return the size of the database's -wal file, or -1 if there is none."""
    wal = pathlib.Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else -1


def session(session_id: str, **fields: Any) -> dict[str, Any]:
    """Return a session record with plausible defaults."""
    record: dict[str, Any] = {
        "id": session_id,
        "name": f"session {session_id}",
        "debugger": "debugpy",
        "request": "launch",
        "state": "running",
        "owner": "alice",
        "spec": {"module": "app.main", "args": ["--x", "1"]},
    }
    record.update(fields)
    return record


def wait_for_no_store_thread() -> None:
    """Wait until no jds-store thread is alive, failing after a few seconds."""
    deadline = time.monotonic() + 5
    while any(t.name.startswith("jds-store") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a jds-store thread outlived its store"
        time.sleep(0.01)


# -- files, journal, schema ---------------------------------------------------------------


def test_new_file_is_0600_in_a_new_0700_folder(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "new" / "deeper" / "jds.sqlite"

    async def body() -> None:
        async with await Store.open(path) as store:
            await store.create_session(session("s1"))
            assert mode(path) == 0o600
            assert mode(path.parent) == 0o700
            for suffix in ("-wal", "-shm"):
                assert mode(f"{path}{suffix}") == 0o600

    run(body)


def test_existing_file_with_wide_mode_is_tightened(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "jds.sqlite"
    path.touch()
    path.chmod(0o644)
    tmp_path.chmod(0o755)

    async def body() -> None:
        store = await Store.open(path)
        await store.close()

    run(body)
    assert mode(path) == 0o600
    assert mode(tmp_path) == 0o755  # an existing folder is not ours to change


def test_wal_is_chosen_and_really_used(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "jds.sqlite"

    async def body() -> None:
        async with await Store.open(path, busy_timeout_ms=1234) as store:
            assert store.journal_mode == "wal"
            assert store.path == path
            await store.create_session(session("s1"))
            await store.append_output("s1", [("stdout", "hello\n")])
            assert wal_size(path) > 0
            assert sqlite_pragma(path, "journal_mode") == "wal"
            pragmas = await store._call(
                lambda conn: [
                    conn.execute(f"PRAGMA {p}").fetchone()[0]
                    for p in ("busy_timeout", "foreign_keys", "synchronous")
                ]
            )
            assert pragmas == [1234, 1, 1]  # synchronous 1 is NORMAL
            # The probe leaves nothing behind.
            tables = await store._call(
                lambda conn: [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
            )
            assert "_jds_probe" not in tables

    run(body)


def test_falls_back_to_delete_when_wal_write_fails(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "jds.sqlite"
    real_probe = queries.write_probe
    modes: list[str] = []

    def probe(conn: sqlite3.Connection) -> None:
        # As on a filesystem without working shared memory: WAL is accepted, writes fail.
        modes.append(conn.execute("PRAGMA journal_mode").fetchone()[0])
        if modes[-1] == "wal":
            raise sqlite3.OperationalError("disk I/O error")
        real_probe(conn)

    monkeypatch.setattr(queries, "write_probe", probe)

    async def body() -> None:
        with caplog.at_level(logging.WARNING, logger="jupyter_debug_server.store"):
            store = await Store.open(path)
        try:
            assert store.journal_mode == "delete"
            await store.create_session(session("s1"))
            assert (await store.get_session("s1")) is not None
            assert wal_size(path) == -1
        finally:
            await store.close()

    run(body)
    assert modes == ["wal", "delete"]
    assert sqlite_pragma(path, "journal_mode") == "delete"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()
    assert "journal_mode=DELETE" in warnings[0].getMessage()


def test_user_version_is_set_and_a_newer_database_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "jds.sqlite"

    async def open_close() -> None:
        store = await Store.open(path)
        await store.close()

    run(open_close)
    run(open_close)  # re-opening a current database migrates nothing
    assert sqlite_pragma(path, "user_version") == queries.SCHEMA_VERSION >= 1

    too_new = queries.SCHEMA_VERSION + 5
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {too_new}")
    conn.close()
    with pytest.raises(StoreError) as caught:
        run(open_close)
    message = str(caught.value)
    assert str(path) in message
    assert f"schema version {too_new}" in message
    assert f"up to {queries.SCHEMA_VERSION}" in message
    assert sqlite_pragma(path, "user_version") == too_new
    wait_for_no_store_thread()


def test_a_version_1_database_gains_the_boot_id_and_keeps_its_rows(
        tmp_path: pathlib.Path) -> None:
    """Migration 2 (issue 11): rows record the boot their pids and start times belong to."""
    path = tmp_path / "jds.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(queries.MIGRATIONS[0])
    conn.execute("INSERT INTO sessions (id, state, created, updated) VALUES "
                 "('old', 'running', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    async def body() -> None:
        async with await Store.open(path) as store:
            old = await store.get_session("old")
            assert old is not None and old["state"] == "running" and old["boot_id"] is None
            await store.update_session("old", boot_id="b-1", worker_pid=7)
            row = await store.get_session("old")
            assert row is not None and (row["boot_id"], row["worker_pid"]) == ("b-1", 7)

    run(body)
    assert sqlite_pragma(path, "user_version") == queries.SCHEMA_VERSION == 5


def test_a_version_4_database_gains_the_server_columns_and_keeps_its_rows(
        tmp_path: pathlib.Path) -> None:
    """Migration 5: rows record the server that runs them (pid and start time), so a
    second server of the user sharing the database leaves its sessions alone. Rows of
    the previous schema have none (and are recovered as before: test_shared_store.py)."""
    path = tmp_path / "jds.sqlite"
    conn = sqlite3.connect(path)
    for script in queries.MIGRATIONS[:4]:
        conn.executescript(script)
    conn.execute("INSERT INTO sessions (id, state, boot_id, worker_pid, created, updated) "
                 "VALUES ('old', 'running', 'b-1', 7, '2024-01-01T00:00:00Z', "
                 "'2024-01-01T00:00:00Z')")
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()

    async def body() -> None:
        async with await Store.open(path) as store:
            old = await store.get_session("old")
            assert old is not None and (old["state"], old["boot_id"], old["worker_pid"]) == (
                "running", "b-1", 7)
            assert old["server_pid"] is None and old["server_start_time"] is None
            await store.create_session(session("new", server_pid=11, server_start_time=2.5))
            new = await store.get_session("new")
            assert new is not None
            assert (new["server_pid"], new["server_start_time"]) == (11, 2.5)

    run(body)
    assert sqlite_pragma(path, "user_version") == queries.SCHEMA_VERSION == 5


def test_a_file_that_is_not_a_database_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "jds.sqlite"
    path.write_bytes(b"this is not an SQLite database, just some text" * 100)

    async def body() -> None:
        await Store.open(path)

    with pytest.raises(StoreError, match=str(path)):
        run(body)
    wait_for_no_store_thread()


# -- threads and life cycle ---------------------------------------------------------------


def test_connection_is_used_only_on_the_store_thread(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, str]] = []
    real_get = queries.get_session

    def get_session(conn: sqlite3.Connection, session_id: str) -> dict[str, Any] | None:
        seen.append((threading.get_ident(), threading.current_thread().name))
        return real_get(conn, session_id)

    monkeypatch.setattr(queries, "get_session", get_session)

    async def body() -> None:
        async with await Store.open(tmp_path / "jds.sqlite") as store:
            loop_thread = threading.get_ident()
            assert store._thread_ident is not None
            assert store._thread_ident != loop_thread
            await store.get_session("missing")
            assert seen == [(store._thread_ident, seen[0][1])]
            assert seen[0][1].startswith("jds-store")
            # sqlite itself refuses use from any other thread.
            assert store._conn is not None
            with pytest.raises(sqlite3.ProgrammingError):
                store._conn.execute("SELECT 1")

    run(body)


def test_close_is_idempotent_and_later_calls_fail(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        store = await Store.open(tmp_path / "jds.sqlite")
        await store.close()
        await store.close()
        with pytest.raises(StoreError, match="closed"):
            await store.get_session("s1")

    run(body)
    wait_for_no_store_thread()


# -- sessions -----------------------------------------------------------------------------


def test_session_round_trip(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with await Store.open(tmp_path / "jds.sqlite") as store:
            await store.create_session(session("a", created="2024-01-01T00:00:00.000000Z"))
            await store.create_session(
                session("b", owner="bob", created="2024-01-02T00:00:00.000000Z")
            )
            await store.create_session(session("c", created="2024-01-03T00:00:00.000000Z"))

            a = await store.get_session("a")
            assert a is not None
            assert a["spec"] == {"module": "app.main", "args": ["--x", "1"]}
            assert a["stopped"] is None and a["pid"] is None
            assert a["updated"].endswith("Z")
            assert await store.get_session("nope") is None

            stopped = {"reason": "breakpoint", "threadId": 1, "hitBreakpointIds": [3]}
            await store.update_session(
                "a", state="stopped", stopped=stopped, pid=42, pid_start_time=12.5
            )
            a2 = await store.get_session("a")
            assert a2 is not None
            assert (a2["state"], a2["stopped"], a2["pid"]) == ("stopped", stopped, 42)
            assert a2["pid_start_time"] == 12.5
            assert a2["updated"] >= a["updated"]
            await store.update_session("a", stopped=None, error=None, exit_code=3)
            a3 = await store.get_session("a")
            assert a3 is not None and a3["stopped"] is None and a3["exit_code"] == 3
            await store.update_session("gone", state="ended")  # a deleted session: no-op

            assert [s["id"] for s in await store.list_sessions()] == ["c", "b", "a"]
            assert [s["id"] for s in await store.list_sessions(owner="alice")] == ["c", "a"]
            assert await store.list_sessions(owner="carol") == []
            in_states = await store.sessions_in_states(["running", "stopped"])
            assert [s["id"] for s in in_states] == ["c", "b", "a"]
            assert [s["id"] for s in await store.sessions_in_states({"stopped"})] == ["a"]
            assert await store.sessions_in_states([]) == []

            with pytest.raises(ValueError, match="'colour'"):
                await store.update_session("a", colour="red")
            with pytest.raises(ValueError, match="'colour'"):
                await store.create_session(session("d", colour="red"))
            with pytest.raises(ValueError, match="cannot be changed"):
                await store.update_session("a", id="z")
            with pytest.raises(TypeError):
                await store.sessions_in_states("running")
            with pytest.raises(StoreError, match="'a'"):
                await store.create_session(session("a"))

    run(body)


def test_delete_sessions_ended_before(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with await Store.open(tmp_path / "jds.sqlite") as store:
            for sid, state, updated in [
                ("old-ended", "ended", "2024-01-01T00:00:00.5Z"),
                ("old-lost", "lost", "2024-01-01T00:00:00Z"),
                ("old-running", "running", "2024-01-01T00:00:00Z"),
                ("new-ended", "ended", "2024-01-01T00:00:02.000000Z"),
            ]:
                await store.create_session(session(sid, state=state))
                await store.update_session(sid, updated=updated)
            await store.append_output("old-ended", [("stdout", "x")])
            cutoff = "2024-01-01T00:00:01Z"
            assert await store.delete_sessions_ended_before(cutoff, ["ended", "lost"]) == 2
            remaining = {s["id"] for s in await store.list_sessions()}
            assert remaining == {"old-running", "new-ended"}
            assert await store.read_output("old-ended") == []
            with pytest.raises(ValueError, match="ISO-8601"):
                await store.delete_sessions_ended_before("yesterday", ["ended"])

    run(body)


# -- output -------------------------------------------------------------------------------


def test_append_output_numbers_continue_across_calls_and_reopen(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "jds.sqlite"

    async def first() -> None:
        async with await Store.open(path) as store:
            await store.create_session(session("s1"))
            await store.create_session(session("s2"))
            assert await store.append_output("s1", []) == 0
            assert await store.append_output("s1", [("stdout", "a"), ("stderr", "b")]) == 2
            assert await store.append_output("s1", []) == 2
            assert await store.append_output("s2", [("stdout", "other")]) == 1
            assert await store.append_output("s1", [("stdout", "c")]) == 3

    async def second() -> None:
        async with await Store.open(path) as store:
            assert await store.append_output("s1", [("console", "d")]) == 4
            rows = await store.read_output("s1")
            assert [(r["seq"], r["category"], r["output"]) for r in rows] == [
                (1, "stdout", "a"),
                (2, "stderr", "b"),
                (3, "stdout", "c"),
                (4, "console", "d"),
            ]
            assert all(r["time"].endswith("Z") for r in rows)
            assert set(rows[0]) == {"seq", "category", "output", "time"}
            # Numbering survives even when trimming removed every row.
            assert await store.trim_output("s1", 0) == 4

    async def third() -> None:
        async with await Store.open(path) as store:
            assert await store.append_output("s1", [("stdout", "e")]) == 5
            with pytest.raises(StoreError, match="'nope'"):
                await store.append_output("nope", [("stdout", "lost")])

    run(first)
    run(second)
    run(third)


def test_ten_mib_read_back_identical_by_pages(tmp_path: pathlib.Path) -> None:
    rng = random.Random(1234)
    alphabet = "abcdefghij klmnop\n\r\t\x00\x1b[0mé€😀日本語\\'\"%_"
    pool = "".join(rng.choices(alphabet, k=1 << 16))
    chunks: list[tuple[str, str]] = []
    total = 0
    while total < 10 * 1024 * 1024:
        start, size = rng.randrange(len(pool) - 16384), rng.randrange(1, 16384)
        chunks.append((rng.choice(["stdout", "stderr"]), pool[start : start + size]))
        total += size

    async def body() -> None:
        async with await Store.open(tmp_path / "jds.sqlite") as store:
            await store.create_session(session("s1"))
            for i in range(0, len(chunks), 64):
                await store.append_output("s1", chunks[i : i + 64])
            assert await store.output_size("s1") == total

            pages: list[dict[str, Any]] = []
            since = 0
            while page := await store.read_output("s1", since=since, limit=97):
                assert len(page) <= 97
                pages.extend(page)
                since = page[-1]["seq"]
            assert [r["seq"] for r in pages] == list(range(1, len(chunks) + 1))
            assert [(r["category"], r["output"]) for r in pages] == chunks
            text = "".join(r["output"] for r in pages)
            assert text.encode("utf-8") == "".join(t for _, t in chunks).encode("utf-8")

            middle = await store.read_output("s1", since=100, limit=3)
            assert [r["seq"] for r in middle] == [101, 102, 103]
            assert await store.read_output("s1", since=len(chunks)) == []
            assert await store.read_output("s1", limit=0) == []

    run(body)


def test_trim_output_drops_only_the_oldest(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with await Store.open(tmp_path / "jds.sqlite") as store:
            await store.create_session(session("s1"))
            await store.create_session(session("s2"))
            sizes = [10, 20, 5, 30, 15, 10, 10]  # total 100
            await store.append_output("s1", [("stdout", str(i) * n) for i, n in enumerate(sizes)])
            await store.append_output("s2", [("stdout", "y" * 50)])
            assert await store.output_size("s1") == 100
            assert await store.trim_output("s1", 100) == 0
            # Keeping seq 4..7 would be 65 > 60; seq 5..7 is 35.
            assert await store.trim_output("s1", 60) == 4
            assert [r["seq"] for r in await store.read_output("s1")] == [5, 6, 7]
            assert await store.output_size("s1") == 35
            assert await store.trim_output("s1", 35) == 0
            assert await store.trim_output("s1", 34) == 1
            assert await store.output_size("s2") == 50  # other sessions untouched
            assert await store.trim_output("s1", 0) == 2
            assert await store.output_size("s1") == 0
            assert await store.append_output("s1", [("stdout", "z")]) == 8

    run(body)


def test_concurrent_appends_are_unique_and_gap_free(tmp_path: pathlib.Path) -> None:
    async def writer(store: Store, w: int) -> list[int]:
        lasts = []
        for n in range(20):
            batch = [("stdout", f"{w}:{n}:{k}") for k in range(1 + (w + n) % 3)]
            lasts.append(await store.append_output("s1", batch))
        return lasts

    async def body() -> None:
        async with await Store.open(tmp_path / "jds.sqlite") as store:
            await store.create_session(session("s1"))
            results = await asyncio.gather(*(writer(store, w) for w in range(40)))
            rows = await store.read_output("s1", limit=100_000)
            seqs = [r["seq"] for r in rows]
            assert seqs == list(range(1, len(rows) + 1))
            expected = sum(1 + (w + n) % 3 for w in range(40) for n in range(20))
            assert len(rows) == expected
            by_text = {r["output"]: r["seq"] for r in rows}
            for w, lasts in enumerate(results):
                assert lasts == sorted(lasts)  # each writer's calls landed in its order
                for n, last in enumerate(lasts):
                    count = 1 + (w + n) % 3
                    # One call's chunks are consecutive and end at the seq it returned.
                    assert [by_text[f"{w}:{n}:{k}"] for k in range(count)] == list(
                        range(last - count + 1, last + 1)
                    )

    run(body)


# -- cascade, audit, tokens ---------------------------------------------------------------


def token(token_id: str, session_id: str, token_hash: str, **fields: Any) -> dict[str, Any]:
    """Return a token record."""
    record: dict[str, Any] = {
        "id": token_id,
        "session_id": session_id,
        "scope": "control",
        "hash": token_hash,
        "created": utcnow_iso(),
        "expires": "2999-01-01T00:00:00.000000Z",
    }
    record.update(fields)
    return record


def test_delete_session_cascades(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with await Store.open(tmp_path / "jds.sqlite") as store:
            for sid in ("s1", "s2"):
                await store.create_session(session(sid))
                await store.append_output(sid, [("stdout", "x"), ("stderr", "y")])
                await store.add_audit(sid, "session.create", "alice", {"n": 1})
                await store.insert_token(token(f"t-{sid}", sid, f"h-{sid}"))
            await store.delete_session("s1")
            await store.delete_session("s1")  # deleting twice is harmless
            assert await store.get_session("s1") is None
            assert await store.read_output("s1") == []
            assert await store.output_size("s1") == 0
            assert await store.list_audit("s1") == []
            assert await store.list_tokens("s1") == []
            assert await store.find_token_by_hash("h-s1") is None
            assert len(await store.read_output("s2")) == 2
            assert len(await store.list_audit("s2")) == 1
            assert len(await store.list_tokens("s2")) == 1
            counts = await store._call(
                lambda conn: [
                    conn.execute(f"SELECT COUNT(*) FROM {t} WHERE session_id = 's1'").fetchone()[0]
                    for t in ("output", "output_seq", "audit", "tokens")
                ]
            )
            assert counts == [0, 0, 0, 0]

    run(body)


def test_audit_records(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with await Store.open(tmp_path / "jds.sqlite") as store:
            await store.create_session(session("s1"))
            await store.add_audit("s1", "session.create", "alice", {"debugger": "gdb"})
            await store.add_audit("s1", "dap.evaluate", "bob")
            await store.add_audit(None, "session.denied", "mallory", {"why": "limit"})
            records = await store.list_audit("s1")
            assert [(r["action"], r["user"], r["detail"]) for r in records] == [
                ("session.create", "alice", {"debugger": "gdb"}),
                ("dap.evaluate", "bob", None),
            ]
            assert records[0]["id"] < records[1]["id"]
            assert all(r["session_id"] == "s1" and r["time"].endswith("Z") for r in records)
            with pytest.raises(StoreError, match="session_id=None"):
                await store.add_audit("nope", "session.create", "alice")

    run(body)


def test_tokens_never_list_their_hash(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with await Store.open(tmp_path / "jds.sqlite") as store:
            await store.create_session(session("s1"))
            await store.insert_token(token("t1", "s1", "hash-1"))
            await store.insert_token(token("t2", "s1", "hash-2", scope="observe"))
            listed = await store.list_tokens("s1")
            assert [t["id"] for t in listed] == ["t1", "t2"]
            assert all("hash" not in t for t in listed)
            assert "hash-1" not in repr(listed)
            found = await store.find_token_by_hash("hash-2")
            assert found is not None
            assert (found["id"], found["scope"], found["revoked"]) == ("t2", "observe", False)
            assert await store.find_token_by_hash("hash-3") is None

            assert await store.revoke_token("t1") is True
            assert await store.revoke_token("t1") is True
            assert await store.revoke_token("nope") is False
            revoked = {t["id"]: t["revoked"] for t in await store.list_tokens("s1")}
            assert revoked == {"t1": True, "t2": False}
            assert await store.revoke_session_tokens("s1") == 1

            with pytest.raises(StoreError, match="'t3'"):
                await store.insert_token(token("t3", "s1", "hash-1"))
            with pytest.raises(StoreError, match="'nope'"):
                await store.insert_token(token("t4", "nope", "hash-4"))
            with pytest.raises(ValueError, match="'secret'"):
                await store.insert_token(token("t5", "s1", "hash-5", secret="x"))

    run(body)
