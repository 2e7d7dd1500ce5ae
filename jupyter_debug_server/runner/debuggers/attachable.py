"""May a debugger attach to this process? If not: why, and what would fix it.

Checked up front (by the REST launch-spec validation and by each worker's `attach`)
so the user reads the cause, not a debugger's bare "Operation not permitted".
"""

from __future__ import annotations

import os
import pwd

from .processes import parent_pid

#: Yama's ptrace policy; absent when the kernel has no Yama (then only uid and caps matter).
YAMA_SCOPE = "/proc/sys/kernel/yama/ptrace_scope"
_CAP_SYS_PTRACE = 19
_LAUNCH_INSTEAD = "or launch the program under the debugger instead of attaching"
#: How our workers are started (`python -I -m <module>`, or the module as an argument of the
#: bootstrap): a process with such an argument, or one below it, is a session's.
_WORKER_MODULE_PREFIX = b"jupyter_debug_server.runner.debuggers."
#: How far up a process's ancestry to look for a worker (a tree deeper than this is not
#: one we started: worker → debugger → lldb-server → target is the deepest).
_ANCESTRY_LIMIT = 64


class AttachRefused(Exception):
    """The process cannot be attached to; `message` names it, the cause and the fix."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


def _status(pid: int) -> dict[str, str]:
    fields = {}
    with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def yama_scope() -> int | None:
    """kernel.yama.ptrace_scope (0-3), or None without Yama."""
    try:
        with open(YAMA_SCOPE, encoding="ascii") as scope:
            return int(scope.read().strip())
    except (OSError, ValueError):
        return None


def has_cap_sys_ptrace() -> bool:
    """Whether this process holds CAP_SYS_PTRACE in its effective set."""
    try:
        return bool(int(_status(os.getpid()).get("CapEff", "0"), 16) >> _CAP_SYS_PTRACE & 1)
    except (OSError, ValueError):
        return False


def parse_pid(value: object) -> int:
    """A DAP `processId` (or our `pid`) that names a process we may attach to.

    Raises AttachRefused (reason `bad-argument` for a value that is not a pid).
    """
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise AttachRefused(f"'pid' must be a positive integer, not {value!r:.60}",
                            "bad-argument")
    if value in (os.getpid(), os.getppid()):
        raise AttachRefused(f"pid {value} is the debug server (or its worker) itself",
                            "bad-argument")
    check_attachable(value)
    return value


def check_attachable(pid: int) -> None:
    """Raise AttachRefused unless `pid` is a live process of our user that ptrace may reach
    and none of ours (init, the server, its ancestors, a session's worker or debugger)."""
    try:
        owner = os.stat(f"/proc/{pid}").st_uid
        status = _status(pid)
    except FileNotFoundError:
        raise AttachRefused(f"there is no process with pid {pid} to attach to",
                            "not-found") from None
    # Before the uid check: as root (CI, containers) the uid check lets everything pass.
    _refuse_reserved(pid, status.get("Name", "?"))
    if owner != os.getuid():
        raise AttachRefused(
            f"process {pid} belongs to another user ({_user(owner)}); a session may only "
            f"attach to processes of its own user ({_user(os.getuid())})", "not-permitted")
    name = status.get("Name", "?")
    if status.get("State", "").startswith("Z"):
        raise AttachRefused(f"process {pid} ({name}) has exited (it is a zombie); there is "
                            "nothing left to debug", "not-found")
    tracer = int(status.get("TracerPid", "0") or 0)
    if tracer:
        raise AttachRefused(
            f"process {pid} ({name}) is already being debugged or traced by process {tracer} "
            f"({_process_name(tracer)}); a process has one tracer at a time: detach that "
            "one first", "ptrace-refused")
    scope = yama_scope()
    if scope == 3:
        raise AttachRefused(
            f"cannot attach to process {pid}: this host forbids ptrace attach entirely "
            "(kernel.yama.ptrace_scope = 3, which only a reboot resets); "
            + _LAUNCH_INSTEAD, "ptrace-refused")
    if scope == 2 and not has_cap_sys_ptrace():
        raise AttachRefused(
            f"cannot attach to process {pid}: kernel.yama.ptrace_scope = 2 lets only "
            "processes with CAP_SYS_PTRACE attach; ask an administrator to run "
            "'sysctl -w kernel.yama.ptrace_scope=1' (or grant CAP_SYS_PTRACE), "
            + _LAUNCH_INSTEAD, "ptrace-refused")


def _refuse_reserved(pid: int, name: str) -> None:
    """Refuse init, this process and its ancestors (the server, its launcher), and every
    process a session started: stopping one of those stops the server or a session."""
    if pid == 1:
        raise AttachRefused(
            f"process 1 ({name}) is this system's (or container's) init process; a debug "
            "session never attaches to it", "not-permitted")
    if pid in _ancestry(os.getpid()):
        raise AttachRefused(
            f"process {pid} ({name}) is the debug server, its worker or one of their "
            "ancestors; a debug session never attaches to those", "not-permitted")
    if any(_is_worker(p) for p in _ancestry(pid)):
        raise AttachRefused(
            f"process {pid} ({name}) belongs to a debug session of this server (its worker, "
            "its debugger or its program); use that session instead of attaching",
            "not-permitted")


def _ancestry(pid: int) -> list[int]:
    """`pid` and its ancestors, nearest first, up to (not including) init."""
    chain: list[int] = []
    current: int | None = pid
    while current is not None and current > 1 and current not in chain:
        chain.append(current)
        if len(chain) >= _ANCESTRY_LIMIT:
            break
        current = parent_pid(current)
    return chain


def _is_worker(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return any(arg.startswith(_WORKER_MODULE_PREFIX) for arg in argv)


def ptrace_hint(pid: int) -> str:
    """The likely cause and fix after a debugger's attach to `pid` was not permitted."""
    if yama_scope() == 1 and not has_cap_sys_ptrace():
        return (f"kernel.yama.ptrace_scope = 1 lets a debugger attach only to its own "
                f"descendants, and process {pid} is not one: have the program call "
                "prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY), or run 'sysctl -w "
                "kernel.yama.ptrace_scope=0' as an administrator, " + _LAUNCH_INSTEAD)
    if not has_cap_sys_ptrace() and os.getuid() == 0:
        return ("this container or sandbox refuses ptrace (no CAP_SYS_PTRACE or a seccomp "
                "profile that blocks it); start it with --cap-add=SYS_PTRACE, "
                + _LAUNCH_INSTEAD)
    return ("ptrace was refused (a security module, a seccomp profile or a non-dumpable "
            "process can cause this); " + _LAUNCH_INSTEAD)


def explain_attach_failure(pid: int, error: str) -> str:
    """A debugger's attach error, with the cause and fix when it is a ptrace refusal."""
    if "not permitted" in error.lower() or "eperm" in error.lower():
        return f"cannot attach to process {pid}: {error.strip()}; {ptrace_hint(pid)}"
    return f"cannot attach to process {pid}: {error.strip()}"


def _process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip()
    except OSError:
        return "?"
