"""Attach refusals for all three debuggers: every cause named, with its fix, nothing started.

The attaches that succeed are in test_sessions.py and debuggers/test_native_adapters.py;
here are the processes a session must not or cannot attach to.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from jupyter_debug_server.runner.debuggers import attachable

from ..support.dap_client import start_worker
from ..support.debuggers import WORKERS
from ..support.native import SOURCES
from ..support.os_users import OTHER_USER, os_user

pytestmark = pytest.mark.timeout(120)
TARGETS = Path(__file__).parent.parent / "targets"


@asynccontextmanager
async def _traced_waiter() -> AsyncIterator[tuple[int, int]]:
    """A Python waiter already ptrace'd by another process: (its pid, the tracer's pid)."""
    tracer = await asyncio.create_subprocess_exec(
        sys.executable, str(TARGETS / "tracer.py"), sys.executable, str(TARGETS / "waiter.py"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert tracer.stdout is not None and tracer.stdin is not None
    try:
        line = await asyncio.wait_for(tracer.stdout.readline(), 30)
        assert line.strip().isdigit(), line
        yield int(line), tracer.pid
    finally:
        tracer.stdin.close()
        await asyncio.wait_for(tracer.wait(), 30)


@pytest.fixture
def foreign_pid() -> Iterator[tuple[int, str]]:
    """A live process of another user: one we start as jds-intruder (as root), else init."""
    if os.geteuid() != 0:
        yield 1, pwd.getpwuid(os.stat("/proc/1").st_uid).pw_name
        return
    user = os_user(OTHER_USER)
    proc = subprocess.Popen(["sleep", "600"], user=user.pw_uid, group=user.pw_gid)
    try:
        yield proc.pid, OTHER_USER
    finally:
        proc.kill()
        proc.wait()


async def _refused(api: Any, manager: Any, body: dict[str, Any], reason: str,
                   *needles: str) -> str:
    """POST an attach spec; it must get 400 `reason` naming `needles`, and start nothing."""
    status, _ = await api("GET", "sessions")  # the extension is ready: manager exists
    assert status == 200
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    sessions = set(manager.sessions)
    status, error = await api("POST", "sessions", body)
    assert status == 400 and error["reason"] == reason, error
    for needle in needles:
        assert needle in error["message"], (needle, error["message"])
    assert set(manager.sessions) == sessions
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= children
    return str(error["message"])


async def test_attach_refusals_name_the_cause(
        api: Any, manager: Any, debugger: str, foreign_pid: tuple[int, str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = {"debugger": debugger, "request": "attach"}
    gone = await asyncio.create_subprocess_exec("true")
    await gone.wait()  # a pid that existed and is now gone
    message = await _refused(api, manager, {**spec, "pid": gone.pid}, "not-found")
    assert message == f"there is no process with pid {gone.pid} to attach to"

    pid, owner = foreign_pid
    await _refused(api, manager, {**spec, "pid": pid}, "not-permitted",
                   f"process {pid} belongs to another user ({owner})")

    async with _traced_waiter() as (traced, tracer):
        await _refused(api, manager, {**spec, "pid": traced}, "ptrace-refused",
                       f"process {traced} (python", f"traced by process {tracer}",
                       "detach that one first")

    # Yama, read from where the kernel publishes it (a file we write: this host has none).
    scope = tmp_path / "ptrace_scope"
    scope.write_text("3\n")
    monkeypatch.setattr(attachable, "YAMA_SCOPE", str(scope))
    waiter = await asyncio.create_subprocess_exec(
        sys.executable, str(TARGETS / "waiter.py"), stdout=asyncio.subprocess.PIPE)
    try:
        await _refused(api, manager, {**spec, "pid": waiter.pid}, "ptrace-refused",
                       "kernel.yama.ptrace_scope = 3", "launch the program under the debugger")
    finally:
        waiter.kill()
        await waiter.wait()


def test_standalone_workers_refuse_the_same_way(debugger: str) -> None:
    async def scenario() -> None:
        async with _traced_waiter() as (traced, tracer):
            for pid, needle in ((traced, f"traced by process {tracer}"),
                                (2**22 + 7, "there is no process with pid")):
                client, worker = await start_worker(WORKERS[debugger])
                await client.request("initialize", {"adapterID": debugger})
                with pytest.raises(Exception, match=needle):
                    await client.request("attach", {"processId": pid})
                client.channel.close()
                await asyncio.wait_for(worker.wait(), 30)

    asyncio.run(scenario())


def test_ptrace_hint_names_yama_scope_1_and_its_fixes(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """After a debugger's attach failed with EPERM under Yama 1, the hint names the fixes."""
    scope = tmp_path / "ptrace_scope"
    scope.write_text("1\n")
    monkeypatch.setattr(attachable, "YAMA_SCOPE", str(scope))
    monkeypatch.setattr(attachable, "has_cap_sys_ptrace", lambda: False)
    message = attachable.explain_attach_failure(4242, "gdb: ptrace: Operation not permitted.")
    assert message.startswith("cannot attach to process 4242: gdb: ptrace: Operation not")
    for fix in ("kernel.yama.ptrace_scope = 1", "PR_SET_PTRACER",
                "sysctl -w kernel.yama.ptrace_scope=0", "launch the program"):
        assert fix in message
    assert attachable.explain_attach_failure(4242, "no such file") == (
        "cannot attach to process 4242: no such file")


# -- the server's own processes and its sessions' ----------------------------------------


@pytest.fixture
def waiter(jp_root_dir: Path) -> str:
    """The native waiter target, compiled into root_dir (relative path for the spec)."""
    subprocess.run(["gcc", "-g", "-O0", "-pthread", "-o", str(jp_root_dir / "waiter"),
                    str(SOURCES / "waiter.c")], check=True, capture_output=True)
    return "waiter"


@pytest.mark.parametrize("which", ["init", "server", "server-parent"])
def test_attach_refuses_init_and_the_server(which: str) -> None:
    """Refused by the check itself, before any ptrace, whatever our uid (CI runs as root,
    where the uid comparison lets every process through)."""
    pid = {"init": 1, "server": os.getpid(), "server-parent": os.getppid()}[which]
    with pytest.raises(attachable.AttachRefused) as refused:
        attachable.check_attachable(pid)
    assert refused.value.reason == "not-permitted"
    assert f"process {pid} (" in refused.value.message


async def test_attach_to_init_is_refused(api: Any, debugger: str) -> None:
    status, body = await api("POST", "sessions", {"debugger": debugger, "request": "attach",
                                                  "pid": 1})
    assert status == 400, body
    assert body["reason"] == "not-permitted"
    assert "process 1" in body["message"] and "init" in body["message"]


async def test_attach_to_a_sessions_processes_is_refused(api: Any, manager: Any,
                                                         waiter: str) -> None:
    status, model = await api("POST", "sessions", {
        "debugger": "gdb", "program": waiter, "stop_on_entry": True})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 60), session.error
    gdb = [p for p in psutil.Process(session.worker.pid).children(recursive=True)
           if p.name().startswith("gdb")]
    assert len(gdb) == 1, gdb
    ours = {"worker": session.worker.pid, "gdb": gdb[0].pid, "program": session.pid}
    for what, pid in ours.items():
        status, body = await api("POST", "sessions", {"debugger": "gdb", "request": "attach",
                                                      "pid": pid})
        assert status == 400, (what, body)
        assert body["reason"] == "not-permitted", (what, body)
        assert "belongs to a debug session" in body["message"], (what, body)
    await api("DELETE", f"sessions/{session.id}")
