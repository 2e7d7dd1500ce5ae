"""A session's whole process tree is reachable and ends with it (DESIGN.md §5).

Real gdb, lldb-dap and lldb-server, killed with SIGKILL or frozen with SIGSTOP: a dead
debugger ends its session with the cause recorded; a frozen one does not outlive DELETE
(the worker records the debugger's process group, which runs in a session of its own);
a later server's reaper kills every recorded group.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from jupyter_debug_server.runner.manager import _reap_survivors
from jupyter_debug_server.runner.processes import boot_id, process_start_time

from ..support.native import SOURCES

pytestmark = pytest.mark.timeout(120)

FINAL = {"exited", "terminated", "failed", "lost"}


@pytest.fixture
def waiter(jp_root_dir: Path) -> str:
    """The native waiter target, compiled into root_dir (relative path for the spec)."""
    subprocess.run(["gcc", "-g", "-O0", "-pthread", "-o", str(jp_root_dir / "waiter"),
                    str(SOURCES / "waiter.c")], check=True, capture_output=True)
    return "waiter"


async def _stopped_session(api: Any, manager: Any, debugger: str, program: str) -> Any:
    status, model = await api("POST", "sessions", {
        "debugger": debugger, "program": program, "stop_on_entry": True})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 60), session.error
    return session


def _tree(session: Any) -> list[psutil.Process]:
    assert session.worker is not None
    return psutil.Process(session.worker.pid).children(recursive=True)


def _named(session: Any, prefix: str) -> psutil.Process:
    found = [p for p in _tree(session) if p.name().startswith(prefix)]
    assert found, f"no {prefix} among {[p.name() for p in _tree(session)]}"
    return found[0]


def _ignores(pid: int, signum: int) -> bool:
    """Whether process `pid` ignores signal `signum` (the SigIgn mask of /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:"))
    return bool(int(mask, 16) >> (signum - 1) & 1)


async def _gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """The processes still alive after `timeout` seconds (checked until then)."""
    deadline = time.monotonic() + timeout
    alive = procs
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        await asyncio.sleep(0.05)  # polling /proc: the kernel has no event for another's exit
    return alive


@pytest.mark.parametrize(("debugger", "victim", "cause"), [
    ("gdb", "gdb", "gdb exited unexpectedly (signal 9)"),
    ("lldb", "lldb-dap", "lldb-dap exited unexpectedly (signal 9)"),
    ("lldb", "lldb-server", "lldb lost the program"),
])
async def test_a_killed_debugger_ends_the_session(api: Any, manager: Any, waiter: str,
                                                  debugger: str, victim: str,
                                                  cause: str) -> None:
    session = await _stopped_session(api, manager, debugger, waiter)
    tree = _tree(session)
    # The program has the default SIGPIPE, as from a shell (Python's ignored one, once
    # inherited through our exec stub, made `prog | head` run on after head was gone).
    assert not _ignores(_named(session, "waiter").pid, signal.SIGPIPE)
    if victim == "lldb-server":
        # lldb-dap must outlive its lldb-server to say so: a write to the dead server's
        # socket killed it with SIGPIPE when that was not ignored (seen in CI).
        assert _ignores(_named(session, "lldb-dap").pid, signal.SIGPIPE)
    _named(session, victim).send_signal(signal.SIGKILL)
    assert await session.wait_for(lambda: session.state in FINAL, 20), (
        f"the session is still {session.state} after its {victim} was killed")
    assert session.state == "failed" and session.error and cause in session.error, (
        session.state, session.error)
    status, model = await api("GET", f"sessions/{session.id}")
    assert status == 200 and model["state"] == "failed" and cause in model["error"]
    assert not await _gone(tree, 10), "processes of the session outlived it"


@pytest.mark.parametrize(("debugger", "victim"), [("gdb", "gdb"), ("lldb", "lldb-dap")])
async def test_a_frozen_debugger_does_not_outlive_delete(api: Any, manager: Any, waiter: str,
                                                         debugger: str, victim: str) -> None:
    session = await _stopped_session(api, manager, debugger, waiter)
    tree = _tree(session)
    frozen = _named(session, victim)
    # The worker announced the debugger's group, and the server checked it is its child.
    assert [pid for pid, _ in session.process_groups] == [frozen.pid]
    row = await manager.store.get_session(session.id)
    assert row["process_groups"] == [[frozen.pid, process_start_time(frozen.pid)]]
    frozen.send_signal(signal.SIGSTOP)
    status, model = await api("DELETE", f"sessions/{session.id}")
    assert status == 200 and model["state"] in FINAL, model
    alive = await _gone(tree, 10)
    assert not alive, f"left running after DELETE: {[(p.pid, p.name()) for p in alive]}"


def test_reaper_kills_every_recorded_group(tmp_path: Path) -> None:
    """A later server's reaper kills the debugger's group (leader and members, e.g.
    lldb-dap and its lldb-server), frozen or not, matched by pid, start time and boot."""
    child = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', " \
            "'import time; time.sleep(60)']); print('up', flush=True); time.sleep(60)"
    leader = subprocess.Popen([sys.executable, "-c", child], start_new_session=True,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert leader.stdout is not None and leader.stdout.readline().strip() == "up"
        group = psutil.Process(leader.pid)
        members = [group, *group.children()]
        os.killpg(leader.pid, signal.SIGSTOP)  # frozen, as by the faults suite
        started = process_start_time(leader.pid)
        row = {"id": "s1", "worker_pid": None, "pid": 999_999_999, "pid_start_time": 1.0,
               "boot_id": boot_id(), "process_groups": [[leader.pid, started]]}
        _reap_survivors(row)
        leader.wait(10)
        alive = asyncio.run(_gone(members[1:], 10))
        assert not alive, "a member of the recorded group survived the reaper"
    finally:
        if leader.poll() is None:
            os.killpg(leader.pid, signal.SIGKILL)
            leader.wait()


def test_reaper_leaves_a_reused_pid_alone() -> None:
    """Same pid, other start time: not ours, never signalled."""
    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        row = {"id": "s2", "worker_pid": None, "pid": None, "boot_id": boot_id(),
               "process_groups": [[other.pid, 1.0]]}
        _reap_survivors(row)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
