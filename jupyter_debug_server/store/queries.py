"""Every SQL statement of the store, and the synchronous functions that run them.

Everything here runs on the store's single executor thread and receives the connection
that thread owns; nothing in this module may be called from the event loop.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# -- schema -----------------------------------------------------------------------------

# Migration N (1-based) upgrades a database at user_version N-1 to N. Append only: never
# edit a script that has shipped, add a new one instead.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT,
        debugger TEXT,
        request TEXT,
        state TEXT,
        owner TEXT,
        spec TEXT,
        pid INTEGER,
        pid_start_time REAL,
        worker_pid INTEGER,
        worker_start_time REAL,
        exit_code INTEGER,
        stopped TEXT,
        error TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE INDEX sessions_owner_created ON sessions (owner, created DESC, id);
    CREATE INDEX sessions_created ON sessions (created DESC, id);
    CREATE INDEX sessions_state ON sessions (state);

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
        time TEXT NOT NULL,
        user TEXT,
        action TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX audit_session ON audit (session_id, id);

    CREATE TABLE tokens (
        id TEXT PRIMARY KEY NOT NULL,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL,
        expires TEXT,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX tokens_session ON tokens (session_id);

    -- size is len(text) computed in Python: SQLite's length() stops at the first NUL and
    -- would have to read every overflow page, and trimming sums sizes often.
    CREATE TABLE output (
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        category TEXT NOT NULL,
        text TEXT NOT NULL,
        size INTEGER NOT NULL,
        time TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;

    -- The last seq handed out per session, so that numbering never restarts even when
    -- trimming has deleted every row of a session.
    CREATE TABLE output_seq (
        session_id TEXT PRIMARY KEY NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        last_seq INTEGER NOT NULL
    );
    """,
    # 2: the boot the pids and start times were recorded in. Start times count clock
    # ticks since boot, so after a reboot an unrelated process can match pid and start
    # time; with the boot id it cannot. Rows without one are never reaped.
    """
    ALTER TABLE sessions ADD COLUMN boot_id TEXT;
    """,
    # 3: the process groups a worker created besides the target's (gdb, lldb-dap with its
    # lldb-server), as a JSON list of [pid, start time]: they run in sessions of their own,
    # so killing the worker's group does not reach them; the server and a later server's
    # reaper kill them by pid and start time (and boot_id).
    """
    ALTER TABLE sessions ADD COLUMN process_groups TEXT;
    """,
    # 4: the stop history (runner/snapshots.py): one snapshot per stop, as JSON, numbered
    # per session from 1; its SQL is in snapshot_queries.py.
    """
    CREATE TABLE snapshots (
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        time TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;
    """,
    # 5: the server that runs the session: its pid and start time (clock ticks since boot,
    # in the boot of boot_id). Two servers of one user share this database by default; at
    # start-up a server leaves alone the active sessions whose server still runs, and
    # recovers (marks lost, reaps) only the others. Rows without them are recovered.
    """
    ALTER TABLE sessions ADD COLUMN server_pid INTEGER;
    ALTER TABLE sessions ADD COLUMN server_start_time REAL;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)

SESSION_COLUMNS: tuple[str, ...] = (
    "id", "name", "debugger", "request", "state", "owner", "spec", "pid", "pid_start_time",
    "worker_pid", "worker_start_time", "exit_code", "stopped", "error", "created", "updated",
    "boot_id", "process_groups", "server_pid", "server_start_time",
)  # fmt: skip
SESSION_JSON_COLUMNS = frozenset({"spec", "stopped", "process_groups"})
TOKEN_COLUMNS: tuple[str, ...] = (
    "id", "session_id", "scope", "hash", "created", "expires", "revoked",
)  # fmt: skip

# -- connection set-up ------------------------------------------------------------------

GET_USER_VERSION = "PRAGMA user_version"
SET_BUSY_TIMEOUT = "PRAGMA busy_timeout = %d"  # PRAGMA takes no bound parameters
SET_USER_VERSION = "PRAGMA user_version = %d"
FOREIGN_KEYS_ON = "PRAGMA foreign_keys = ON"
JOURNAL_WAL = "PRAGMA journal_mode = WAL"
JOURNAL_DELETE = "PRAGMA journal_mode = DELETE"
SYNCHRONOUS_NORMAL = "PRAGMA synchronous = NORMAL"
BEGIN_IMMEDIATE = "BEGIN IMMEDIATE"
COMMIT = "COMMIT"
ROLLBACK = "ROLLBACK"

_PROBE_TOKEN = "jds-write-probe"


def split_script(script: str) -> list[str]:
    """Split an SQL script into complete statements."""
    statements: list[str] = []
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                statements.append(pending.strip())
            pending = ""
    return statements


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the body in one write transaction, rolled back if it raises."""
    # IMMEDIATE takes the write lock up front, so busy_timeout applies here rather than a
    # SQLITE_BUSY surfacing half-way through the body.
    conn.execute(BEGIN_IMMEDIATE)
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute(ROLLBACK)
        raise
    conn.execute(COMMIT)


def write_probe(conn: sqlite3.Connection) -> None:
    """Write, commit, read back and remove a row in a scratch table; raise if any step fails."""
    with transaction(conn):
        conn.execute("CREATE TABLE IF NOT EXISTS _jds_probe (v TEXT)")
        conn.execute("INSERT INTO _jds_probe (v) VALUES (?)", (_PROBE_TOKEN,))
    row = conn.execute("SELECT v FROM _jds_probe WHERE v = ?", (_PROBE_TOKEN,)).fetchone()
    if row is None or row[0] != _PROBE_TOKEN:
        raise sqlite3.OperationalError("the write probe row could not be read back")
    with transaction(conn):
        conn.execute("DELETE FROM _jds_probe")
        conn.execute("DROP TABLE _jds_probe")


def user_version(conn: sqlite3.Connection) -> int:
    """Return the schema version recorded in the database header."""
    return int(conn.execute(GET_USER_VERSION).fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations the database lacks in one transaction; return the new version."""
    with transaction(conn):
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = user_version(conn)
        for number in range(version + 1, SCHEMA_VERSION + 1):
            for statement in split_script(MIGRATIONS[number - 1]):
                conn.execute(statement)
            conn.execute(SET_USER_VERSION % number)
    return max(version, SCHEMA_VERSION)


# -- sessions ---------------------------------------------------------------------------


def _encode_session(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(SESSION_COLUMNS))
    if unknown:
        raise ValueError(
            f"unknown session column(s) {', '.join(map(repr, unknown))}; "
            f"known columns are {', '.join(SESSION_COLUMNS)}"
        )
    return {
        k: (None if v is None else json.dumps(v)) if k in SESSION_JSON_COLUMNS else v
        for k, v in fields.items()
    }


def _decode_session(row: sqlite3.Row) -> dict[str, Any]:
    record = dict(row)
    for column in SESSION_JSON_COLUMNS:
        if record[column] is not None:
            record[column] = json.loads(record[column])
    return record


def insert_session(conn: sqlite3.Connection, record: dict[str, Any]) -> None:
    """Insert one session row; raise sqlite3.IntegrityError if the id is taken."""
    values = _encode_session(record)
    columns = list(values)  # validated against SESSION_COLUMNS above
    placeholders = ", ".join(":" + c for c in columns)
    conn.execute(f"INSERT INTO sessions ({', '.join(columns)}) VALUES ({placeholders})", values)


def update_session(conn: sqlite3.Connection, session_id: str, fields: dict[str, Any]) -> bool:
    """Set the given columns of one session; return False if the session does not exist."""
    if "id" in fields:
        raise ValueError(f"the id of session {session_id!r} cannot be changed")
    if not fields:
        raise ValueError(f"no columns given to update in session {session_id!r}")
    values = _encode_session(fields)
    assignments = ", ".join(f"{c} = :{c}" for c in values)
    values["_session_id"] = session_id
    cursor = conn.execute(f"UPDATE sessions SET {assignments} WHERE id = :_session_id", values)
    return cursor.rowcount > 0


def get_session(conn: sqlite3.Connection, session_id: str) -> dict[str, Any] | None:
    """Return one session or None."""
    row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
    return None if row is None else _decode_session(row)


def list_sessions(conn: sqlite3.Connection, owner: str | None) -> list[dict[str, Any]]:
    """Return sessions, newest first, optionally only one owner's."""
    if owner is None:
        rows = conn.execute("SELECT * FROM sessions ORDER BY created DESC, id")
    else:
        rows = conn.execute(
            "SELECT * FROM sessions WHERE owner = ? ORDER BY created DESC, id", (owner,)
        )
    return [_decode_session(r) for r in rows]


def sessions_in_states(conn: sqlite3.Connection, states: Sequence[str]) -> list[dict[str, Any]]:
    """Return sessions whose state is one of states, newest first."""
    # A JSON array keeps the statement static whatever the number of states.
    rows = conn.execute(
        "SELECT * FROM sessions WHERE state IN (SELECT value FROM json_each(?))"
        " ORDER BY created DESC, id",
        (json.dumps(list(states)),),
    )
    return [_decode_session(r) for r in rows]


def delete_session(conn: sqlite3.Connection, session_id: str) -> bool:
    """Delete one session and, by cascade, its output, snapshots, audit and tokens."""
    return conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0


def delete_sessions_ended_before(
    conn: sqlite3.Connection, iso_time: str, states: Sequence[str]
) -> list[str]:
    """Delete sessions in states last updated before iso_time; return their ids."""
    # julianday() parses fractional seconds and "Z" alike, where text comparison would not.
    rows = conn.execute(
        "DELETE FROM sessions WHERE state IN (SELECT value FROM json_each(?))"
        " AND julianday(updated) < julianday(?) RETURNING id",
        (json.dumps(list(states)), iso_time),
    ).fetchall()
    return [str(r[0]) for r in rows]


# -- output -----------------------------------------------------------------------------


def last_output_seq(conn: sqlite3.Connection, session_id: str) -> int:
    """Return the last seq handed out for a session, 0 if none."""
    row = conn.execute(
        "SELECT last_seq FROM output_seq WHERE session_id = ?", (session_id,)
    ).fetchone()
    return 0 if row is None else int(row[0])


def insert_output(
    conn: sqlite3.Connection,
    session_id: str,
    first_seq: int,
    chunks: Sequence[tuple[str, str]],
    time: str,
) -> int:
    """Insert chunks numbered from first_seq in one transaction; return the last seq."""
    last = first_seq + len(chunks) - 1
    with transaction(conn):
        conn.executemany(
            "INSERT INTO output (session_id, seq, category, text, size, time)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                (session_id, first_seq + i, category, text, len(text), time)
                for i, (category, text) in enumerate(chunks)
            ),
        )
        conn.execute(
            "INSERT INTO output_seq (session_id, last_seq) VALUES (?, ?)"
            " ON CONFLICT (session_id) DO UPDATE SET last_seq = excluded.last_seq",
            (session_id, last),
        )
    return last


def read_output(
    conn: sqlite3.Connection, session_id: str, since: int, limit: int
) -> list[dict[str, Any]]:
    """Return up to limit chunks with seq > since, in seq order."""
    rows = conn.execute(
        "SELECT seq, category, text AS output, time FROM output"
        " WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        (session_id, since, limit),
    )
    return [dict(r) for r in rows]


def output_size(conn: sqlite3.Connection, session_id: str) -> int:
    """Return the number of characters stored for a session."""
    row = conn.execute(
        "SELECT COALESCE(SUM(size), 0) FROM output WHERE session_id = ?", (session_id,)
    ).fetchone()
    return int(row[0])


def output_trimmed(conn: sqlite3.Connection, session_id: str) -> bool:
    """Whether trimming deleted some of a session's output.

    Seqs are handed out from 1 without gaps and only trimming deletes rows (the oldest):
    output was dropped when the first row kept is past 1, or none is kept of some handed
    out. Two index lookups, however long the output.
    """
    last, first = conn.execute(
        "SELECT (SELECT last_seq FROM output_seq WHERE session_id = ?),"
        " (SELECT MIN(seq) FROM output WHERE session_id = ?)", (session_id, session_id)
    ).fetchone()
    return bool(last) and (first is None or first > 1)


def trim_output(conn: sqlite3.Connection, session_id: str, max_chars: int) -> int:
    """Delete the oldest chunks until at most max_chars remain; return rows deleted."""
    with transaction(conn):
        # The newest row whose suffix total (itself and everything newer) is too big marks
        # the end of what must go; everything at or before it is deleted.
        row = conn.execute(
            "SELECT seq FROM (SELECT seq, SUM(size) OVER (ORDER BY seq DESC) AS suffix"
            " FROM output WHERE session_id = ?) WHERE suffix > ? ORDER BY seq DESC LIMIT 1",
            (session_id, max_chars),
        ).fetchone()
        if row is None:
            return 0
        cursor = conn.execute(
            "DELETE FROM output WHERE session_id = ? AND seq <= ?", (session_id, row[0])
        )
        return cursor.rowcount


# -- audit ------------------------------------------------------------------------------


def insert_audit(
    conn: sqlite3.Connection,
    session_id: str | None,
    *,
    time: str,
    user: str | None,
    action: str,
    detail: dict[str, Any] | None,
) -> None:
    """Append one audit record."""
    conn.execute(
        "INSERT INTO audit (session_id, time, user, action, detail) VALUES (?, ?, ?, ?, ?)",
        (session_id, time, user, action, None if detail is None else json.dumps(detail)),
    )


def list_audit(conn: sqlite3.Connection, session_id: str) -> list[dict[str, Any]]:
    """Return a session's audit records, oldest first."""
    rows = conn.execute(
        "SELECT id, session_id, time, user, action, detail FROM audit"
        " WHERE session_id = ? ORDER BY id",
        (session_id,),
    )
    records = [dict(r) for r in rows]
    for record in records:
        if record["detail"] is not None:
            record["detail"] = json.loads(record["detail"])
    return records


# -- tokens -----------------------------------------------------------------------------


def insert_token(conn: sqlite3.Connection, record: dict[str, Any]) -> None:
    """Insert one token row."""
    unknown = sorted(set(record) - set(TOKEN_COLUMNS))
    if unknown:
        raise ValueError(
            f"unknown token column(s) {', '.join(map(repr, unknown))}; "
            f"known columns are {', '.join(TOKEN_COLUMNS)}"
        )
    values = {"expires": None, "revoked": 0, **record}
    conn.execute(
        "INSERT INTO tokens (id, session_id, scope, hash, created, expires, revoked)"
        " VALUES (:id, :session_id, :scope, :hash, :created, :expires, :revoked)",
        values,
    )


def list_tokens(conn: sqlite3.Connection, session_id: str) -> list[dict[str, Any]]:
    """Return a session's tokens without their hashes, oldest first."""
    rows = conn.execute(
        "SELECT id, session_id, scope, created, expires, revoked FROM tokens"
        " WHERE session_id = ? ORDER BY created, id",
        (session_id,),
    )
    return [_token(r) for r in rows]


def find_token_by_hash(conn: sqlite3.Connection, token_hash: str) -> dict[str, Any] | None:
    """Return the token with this hash, or None."""
    row = conn.execute(
        "SELECT id, session_id, scope, hash, created, expires, revoked FROM tokens WHERE hash = ?",
        (token_hash,),
    ).fetchone()
    return None if row is None else _token(row)


def revoke_token(conn: sqlite3.Connection, token_id: str) -> bool:
    """Mark one token revoked; return False if no such token exists."""
    return conn.execute("UPDATE tokens SET revoked = 1 WHERE id = ?", (token_id,)).rowcount > 0


def revoke_session_tokens(conn: sqlite3.Connection, session_id: str) -> int:
    """Revoke every live token of a session; return how many were revoked."""
    cursor = conn.execute(
        "UPDATE tokens SET revoked = 1 WHERE session_id = ? AND revoked = 0", (session_id,)
    )
    return cursor.rowcount


def _token(row: sqlite3.Row) -> dict[str, Any]:
    record = dict(row)
    record["revoked"] = bool(record["revoked"])
    return record
