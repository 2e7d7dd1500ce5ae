"""GET /api/debug/processes: the server user's own processes to attach to, newest first,
without the server's own tree; `?q=` filters; read from /proc off the event loop, where
an entry that vanishes or does not parse is left out."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.runner import processes
from jupyter_debug_server.runner.debuggers import processes as worker_processes

from ..support.jp_server import Server, bearer, issue, launch_stopped
from ..support.openapi import check

pytestmark = pytest.mark.timeout(60)

#: A command line no other process has.
ARGV = ["sleep", "4321.125"]


@pytest.fixture
def stranger() -> Iterator[int]:
    """The pid of a `sleep` of this user that is no descendant of the server (the test's
    own process): its parent shell has exited, so it was re-parented."""
    shell = subprocess.run(["/bin/sh", "-c", f"{' '.join(ARGV)} >/dev/null 2>&1 & echo $!"],
                           capture_output=True, text=True, check=True, timeout=10)
    pid = int(shell.stdout)
    yield pid
    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A `sleep` started by the server's process itself: a descendant of it."""
    process = subprocess.Popen([*ARGV[:1], "4321.25"])
    yield process
    process.kill()
    process.wait(10)


async def test_own_processes_are_listed_newest_first_without_the_server_tree(
        api: Any, stranger: int, child: subprocess.Popen[bytes]) -> None:
    status, listed = await api("GET", "processes")
    check("GET", "/api/debug/processes", status, listed)
    assert status == 200
    by_pid = {p["pid"]: p for p in listed}
    mine = by_pid[stranger]
    assert mine["cmdline"] == ARGV and mine["name"] == "sleep", mine
    started = datetime.datetime.fromisoformat(mine["started"].replace("Z", "+00:00"))
    age = datetime.datetime.now(datetime.timezone.utc) - started
    assert datetime.timedelta(seconds=-2) < age < datetime.timedelta(seconds=60), mine
    assert os.getpid() not in by_pid  # the server
    assert child.pid not in by_pid  # its descendants
    starts = [p["started"] for p in listed]
    assert starts == sorted(starts, reverse=True)
    assert {p["user"] for p in listed} == {processes._user_name(os.getuid())}


async def test_q_filters_on_name_and_command_line_in_any_case(
        api: Any, stranger: int) -> None:
    status, found = await api("GET", "processes", q="4321.125")
    assert status == 200 and [p["pid"] for p in found] == [stranger], found
    status, found = await api("GET", "processes", q="SLEEP")
    assert status == 200 and stranger in [p["pid"] for p in found], found
    assert all("sleep" in (p["name"] + " ".join(p["cmdline"])).lower() for p in found)
    status, found = await api("GET", "processes", q="no such process 4321")
    assert status == 200 and found == []


@pytest.mark.usefixtures("targets")
async def test_only_jupyter_users_may_list(api: Any, manager: Any, server: Server) -> None:
    for headers, query in (({}, ""), ({"Authorization": "token nope"}, "")):
        status, body = await server.fetch("GET", "api/debug/processes", headers, query)
        assert status == 403, body
    sid = await launch_stopped(api, manager)
    try:
        token = await issue(api, sid, "control")
        status, body = await server.fetch("GET", "api/debug/processes",
                                          bearer(token["secret"]))
        assert status == 403 and body["reason"] == "token-refused", body
        status, body = await server.fetch("GET", "api/debug/processes", server.token_header,
                                          "pid=1")
        assert status == 400 and body["reason"] == "unknown-argument", body
    finally:
        await api("DELETE", f"sessions/{sid}")


def test_vanishing_malformed_and_kernel_entries_are_left_out(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stranger: int) -> None:
    real_open = open
    me, parent = os.getpid(), os.getppid()
    with real_open(f"/proc/{stranger}/stat", "rb") as f:
        stat = f.read()
    head, _, tail = stat.rpartition(b") ")
    fields = tail.split(b" ")
    fields[6] = str(0x00200000).encode()  # PF_KTHREAD
    (tmp_path / "kernel-stat").write_bytes(head + b") " + b" ".join(fields))
    (tmp_path / "status").write_bytes(b"Name:\tbroken\nUid:\tx\n")
    fakes = {f"/proc/{me}/stat": tmp_path / "gone",  # vanished
             f"/proc/{parent}/status": tmp_path / "status",  # malformed
             f"/proc/{stranger}/stat": tmp_path / "kernel-stat"}  # a kernel thread

    def fake_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        return real_open(fakes.get(str(path), path), *args, **kwargs)

    assert stranger in {p["pid"] for p in processes.own_processes(-1)}
    # (stat is read by the worker's module, which the server's shares; status by the server's)
    monkeypatch.setattr(processes, "open", fake_open, raising=False)
    monkeypatch.setattr(worker_processes, "open", fake_open, raising=False)
    pids = {p["pid"] for p in processes.own_processes(-1)}
    assert pids and not pids & {me, parent, stranger}, pids
