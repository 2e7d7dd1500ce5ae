"""Attach pydevd to a running Python process without opening anything to other users.

The worker listens on a Unix socket inside a fresh 0700 directory, injects a
few lines into the target (through gdb, with pydevd's attach helper) that
connect to it, and accepts only a peer whose SO_PEERCRED names the target's
pid and our uid. No TCP port, no token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import struct
import sys
import tempfile

log = logging.getLogger(__name__)

_ACCEPT_TIMEOUT = 60.0
_BOOT_DIR = os.path.dirname(os.path.abspath(__file__))

# Run in a separate interpreter: pydevd's helper prints to stdout, which is our
# DAP stream in stdio mode, and blocks while gdb works.
_INJECTOR = (
    "import sys; sys.path.append(sys.argv[3]); import add_code_to_python_process as a; "
    "a.run_python_code(int(sys.argv[1]), sys.argv[2], connect_debugger_tracing=True)"
)


class AttachError(Exception):
    """Attaching failed for a reason the user can act on."""


def parse_pid(value: object) -> int:
    """Validate a `processId` and check the process is ours to debug."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise AttachError(f"'processId' must be a positive integer, not {value!r}")
    try:
        uid = os.stat(f"/proc/{value}").st_uid
    except FileNotFoundError:
        raise AttachError(f"no process with pid {value}") from None
    if uid != os.getuid():
        raise AttachError(f"process {value} belongs to another user (uid {uid})")
    if value == os.getpid():
        raise AttachError("a worker cannot attach to itself")
    return value


def _literal(text: str) -> str:
    # pydevd's injector forbids quotes in the code: spell strings as byte lists.
    return f"bytes({list(text.encode())!r}).decode()"


def _injected_code(sock_path: str, debugpy_dir: str) -> str:
    boot_dir = _literal(_BOOT_DIR)
    return (
        f"import sys;sys.path.insert(0,{boot_dir});import pydevd_boot;"
        f"sys.path.remove({boot_dir});"
        f"pydevd_boot.attach({_literal(sock_path)},{_literal(debugpy_dir)})"
    )


def _peer(sock: socket.socket) -> tuple[int, int]:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    return pid, uid


async def _accept_target(listener: socket.socket, pid: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    while True:
        conn, _ = await loop.sock_accept(listener)
        peer_pid, peer_uid = _peer(conn)
        if peer_uid == os.getuid() and peer_pid == pid:
            return conn
        log.warning("Refused attach connection from pid %d uid %d", peer_pid, peer_uid)
        conn.close()


async def inject(pid: int, debugpy_dir: str) -> socket.socket:
    """Make pydevd in process `pid` connect to us; return the connected socket."""
    helper = os.path.join(debugpy_dir, "debugpy", "_vendored", "pydevd", "pydevd_attach_to_process")
    if shutil.which("gdb") is None:
        raise AttachError("attaching to a running process needs gdb on PATH; install gdb")
    private = tempfile.mkdtemp(prefix="jds-attach-")  # mode 0700
    path = os.path.join(private, "pydevd.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen(1)
        listener.setblocking(False)
        injector = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _INJECTOR, str(pid), _injected_code(path, debugpy_dir), helper,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        accept = asyncio.ensure_future(_accept_target(listener, pid))
        report = asyncio.ensure_future(injector.communicate())
        done, _ = await asyncio.wait(
            {accept, report}, timeout=_ACCEPT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if accept not in done and report in done:
            # The injector finished; give the target a moment to connect back.
            done, _ = await asyncio.wait({accept}, timeout=_ACCEPT_TIMEOUT)
        if accept in done:
            with contextlib.suppress(ProcessLookupError):
                if injector.returncode is None:
                    await asyncio.wait_for(report, _ACCEPT_TIMEOUT)
            return accept.result()
        accept.cancel()
        with contextlib.suppress(ProcessLookupError):
            injector.kill()
        output = (await report)[0].decode(errors="replace") if report.done() else ""
        hint = ""
        if "ptrace" in output.lower() or "operation not permitted" in output.lower():
            hint = (
                " The kernel refused ptrace: check /proc/sys/kernel/yama/ptrace_scope "
                "(must be 0 to attach to a process that is not a child) or CAP_SYS_PTRACE."
            )
        tail = "\n".join(output.strip().splitlines()[-8:])
        raise AttachError(
            f"could not attach to process {pid}: it did not connect back within "
            f"{_ACCEPT_TIMEOUT:.0f} s (is it a Python process?).{hint}"
            + (f"\nInjector output:\n{tail}" if tail else "")
        )
    finally:
        listener.close()
        shutil.rmtree(private, ignore_errors=True)
