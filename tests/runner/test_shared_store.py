"""Two Jupyter servers of one user share the store (by default one database under Jupyter's
data dir): at start-up a server recovers (marks `lost`, reaps, revokes tokens) only the
active sessions whose recording server is gone, and leaves alone those another live server
runs, matched by pid, start time and boot like the reaper's processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from jupyter_debug_server.runner.config import RunnerConfig
from jupyter_debug_server.runner.errors import SessionStateError
from jupyter_debug_server.runner.manager import SessionManager
from jupyter_debug_server.runner.processes import boot_id, process_start_time
from jupyter_debug_server.store import Store, queries

from ..support.server_process import ServerProcess, python_targets_server

pytestmark = pytest.mark.timeout(120)

Spawn = Callable[[], "subprocess.Popen[bytes]"]
#: Older than the retention: were the row final, recover() would delete it.
OLD = "2024-01-01T00:00:00.000000Z"


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start sleeping processes in groups of their own (standing in for the other server,
    or for a session's worker); whatever is left is killed at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                        start_new_session=True))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def _row(sid: str, worker: subprocess.Popen[bytes],
         server: subprocess.Popen[bytes] | None = None, **fields: Any) -> dict[str, Any]:
    """An active session of `server` (None: a row without the server columns) whose
    worker group is `worker`."""
    row = {"id": sid, "state": "running", "owner": "alice", "created": OLD, "updated": OLD,
           "worker_pid": worker.pid, "worker_start_time": process_start_time(worker.pid),
           "boot_id": boot_id()}
    if server is not None:
        row |= {"server_pid": server.pid, "server_start_time": process_start_time(server.pid)}
    return row | fields


async def _recover(db: Path, row: dict[str, Any] | None = None) -> dict[str, Any]:
    """Store `row` with a token (unless None: it is in `db` already), run recover() as a
    starting server does; return what it marked lost, the row and the token after it."""
    async with await Store.open(db) as store:
        if row is not None:
            await store.create_session(row)
        sid = row["id"] if row is not None else "old"
        await store.insert_token({"id": f"t-{sid}", "session_id": sid, "scope": "control",
                                  "hash": f"h-{sid}"})
        manager = SessionManager(store, RunnerConfig(root_dir=str(db.parent)))
        try:
            lost = await manager.recover()
        finally:
            manager.blocking.shutdown(wait=True)
        after = await store.get_session(sid)
        assert after is not None, "recover() deleted an active session"
        return {"lost": lost, "row": after, "token": (await store.list_tokens(sid))[0]}


def test_a_session_of_a_live_server_is_left_alone(tmp_path: Path, spawn: Spawn) -> None:
    server, worker = spawn(), spawn()
    found = asyncio.run(_recover(tmp_path / "jds.sqlite", _row("s1", worker, server)))
    assert found["lost"] == []
    assert (found["row"]["state"], found["row"]["error"]) == ("running", None)
    assert found["row"]["updated"] == OLD  # untouched, and not taken by the retention
    assert not found["token"]["revoked"]
    assert worker.poll() is None and server.poll() is None


@pytest.mark.parametrize("gone", ["exited", "zombie"])
def test_a_session_whose_server_is_gone_is_lost_and_reaped(
        tmp_path: Path, spawn: Spawn, gone: str) -> None:
    server, worker = spawn(), spawn()
    row = _row("s1", worker, server)
    server.kill()
    if gone == "zombie":  # dead, its parent has not waited for it yet: /proc still has it
        os.waitid(os.P_PID, server.pid, os.WEXITED | os.WNOWAIT)
        assert process_start_time(server.pid) == row["server_start_time"]
    else:
        server.wait()
    found = asyncio.run(_recover(tmp_path / "jds.sqlite", row))
    assert found["lost"] == ["s1"] and found["row"]["state"] == "lost"
    assert found["token"]["revoked"]
    assert worker.wait(10) == -signal.SIGKILL


def test_a_reused_server_pid_does_not_count(tmp_path: Path, spawn: Spawn) -> None:
    """A live process with the recorded pid but another start time is not the server."""
    server, worker = spawn(), spawn()
    row = _row("s1", worker, server)
    row["server_start_time"] += 1
    found = asyncio.run(_recover(tmp_path / "jds.sqlite", row))
    assert found["lost"] == ["s1"] and found["row"]["state"] == "lost"
    assert worker.wait(10) == -signal.SIGKILL
    assert server.poll() is None  # only the session's groups are reaped


def test_a_server_of_another_boot_does_not_count(tmp_path: Path, spawn: Spawn) -> None:
    server, worker = spawn(), spawn()
    row = _row("s1", worker, server, boot_id="another-boot")
    found = asyncio.run(_recover(tmp_path / "jds.sqlite", row))
    assert found["lost"] == ["s1"] and found["row"]["state"] == "lost"
    # (Processes of another boot are never reaped: test_worker_hardening.py.)
    assert worker.poll() is None and server.poll() is None


def test_a_row_of_the_previous_schema_is_recovered_as_before(
        tmp_path: Path, spawn: Spawn) -> None:
    worker = spawn()
    db = tmp_path / "jds.sqlite"
    conn = sqlite3.connect(db)
    for script in queries.MIGRATIONS[:4]:
        conn.executescript(script)
    conn.execute("INSERT INTO sessions (id, state, created, updated, worker_pid, "
                 "worker_start_time, boot_id) VALUES ('old', 'running', ?, ?, ?, ?, ?)",
                 (OLD, OLD, worker.pid, process_start_time(worker.pid), boot_id()))
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    found = asyncio.run(_recover(db))
    assert found["lost"] == ["old"] and found["row"]["state"] == "lost"
    assert found["row"]["server_pid"] is None
    assert found["token"]["revoked"]
    assert worker.wait(10) == -signal.SIGKILL


def test_another_servers_session_is_refused_with_its_server(
        tmp_path: Path, spawn: Spawn) -> None:
    """Driving or ending it here answers 409 naming the server that runs it; once that
    server is gone, the sentence of an earlier server's session."""
    server, worker = spawn(), spawn()

    async def body() -> None:
        async with await Store.open(tmp_path / "jds.sqlite") as store:
            await store.create_session(_row("s1", worker, server))
            manager = SessionManager(store, RunnerConfig(root_dir=str(tmp_path)))
            try:
                for attempt in (lambda: manager.live("s1"),
                                lambda: manager.terminate("s1", "alice")):
                    with pytest.raises(SessionStateError) as refused:
                        await attempt()
                    assert str(refused.value) == (
                        f"session s1 is run by another Jupyter server of this user (pid "
                        f"{server.pid}); use that server's URL to drive or end it (this one "
                        "only reads its recorded model and output)")
                assert (await manager.model("s1", "/"))["state"] == "running"
                server.kill()
                server.wait()
                with pytest.raises(SessionStateError, match="run by an earlier server"):
                    await manager.live("s1")
            finally:
                manager.blocking.shutdown(wait=True)

    asyncio.run(body())
    assert worker.poll() is None


def test_a_second_server_on_the_same_database_leaves_the_first_ones_session_alone(
        tmp_path: Path) -> None:
    """Real servers: A runs a session stopped on entry, B starts on the same data dir and
    database; A's session stays stopped and steppable through A, B refuses to drive it."""
    with python_targets_server(tmp_path) as first:
        status, model = first.request("POST", "/api/debug/sessions", {
            "debugger": "debugpy", "program": "targets/loop.py", "stop_on_entry": True})
        assert status == 201 and model["state"] == "stopped", model
        url = f"/api/debug/sessions/{model['id']}"
        target = psutil.Process(model["pid"])
        assert first.proc is not None
        second = ServerProcess(first.root, first.state)
        second.start()
        try:
            assert not [line for line in second.log if "Reaping" in line or "lost" in line]
            status, after = first.request("GET", url)
            assert status == 200 and after["state"] == "stopped", after
            status, stepped = first.request("POST", f"{url}/step", {"kind": "over"})
            assert status == 200 and stepped["state"] == "stopped", stepped
            status, seen = second.request("GET", url)
            assert status == 200 and seen["id"] == model["id"] and seen["error"] is None
            for method, path, body in (("POST", f"{url}/step", {"kind": "over"}),
                                       ("DELETE", url, None)):
                status, error = second.request(method, path, body)
                assert status == 409 and error["reason"] == "wrong-state", error
                assert (f"run by another Jupyter server of this user (pid {first.proc.pid})"
                        in error["message"]), error
        finally:
            second.stop()
        # B's shutdown ended only its own sessions.
        assert target.is_running()
        status, stepped = first.request("POST", f"{url}/step", {"kind": "over"})
        assert status == 200 and stepped["state"] == "stopped", stepped
