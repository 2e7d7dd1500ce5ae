"""OS isolation on a hub that spawns real users (LocalProcessSpawner): jds-bob's processes
reach none of jds-alice's worker channels, forward ports, store files or targets, and her
targets run as her.

Needs root (to create the users with useradd and to run the hub that spawns them); skipped
with that reason otherwise."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from ..support.forward import ForwardProcess
from ..support.os_users import os_user, system_python
from .client import Report, UserServer
from .hub import RUNNING, Hub, HubOptions, running_hub, seed_home

ALICE, BOB = "jds-alice", "jds-bob"
PROBE = Path(__file__).with_name("probe.py")

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(os.geteuid() != 0, reason="OS isolation needs root: to create the "
                       "users jds-alice and jds-bob with useradd and to run a hub whose "
                       "LocalProcessSpawner starts servers as them"),
]


def as_user(user: pwd.struct_passwd) -> dict[str, Any]:
    """create_subprocess_exec's arguments that run a process as `user` alone."""
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [],
            "cwd": user.pw_dir}


@pytest.fixture(scope="module")
def os_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A hub with LocalProcessSpawner whose servers run as jds-alice and jds-bob."""
    users = [os_user(ALICE, home=True), os_user(BOB, home=True)]
    with running_hub(HubOptions(users=(ALICE, BOB), spawner="localprocess"),
                     tmp_path_factory.mktemp("os-hub")) as hub:
        for user in users:
            # The servers run the hub venv's Python as these users: they must reach it.
            check = subprocess.run(
                [str(hub.venv / "bin" / "python"), "-c", "import jupyter_debug_server"],
                user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/",
                capture_output=True, text=True, check=False)
            assert check.returncode == 0, (
                f"{user.pw_name} cannot run the hub's venv {hub.venv}: run "
                f"scripts/hub_setup.sh as root, which puts it where they can\n{check.stderr}")
            seed_home(Path(user.pw_dir), user.pw_uid, user.pw_gid)
            hub.spawn(user.pw_name)
        RUNNING.append(hub)
        try:
            yield hub
        finally:
            RUNNING.remove(hub)
    for user in users:
        # Nothing of theirs runs any more (the hub's tree was stopped): the users go too.
        subprocess.run(["userdel", "--remove", user.pw_name], capture_output=True,
                       check=False)


def tree_of(pid: int) -> list[psutil.Process]:
    """A process and all its descendants."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


async def test_alices_server_workers_and_targets_run_as_alice(os_hub: Hub) -> None:
    alice_uid = pwd.getpwnam(ALICE).pw_uid
    alice = UserServer(os_hub, ALICE)
    sid = await alice.launch_stopped()
    try:
        _, model = await alice.call("GET", f"sessions/{sid}")
        target = psutil.Process(model["pid"])
        assert set(target.uids()) == {alice_uid}, target.uids()
        tree = tree_of(os_hub.server_pid(ALICE))
        assert target in tree
        assert {p.pid: set(p.uids()) for p in tree} == {p.pid: {alice_uid} for p in tree}
        # Her store is hers alone: a 0600 file, in folders only she can enter.
        store = Path(pwd.getpwnam(ALICE).pw_dir) / ".local/share/jupyter/jupyter_debug_server.db"
        assert store.stat().st_uid == alice_uid and store.stat().st_mode & 0o077 == 0
    finally:
        await alice.call("DELETE", f"sessions/{sid}")


async def test_bob_reaches_none_of_alices_channels_ports_files_or_targets(
        os_hub: Hub, report: Report) -> None:
    alice_user, bob_user = pwd.getpwnam(ALICE), pwd.getpwnam(BOB)
    python = system_python()
    assert python is not None, "no /usr/bin/python3 for jds-bob to run"
    alice = UserServer(os_hub, ALICE)
    sid = await alice.launch_stopped()
    _, model = await alice.call("GET", f"sessions/{sid}")
    # Her IDE's forward, run as her: the one port a session adds on the host.
    forward = ForwardProcess(await asyncio.create_subprocess_exec(
        str(os_hub.venv / "bin" / "python"), "-m", "jupyter_debug_server.cli", "forward",
        sid, "--port", "--url", alice.url_base,
        env={"PATH": "/usr/bin:/bin", "HOME": alice_user.pw_dir,
             "JUPYTER_DEBUG_SERVER_TOKEN": alice.token},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, **as_user(alice_user)))
    try:
        port = await forward.port()
        plan = attempts(os_hub, model, port, alice_user, UserServer(os_hub, BOB).token)
        probe = await asyncio.create_subprocess_exec(
            python, "-I", "-c", PROBE.read_text(), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            **{**as_user(bob_user), "cwd": "/"})
        out, err = await asyncio.wait_for(
            probe.communicate(json.dumps(plan).encode()), 120)
        assert probe.returncode == 0, err.decode()
        outcomes = json.loads(out)
        for name, outcome in outcomes:
            report.add(f"jds-bob's process: {name}", outcome, "refused")
        reached = [f"{name}: {outcome}" for name, outcome in outcomes
                   if outcome.startswith("REACHED")]
        assert not reached, "jds-bob reached:\n" + "\n".join(reached)
        assert len(outcomes) == len(plan)
        # The forward refused him by his uid, before reading a byte, and still serves her
        # session (which is where it was).
        refusal = await forward.log_line("refused the connection from 127.0.0.1:")
        assert f"uid {bob_user.pw_uid} ({BOB})" in refusal, refusal
        assert "joined session" not in "".join(forward.stderr)
        _, after = await alice.call("GET", f"sessions/{sid}")
        assert after["state"] == "stopped" and after["stopped"] == model["stopped"], after
        # Her forward ends with her session (see test_alice.py: not killed).
        await alice.call("DELETE", f"sessions/{sid}")
        assert await forward.wait() == 0, "".join(forward.stderr)
    finally:
        await forward.stop()
        await alice.call("DELETE", f"sessions/{sid}")


def attempts(hub: Hub, model: dict[str, object], forward_port: int,
             alice: pwd.struct_passwd, bob_token: str) -> list[list[object]]:
    """What bob tries: [attempt, kind, target] for probe.py."""
    server = psutil.Process(hub.server_pid(ALICE))
    tree = tree_of(server.pid)
    plan: list[list[object]] = []
    for proc in tree:
        label = _label(proc, server.pid, model["pid"])
        plan += [[f"read /proc/<{label}>/environ", "read", f"/proc/{proc.pid}/environ"],
                 [f"list /proc/<{label}>/fd", "listdir", f"/proc/{proc.pid}/fd"],
                 [f"ptrace-attach <{label}>", "ptrace", proc.pid],
                 [f"signal <{label}>", "signal", proc.pid]]
        # The channels are inherited socket pairs whose numbers argv shows (as any argv on
        # the host): open them through /proc.
        for fd in _channel_fds(proc):
            plan.append([f"open <{label}>'s channel /proc/<pid>/fd/{fd}", "read",
                         f"/proc/{proc.pid}/fd/{fd}"])
    listening = {c.laddr.port: c.pid for c in psutil.net_connections("inet")
                 if c.status == psutil.CONN_LISTEN and c.laddr and c.pid in
                 {p.pid for p in tree}}
    for port, pid in sorted(listening.items()):
        if pid == server.pid:
            # Her server's own port is the proxy's way in: bob may connect, and must be
            # refused by its authentication even without the proxy in front.
            plan.append([f"GET her server's port directly with his hub token (:{port})",
                         "http", [port, f"/user/{ALICE}/api/debug/sessions", bob_token]])
        else:
            plan.append([f"DAP to a port of her session's processes (:{port})", "dap", port])
    for conn in psutil.net_connections("unix"):
        if conn.pid in {p.pid for p in tree} and conn.laddr:
            plan.append([f"connect to her Unix socket {conn.laddr}", "unix", conn.laddr])
    plan.append(["DAP initialize to her forward's port", "dap", forward_port])
    home = Path(alice.pw_dir)
    store = home / ".local/share/jupyter/jupyter_debug_server.db"
    plan += [["read her store (jupyter_debug_server.db)", "read", str(store)],
             ["read her store's WAL", "read", f"{store}-wal"],
             ["list her home", "listdir", str(home)],
             ["read her target program (targets/loop.py)", "read",
              str(home / "targets" / "loop.py")],
             ["list her runtime dir", "listdir", str(home / ".local/share/jupyter/runtime")]]
    return plan


def _label(proc: psutil.Process, server: int, target: object) -> str:
    if proc.pid == server:
        return "her single-user server"
    if proc.pid == target:
        return "her target"
    cmd = " ".join(proc.cmdline())
    if match := re.search(r"jupyter_debug_server\.([\w.]+)", cmd):
        return f"her {match[1].rsplit('.', 1)[-1]} process"
    return f"her process {proc.name()}"


def _channel_fds(proc: psutil.Process) -> list[int]:
    cmd = proc.cmdline()
    fds = [int(cmd[i + 1]) for i, arg in enumerate(cmd[:-1]) if arg == "--channel-fd"]
    # The target's pydevd channel: `python … pydevd_boot.py FD DEBUGPY_DIR PROGRAM …`.
    fds += [int(cmd[i + 1]) for i, arg in enumerate(cmd[:-1])
            if arg.endswith("pydevd_boot.py") and cmd[i + 1].isdigit()]
    return fds
