"""The stop history outlives the session and the server: snapshots of an `exited` session
and of one a killed server left `lost` are read back after a restart, on every debugger.
Driven as a user would: a real server process and the client library."""

from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.client import DebugServerClient
from jupyter_debug_server.client.events import EventStream

from ..support.native import compile_targets, marker_line
from ..support.server_process import ServerProcess

TARGETS = Path(__file__).parent.parent / "targets"
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def server(tmp_path: Path, debugger: str) -> Iterator[ServerProcess]:
    root = tmp_path / "root"
    shutil.copytree(TARGETS, root / "targets")
    if debugger != "debugpy":
        (root / "native").mkdir()
        compile_targets(root / "native")
    srv = ServerProcess(root, tmp_path / "state")
    srv.start()
    yield srv
    srv.stop()


def _spec(server: ServerProcess, debugger: str) -> dict[str, Any]:
    source = "targets/history.py" if debugger == "debugpy" else "native/history.c"
    program = source if debugger == "debugpy" else "native/history"
    line = marker_line(server.root / source, "HISTORY-LOOP")
    return {"debugger": debugger, "program": program, "watches": ["i * 10"],
            "breakpoints": [{"path": source, "line": line}]}


async def _first_snapshot(client: DebugServerClient, sid: str) -> dict[str, Any]:
    """The session's first snapshot, once taken (the stream is open before the look)."""
    stream = await EventStream.connect(client, sid, only="snapshot")
    try:
        page = await asyncio.to_thread(client.snapshots, sid)
        if page["items"]:
            return dict(page["items"][0])
        async for snapshot in stream.snapshots():
            return snapshot
        raise AssertionError("the session ended without a snapshot")
    finally:
        stream.close()


def test_snapshots_are_read_back_after_exit_and_after_a_restart(
        server: ServerProcess, debugger: str) -> None:
    url = f"http://127.0.0.1:{server.port}"
    with DebugServerClient(url, server.token) as client, \
            DebugServerClient(url, server.token) as control:
        exited = client.create_session(_spec(server, debugger))["id"]
        seen: list[dict[str, Any]] = []

        def on_snapshot(snapshot: dict[str, Any]) -> None:
            seen.append(snapshot)
            control.continue_(exited)  # this stop's snapshot is finished: run on

        final = client.follow_snapshots(exited, on_snapshot)
        assert final["state"] == "exited", final
        assert [s["seq"] for s in seen] == [1, 2, 3, 4, 5]
        assert [s["watches"][0]["value"] for s in seen] == ["0", "10", "20", "30", "40"]
        assert all(s["complete"] for s in seen), seen

        lost = client.create_session(_spec(server, debugger))["id"]
        first = asyncio.run(_first_snapshot(client, lost))
        assert client.snapshot(lost, 1) == first  # (read: it is in the store)

    server.signal(signal.SIGKILL)
    server.wait(10)
    server.start()
    with DebugServerClient(url, server.token) as client:
        assert client.session(exited)["state"] == "exited"
        assert list(client.iter_snapshots(exited)) == seen
        assert client.snapshot(exited, 4) == seen[3]
        model = client.session(lost)
        assert model["state"] == "lost" and model["links"]["snapshots"].endswith(
            f"/sessions/{lost}/snapshots"), model
        page = client.snapshots(lost)
        assert page["items"] == [first] and page["state"] == "lost"
        # Following a session of an earlier run prints its history and returns.
        again: list[dict[str, Any]] = []
        assert client.follow_snapshots(lost, again.append)["state"] == "lost"
        assert again == [first]
