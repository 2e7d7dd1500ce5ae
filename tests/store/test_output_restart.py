"""Output pages of a session from an earlier server run carry the right `truncated` flag
(issue 14.6): the store knows whether retention dropped a session's oldest output, so a
restarted server says so as the server that ran the session did."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.client import DebugServerClient
from jupyter_debug_server.store import Store

from ..support.server_process import ServerProcess

pytestmark = pytest.mark.timeout(180)

TARGETS = Path(__file__).parent.parent / "targets"
RETENTION = 100_000  # characters of output kept per session
FLOOD = 1_000_000  # what flood.py writes: ten times the retention


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    shutil.copytree(TARGETS, root / "targets")
    return root, tmp_path / "state"


def test_the_store_knows_whether_output_was_trimmed(tmp_path: Path) -> None:
    async def body() -> None:
        async with await Store.open(tmp_path / "jds.sqlite") as store:
            for sid in ("none", "kept", "cut", "all"):
                await store.create_session({"id": sid, "name": sid, "debugger": "debugpy",
                                            "request": "launch", "state": "exited",
                                            "owner": "alice", "spec": {}})
            for sid in ("kept", "cut", "all"):
                await store.append_output(sid, [("stdout", "a" * 10), ("stderr", "b" * 10)])
            assert await store.trim_output("kept", 20) == 0
            assert await store.trim_output("cut", 15) == 1
            assert await store.trim_output("all", 0) == 2
            assert [await store.output_trimmed(sid) for sid in ("none", "kept", "cut", "all")
                    ] == [False, False, True, True]
            # More output after every row was trimmed: still trimmed.
            await store.append_output("all", [("stdout", "c")])
            assert await store.output_trimmed("all")

    asyncio.run(body())


def _server(dirs: tuple[Path, Path]) -> ServerProcess:
    root, state = dirs
    server = ServerProcess(root, state, server_args=[
        f"--DebugServerApp.output_retention_chars={RETENTION}"])
    server.start()
    return server


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


def _pages(client: DebugServerClient, sid: str, limit: int) -> list[dict[str, Any]]:
    """Every page of a session's output, from the start."""
    pages, since = [], 0
    while True:
        page = client.output(sid, since, limit)
        pages.append(page)
        if len(page["items"]) < limit:
            return pages
        since = page["next"]


def _run(client: DebugServerClient, program: str, *args: str) -> str:
    model = client.create_session({"program": program, "args": list(args)})
    model = client.wait_settled(model["id"], 60)
    assert (model["state"], model["exit_code"]) == ("exited", 0), model
    return str(model["id"])


def _flood_output() -> str:
    """What flood.py writes: its line over and over, cut at FLOOD characters."""
    line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!@#\n"
    return (line * (FLOOD // len(line) + 1))[:FLOOD]


def _check(client: DebugServerClient, flooded: str, small: str) -> None:
    pages = _pages(client, flooded, 1)
    assert len(pages) > 1 and all(p["truncated"] for p in pages), pages[0]
    items = [i for p in pages for i in p["items"]]
    text = "".join(i["output"] for i in items if i["category"] == "stdout")
    assert items[0]["seq"] > 1 and 0 < len(text) <= RETENTION
    assert _flood_output().endswith(text)  # the newest output is what was kept

    pages = _pages(client, small, 1)
    assert not any(p["truncated"] for p in pages), pages
    assert pages[0]["items"][0]["seq"] == 1
    assert "".join(i["output"] for p in pages for i in p["items"]
                   if i["category"] == "stdout") == "result 6\n"


def test_truncated_is_kept_across_a_server_restart(
        dirs: tuple[Path, Path], servers: list[ServerProcess]) -> None:
    server = _server(dirs)
    servers.append(server)
    with DebugServerClient(f"http://127.0.0.1:{server.port}/", server.token) as client:
        flooded = _run(client, "targets/flood.py", str(FLOOD))
        small = _run(client, "targets/loop.py")
        _check(client, flooded, small)  # as the server that ran them says
    server.stop()

    server = _server(dirs)
    servers.append(server)
    with DebugServerClient(f"http://127.0.0.1:{server.port}/", server.token) as client:
        for sid in (flooded, small):
            assert client.session(sid)["state"] == "exited"  # recorded, not live
        _check(client, flooded, small)
