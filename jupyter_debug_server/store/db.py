"""The SQLite metadata store: one file, one owning thread, schema versioned by user_version.

Every public method is a coroutine for the event loop; the sqlite work itself runs on the
store's single ``jds-store`` executor thread, which creates the connection and is the only
thread that ever touches it (sqlite's check_same_thread enforces this).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pathlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Concatenate, ParamSpec, TypeVar

from ..runner.errors import StoreBusy
from . import queries, snapshot_queries

log = logging.getLogger("jupyter_debug_server.store")

_P = ParamSpec("_P")
_T = TypeVar("_T")


class StoreError(Exception):
    """An expected store failure, worded as a sentence for the user."""


def iso_time(timestamp: float) -> str:
    """A POSIX timestamp as ISO-8601 UTC with microseconds and a "Z" suffix."""
    # Fixed width, so that stored times also sort correctly as text.
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utcnow_iso() -> str:
    """Return the current UTC time as ISO-8601 with microseconds and a "Z" suffix."""
    return iso_time(time.time())


def _states(states: Iterable[str]) -> list[str]:
    # A lone string is iterable too and would silently match single letters.
    if isinstance(states, str):
        raise TypeError(f"states must be an iterable of state names, not the string {states!r}")
    return list(states)


def _check_iso(iso_time: str) -> None:
    # A malformed time would make julianday() NULL and silently match nothing.
    try:
        # Python 3.10's fromisoformat does not accept the "Z" suffix.
        datetime.fromisoformat(iso_time[:-1] + "+00:00" if iso_time.endswith("Z") else iso_time)
    except ValueError:
        raise ValueError(f"{iso_time!r} is not an ISO-8601 time such as {utcnow_iso()!r}") from None


def _prepare_file(path: pathlib.Path) -> None:
    # Create the file ourselves so that it never exists, even briefly, with umask permissions.
    parent = path.parent
    if not parent.exists():
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(parent, 0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # tightens a file left behind with wider permissions
    finally:
        os.close(fd)


def _tighten_sidecars(path: pathlib.Path) -> None:
    # sqlite copies the database file's mode to these, but a file left by an older run or
    # another tool may be wider.
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", 0o600)


class Store:
    """The server's SQLite database of sessions, output, audit records and tokens."""

    journal_mode: str
    path: pathlib.Path

    def __init__(self, path: pathlib.Path, busy_timeout_ms: int) -> None:
        """Create an unopened store; use ``await Store.open(path)`` instead."""
        self.path = path
        self.journal_mode = ""
        self._busy_timeout_ms = busy_timeout_ms
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jds-store")
        self._closed = False
        # Owned by the store thread: set and read only inside executor jobs.
        self._conn: sqlite3.Connection | None = None
        self._thread_ident: int | None = None
        self._last_seq: dict[str, int] = {}

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, busy_timeout_ms: int = 5000) -> Store:
        """Open (creating and migrating if needed) the database at path."""
        if busy_timeout_ms < 0:
            raise ValueError(
                f"busy_timeout_ms must be 0 or more milliseconds, not {busy_timeout_ms}"
            )
        store = cls(pathlib.Path(path), busy_timeout_ms)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(store._executor, store._open_in_thread)
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connection and stop the store thread; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            # Queued after every job already submitted, so those still complete first.
            await loop.run_in_executor(self._executor, self._close_in_thread)
        finally:
            self._executor.shutdown(wait=False)

    async def __aenter__(self) -> Store:
        """Return the open store."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the store."""
        await self.close()

    # -- sessions -------------------------------------------------------------------------

    async def create_session(self, record: dict[str, Any]) -> None:
        """Insert a session; spec and stopped are given as Python objects."""
        if "id" not in record:
            raise ValueError("a session record needs an 'id'")
        now = utcnow_iso()
        values = {"created": now, "updated": now, **record}
        try:
            await self._call(queries.insert_session, values)
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"cannot create session {record['id']!r}: {exc}") from exc

    async def update_session(self, session_id: str, **fields: Any) -> None:
        """Set columns of a session; do nothing if it has been deleted meanwhile."""
        values = {"updated": utcnow_iso(), **fields}
        if not await self._call(queries.update_session, session_id, values):
            log.debug("not updating session %s: it no longer exists", session_id)

    async def get_session(self, session_id: str) -> dict[str, Any] | None:
        """Return a session with spec and stopped decoded, or None."""
        return await self._call(queries.get_session, session_id)

    async def list_sessions(self, owner: str | None = None) -> list[dict[str, Any]]:
        """Return all sessions, or one owner's, newest first."""
        return await self._call(queries.list_sessions, owner)

    async def sessions_in_states(self, states: Iterable[str]) -> list[dict[str, Any]]:
        """Return the sessions whose state is one of states, newest first."""
        return await self._call(queries.sessions_in_states, _states(states))

    async def delete_session(self, session_id: str) -> None:
        """Delete a session with its output, snapshots, audit records and tokens."""
        await self._call(self._delete_session, session_id)

    async def delete_sessions_ended_before(self, iso_time: str, states: Iterable[str]) -> int:
        """Delete sessions in states last updated before iso_time; return how many."""
        _check_iso(iso_time)
        return len(await self._call(self._delete_ended, iso_time, _states(states)))

    # -- output ---------------------------------------------------------------------------

    async def append_output(self, session_id: str, chunks: Sequence[tuple[str, str]]) -> int:
        """Append (category, text) chunks with consecutive seq numbers; return the last seq."""
        # Copied here: the caller may reuse its list while the job waits in the queue.
        items = [(category, text) for category, text in chunks]
        return await self._call(self._append_output, session_id, items, utcnow_iso())

    async def read_output(
        self, session_id: str, since: int = 0, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Return up to limit chunks with seq > since as {seq, category, output, time}."""
        if limit < 0:
            raise ValueError(f"limit must be 0 or more chunks, not {limit}")
        return await self._call(queries.read_output, session_id, since, limit)

    async def output_size(self, session_id: str) -> int:
        """Return the number of characters of output stored for a session."""
        return await self._call(queries.output_size, session_id)

    async def output_trimmed(self, session_id: str) -> bool:
        """Whether some of a session's output was deleted to stay within retention."""
        return await self._call(queries.output_trimmed, session_id)

    async def trim_output(self, session_id: str, max_chars: int) -> int:
        """Delete a session's oldest output until at most max_chars remain; return rows deleted."""
        if max_chars < 0:
            raise ValueError(f"max_chars must be 0 or more characters, not {max_chars}")
        return await self._call(queries.trim_output, session_id, max_chars)

    # -- snapshots (the stop history) -------------------------------------------------------

    async def append_snapshots(self, session_id: str,
                               snapshots: Sequence[dict[str, Any]]) -> None:
        """Store snapshots, each a JSON object with its `seq` and `time`."""
        try:
            await self._call(snapshot_queries.insert_snapshots, session_id, list(snapshots))
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"cannot store snapshots of session {session_id!r}: {exc}") from exc

    async def read_snapshots(self, session_id: str, since: int = 0,
                             limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        """Up to `limit` snapshots with seq > since, and the first seq kept (0: none)."""
        if limit < 0:
            raise ValueError(f"limit must be 0 or more snapshots, not {limit}")
        return await self._call(self._read_snapshots, session_id, since, limit)

    async def get_snapshot(self, session_id: str, seq: int) -> dict[str, Any] | None:
        """One snapshot of a session, or None."""
        return await self._call(snapshot_queries.get_snapshot, session_id, seq)

    async def snapshot_range(self, session_id: str) -> tuple[int, int]:
        """The first and last seq of a session's snapshots, (0, 0) if it has none."""
        return await self._call(snapshot_queries.snapshot_range, session_id)

    async def trim_snapshots(self, session_id: str, keep: int) -> int:
        """Delete all but the newest `keep` snapshots of a session; return how many went."""
        if keep < 0:
            raise ValueError(f"keep must be 0 or more snapshots, not {keep}")
        return await self._call(snapshot_queries.trim_snapshots, session_id, keep)

    # -- audit ----------------------------------------------------------------------------

    async def add_audit(
        self,
        session_id: str | None,
        action: str,
        user: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record an action; session_id must name an existing session or be None."""
        try:
            await self._call(
                queries.insert_audit,
                session_id,
                time=utcnow_iso(),
                user=user,
                action=action,
                detail=detail,
            )
        except sqlite3.IntegrityError as exc:
            raise StoreError(
                f"cannot audit {action!r} for session {session_id!r}: no such session;"
                " pass session_id=None for actions on sessions that do not exist"
            ) from exc

    async def list_audit(self, session_id: str) -> list[dict[str, Any]]:
        """Return a session's audit records, oldest first, with detail decoded."""
        return await self._call(queries.list_audit, session_id)

    # -- tokens ---------------------------------------------------------------------------

    async def insert_token(self, record: dict[str, Any]) -> None:
        """Insert a token record (id, session_id, scope, hash, created, expires, revoked)."""
        try:
            await self._call(queries.insert_token, {"created": utcnow_iso(), **record})
        except sqlite3.IntegrityError as exc:
            raise StoreError(
                f"cannot store token {record.get('id')!r} for session "
                f"{record.get('session_id')!r}: {exc}"
            ) from exc

    async def list_tokens(self, session_id: str) -> list[dict[str, Any]]:
        """Return a session's tokens, never including their hashes."""
        return await self._call(queries.list_tokens, session_id)

    async def find_token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        """Return the token stored with this hash, or None."""
        return await self._call(queries.find_token_by_hash, token_hash)

    async def revoke_token(self, token_id: str) -> bool:
        """Revoke a token; return False if no token has this id."""
        return await self._call(queries.revoke_token, token_id)

    async def revoke_session_tokens(self, session_id: str) -> int:
        """Revoke all live tokens of a session; return how many were revoked."""
        return await self._call(queries.revoke_session_tokens, session_id)

    # -- store thread ---------------------------------------------------------------------

    async def _call(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        # Runs on the event loop; fn runs on the store thread.
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")

        def job() -> _T:
            if self._conn is None or threading.get_ident() != self._thread_ident:
                raise StoreError(f"the store {self.path} is not open on this thread")
            try:
                return fn(self._conn, *args, **kwargs)
            except sqlite3.OperationalError as exc:
                busy = self._busy(exc)
                if busy is None:
                    raise
                raise busy from None

        return await asyncio.get_running_loop().run_in_executor(self._executor, job)

    def _busy(self, exc: sqlite3.OperationalError) -> StoreBusy | None:
        """A sentence for a lock that outlasted busy_timeout (None for other errors): another
        process (a backup, a second server, an sqlite3 shell) holds the database."""
        if "locked" not in str(exc) and "busy" not in str(exc):
            return None
        if self._conn is not None and self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._conn.rollback()  # a half-done transaction would hold our own lock
        return StoreBusy(
            f"the session store {self.path} is locked by another process (waited "
            f"{self._busy_timeout_ms / 1000:g} s, c.DebugServerApp.store_busy_timeout); "
            "try again")

    def _open_in_thread(self) -> None:
        self._thread_ident = threading.get_ident()
        # Absolute, so that messages name the file unambiguously; getcwd is a system call.
        self.path = pathlib.Path(os.path.abspath(self.path))
        try:
            _prepare_file(self.path)
        except OSError as exc:
            raise StoreError(
                f"cannot create the database file {self.path}: {exc.strerror}; "
                "check the permissions of its folder or configure another path"
            ) from exc
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_ms / 1000,
            isolation_level=None,  # explicit BEGIN/COMMIT only, see queries.transaction
            check_same_thread=True,
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(queries.SET_BUSY_TIMEOUT % self._busy_timeout_ms)
            conn.execute(queries.FOREIGN_KEYS_ON)
            # Checked before anything writes, so a newer server's database is left untouched.
            version = queries.user_version(conn)
            if version > queries.SCHEMA_VERSION:
                raise StoreError(
                    f"the database {self.path} has schema version {version}, but this version "
                    f"of jupyter-debug-server only knows versions up to "
                    f"{queries.SCHEMA_VERSION}; upgrade jupyter-debug-server or use another "
                    "database file"
                )
            self.journal_mode = self._choose_journal_mode(conn)
            queries.migrate(conn)
            _tighten_sidecars(self.path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _choose_journal_mode(self, conn: sqlite3.Connection) -> str:
        # Setting WAL can "succeed" on filesystems where its shared memory then fails
        # (network mounts, some containers), so only a real committed write proves it.
        try:
            mode = str(conn.execute(queries.JOURNAL_WAL).fetchone()[0]).lower()
            if mode != "wal":
                raise sqlite3.OperationalError(f"journal_mode stayed {mode!r}")
            queries.write_probe(conn)
        except sqlite3.Error as exc:
            log.warning(
                "SQLite WAL journaling does not work for %s (%s); using journal_mode=DELETE,"
                " where writers block readers",
                self.path,
                exc,
            )
            if conn.in_transaction:
                conn.execute(queries.ROLLBACK)
            conn.execute(queries.JOURNAL_DELETE)
            queries.write_probe(conn)
            return "delete"
        conn.execute(queries.SYNCHRONOUS_NORMAL)
        return "wal"

    def _close_in_thread(self) -> None:
        conn, self._conn = self._conn, None
        self._last_seq.clear()
        if conn is not None:
            conn.close()

    def _append_output(
        self,
        conn: sqlite3.Connection,
        session_id: str,
        chunks: list[tuple[str, str]],
        time: str,
    ) -> int:
        # The cache saves a read per call; only this thread writes output, so it stays true.
        last = self._last_seq.get(session_id)
        if last is None:
            last = queries.last_output_seq(conn, session_id)
        if not chunks:
            return last
        try:
            last = queries.insert_output(conn, session_id, last + 1, chunks, time)
        except sqlite3.IntegrityError as exc:
            self._last_seq.pop(session_id, None)
            if queries.get_session(conn, session_id) is None:
                raise StoreError(
                    f"cannot append output to session {session_id!r}: no such session"
                ) from exc
            raise
        self._last_seq[session_id] = last
        return last

    def _read_snapshots(self, conn: sqlite3.Connection, session_id: str, since: int,
                        limit: int) -> tuple[list[dict[str, Any]], int]:
        items = snapshot_queries.read_snapshots(conn, session_id, since, limit)
        return items, snapshot_queries.snapshot_range(conn, session_id)[0]

    def _delete_session(self, conn: sqlite3.Connection, session_id: str) -> None:
        queries.delete_session(conn, session_id)
        self._last_seq.pop(session_id, None)

    def _delete_ended(
        self, conn: sqlite3.Connection, iso_time: str, states: list[str]
    ) -> list[str]:
        deleted = queries.delete_sessions_ended_before(conn, iso_time, states)
        for session_id in deleted:
            self._last_seq.pop(session_id, None)
        return deleted
