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
import platform
import shutil
import socket
import struct
import tempfile

from ..attachable import ptrace_hint

log = logging.getLogger(__name__)

# gdb itself takes a second or two; the injected code then runs at the target's
# next safe point, which a process blocked in a long system call may delay.
_INJECT_TIMEOUT = 30.0
_CONNECT_TIMEOUT = 15.0
_BOOT_DIR = os.path.dirname(os.path.abspath(__file__))
# debugpy ships the native half of attach-by-pid as one library per architecture.
_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class AttachError(Exception):
    """Attaching failed for a reason the user can act on."""


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


def _attach_library(debugpy_dir: str) -> str:
    helper = os.path.join(debugpy_dir, "debugpy", "_vendored", "pydevd",
                          "pydevd_attach_to_process")
    arch = _ARCHITECTURES.get(platform.machine().lower(), platform.machine())
    library = os.path.join(helper, f"attach_linux_{arch}.so")
    if not os.path.isfile(library):
        raise AttachError(f"debugpy has no attach library for this machine ({library} is "
                          "missing); attaching to a running process is not possible here")
    if '"' in library:
        raise AttachError(f"the attach library path {library!r} contains a double quote")
    return library


def _gdb_argv(pid: int, library: str, code: str) -> list[str]:
    """gdb, run as an argv list (no shell), loading debugpy's attach library into `pid`."""
    name = os.path.splitext(os.path.basename(library))[0]
    commands = [
        "set scheduler-locking off",  # on, the target's other threads deadlock
        "set architecture auto",
        f'call (void*)dlopen("{library}", 2)',
        "call (char*)dlerror()",
        f"sharedlibrary {name}",
        f'call (int)DoAttach(0, "{code}", 0)',
    ]
    argv = ["gdb", "--nw", "--nh", "--nx", "--quiet", "--batch",
            "-iex", "set auto-load off", "--pid", str(pid)]
    for command in commands:
        argv += ["-ex", command]
    return argv


async def inject(pid: int, debugpy_dir: str) -> socket.socket:
    """Make pydevd in process `pid` connect to us; return the connected socket."""
    if shutil.which("gdb") is None:
        raise AttachError("attaching to a running process needs gdb on PATH; install gdb")
    library = _attach_library(debugpy_dir)
    private = tempfile.mkdtemp(prefix="jds-attach-")  # mode 0700: only we can connect
    path = os.path.join(private, "pydevd.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    accept: asyncio.Future[socket.socket] | None = None
    try:
        listener.bind(path)
        listener.listen(1)
        listener.setblocking(False)
        accept = asyncio.ensure_future(_accept_target(listener, pid))
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONIOENCODING")}
        gdb = await asyncio.create_subprocess_exec(
            *_gdb_argv(pid, library, _injected_code(path, debugpy_dir)),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=env,
        )
        try:
            output = (await asyncio.wait_for(gdb.communicate(), _INJECT_TIMEOUT))[0]
        except asyncio.TimeoutError:
            gdb.kill()
            output = (await gdb.communicate())[0]
        text = output.decode(errors="replace")
        with contextlib.suppress(asyncio.TimeoutError):
            return await asyncio.wait_for(asyncio.shield(accept), _CONNECT_TIMEOUT)
        raise AttachError(_explain_failure(pid, text))
    finally:
        if accept is not None and not accept.done():
            accept.cancel()
        listener.close()
        shutil.rmtree(private, ignore_errors=True)


def _explain_failure(pid: int, gdb_output: str) -> str:
    hint = ""
    lowered = gdb_output.lower()
    if "ptrace" in lowered or "operation not permitted" in lowered:
        hint = f" The kernel refused ptrace: {ptrace_hint(pid)}."
    tail = "\n".join(line for line in gdb_output.strip().splitlines()[-6:] if line.strip())
    return (f"could not attach to process {pid}: its Python runtime did not connect back "
            f"within {_CONNECT_TIMEOUT:.0f} s of gdb injecting the debugger (is it a Python "
            f"process, and not blocked in a long system call?).{hint}"
            + (f"\ngdb said:\n{tail}" if tail else ""))
