"""DESIGN.md §4: nothing a session starts is reachable by another OS user; no secrets leak."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from jupyter_debug_server.runner.debuggers.debugpy import pydevd_attach

from ..support.os_users import other_user, system_python

pytestmark = pytest.mark.timeout(120)

SECRET = "s3cr3t-server-token-for-the-leak-test"


def _session_processes(session: Any) -> list[psutil.Process]:
    worker = psutil.Process(session.worker.pid)
    return [worker, *worker.children(recursive=True)]


def _listeners(procs: list[psutil.Process]) -> tuple[list[Any], list[str]]:
    """Listening inet sockets, and paths of Unix sockets, held by `procs`."""
    inet, unix = [], []
    for p in procs:
        for conn in p.net_connections(kind="all"):
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                inet.append(conn)
            elif conn.family == socket.AF_UNIX and conn.laddr:
                unix.append(conn.laddr)
    return inet, unix


_PROBE = r"""
import json, socket, sys
targets = json.loads(sys.argv[1])
reached = []
for kind, where in targets:
    s = socket.socket(socket.AF_UNIX if kind == "unix" else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(where if kind == "unix" else tuple(where))
        reached.append([kind, where])
    except OSError:
        pass
    finally:
        s.close()
for path in sys.argv[2:]:
    try:
        open(path, "rb").read()
        reached.append(["read", path])
    except OSError:
        pass
print(json.dumps(reached))
"""


async def test_session_opens_nothing_reachable_and_leaks_no_secret(
        api: Any, manager: Any, targets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_TOKEN", SECRET)
    status, model = await api("POST", "sessions", {
        "debugger": "debugpy", "program": "targets/loop.py", "stop_on_entry": True})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 30)
    procs = _session_processes(session)
    assert {p.pid for p in procs} >= {session.worker.pid, session.pid}

    inet, unix = _listeners(procs)
    assert inet == [], f"session processes hold inet sockets: {inet}"
    assert unix == [], f"session processes hold named Unix sockets: {unix}"

    for p in procs:
        cmdline = " ".join(p.cmdline())
        assert SECRET not in cmdline and "token" not in cmdline.lower(), cmdline
        assert SECRET not in "".join(f"{k}={v}" for k, v in p.environ().items())
    assert SECRET not in "".join(session._worker_stderr)

    user = other_user()
    if user is None:
        pytest.skip("the second-OS-user check needs root to create a user; ran the rest")
    # Every port on this host that listens, and the session's own /proc files.
    candidates: list[list[Any]] = [
        ["inet", ["127.0.0.1", c.laddr.port]] for c in psutil.net_connections("inet")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.pid in {p.pid for p in procs}]
    secret_files = [f"/proc/{p.pid}/environ" for p in procs]
    # The other user cannot run our interpreter (it may live under /root): use the system one.
    python = system_python()
    if python is None:
        pytest.skip("no /usr/bin/python3 for the other user to run; ran the rest")
    probe = await asyncio.create_subprocess_exec(
        python, "-c", _PROBE, __import__("json").dumps(candidates), *secret_files,
        user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(probe.communicate(), 60)
    assert probe.returncode == 0, err.decode()
    assert out.decode().strip() == "[]", f"another user reached: {out.decode()}"
    await api("DELETE", f"sessions/{model['id']}")


async def test_attach_listener_accepts_only_the_target_pid(tmp_path: Path) -> None:
    """The attach socket lives in a 0700 dir and refuses peers other than the target."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    path = str(private / "s.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)
    listener.setblocking(False)
    connect = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]);"
               " print('connected', flush=True); s.recv(1)")
    # The impostor connects first, so the accept loop must see and refuse it.
    impostor = await asyncio.create_subprocess_exec(
        sys.executable, "-c", connect, path, stdout=asyncio.subprocess.PIPE)
    assert impostor.stdout is not None
    assert await asyncio.wait_for(impostor.stdout.readline(), 30) == b"connected\n"
    target = await asyncio.create_subprocess_exec(sys.executable, "-c", connect, path)
    try:
        accepted = await asyncio.wait_for(pydevd_attach._accept_target(listener, target.pid), 30)
        assert pydevd_attach._peer(accepted) == (target.pid, os.getuid())
        accepted.close()
        # The impostor was refused: its connection was closed, so recv() returned and it exited.
        assert await asyncio.wait_for(impostor.wait(), 30) == 0
    finally:
        for proc in (impostor, target):
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
        listener.close()
        shutil.rmtree(private)
