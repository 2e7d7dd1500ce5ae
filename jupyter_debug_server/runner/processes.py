"""The server's facts about processes: which boot this is, the worker's process rules, and
the server user's own processes (for the attach picker).

The rules for a process's start time, its parent and ending its group live with the
worker (runner/debuggers/processes.py, standard library only), because the worker
announces the start times the server later matches; the server uses that one copy.
The list of processes reads /proc itself (no psutil); it blocks, so the manager runs it
on its `blocking` executor.
"""

from __future__ import annotations

import functools
import os
import pwd
import time
from dataclasses import dataclass
from typing import Any

from ..store import iso_time
from .debuggers.processes import kill_group, parent_pid, process_start_time, read_stat

__all__ = ["boot_id", "is_running", "kill_group", "own_processes", "parent_pid",
           "process_start_time"]

_PF_KTHREAD = 0x00200000  # the flags of a kernel thread (/proc/pid/stat field 9)
_COMM_MAX = 15  # the kernel cuts a process's name (comm) to this many characters


@functools.cache
def boot_id() -> str | None:
    """This boot's random id (None where /proc does not tell): with it, a pid and start
    time recorded before a reboot never match a process of a later boot."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


def is_running(pid: int, started: float) -> bool:
    """Whether `pid` runs and started at `started` (clock ticks since boot, as
    process_start_time reads it): a reused pid or a zombie does not count."""
    stat = read_stat(pid)
    if stat is None:
        return False
    fields = stat[1]
    try:
        return fields[0] not in (b"Z", b"X") and float(fields[19]) == started
    except (IndexError, ValueError):
        return False


@dataclass(frozen=True)
class _Process:
    """What /proc/pid/stat and /proc/pid/status say of one process."""

    pid: int
    parent: int
    uid: int  # the real uid
    started: int  # clock ticks since boot
    comm: str
    state: str
    kernel: bool


def _read(pid: int) -> _Process | None:
    """One process from /proc, or None if it is gone or its entry does not parse."""
    try:
        stat = read_stat(pid)
        if stat is None:
            return None
        comm, fields = stat
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read()
        uid = next(line for line in status.splitlines() if line.startswith(b"Uid:"))
        return _Process(pid, int(fields[1]), int(uid.split()[1]), int(fields[19]), comm,
                        fields[0].decode(errors="replace"),
                        bool(int(fields[6]) & _PF_KTHREAD))
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _argv(pid: int) -> list[str] | None:
    """The command line of `pid` as its argv (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return [arg.decode(errors="replace") for arg in raw.split(b"\0")[:-1]] if raw else []


def _tree(processes: dict[int, _Process], root: int) -> set[int]:
    """`root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for process in processes.values():
        children.setdefault(process.parent, []).append(process.pid)
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _name(process: _Process, argv: list[str]) -> str:
    """The process's name: its comm, or its program's file name where comm was cut."""
    program = os.path.basename(argv[0]) if argv else ""
    if len(process.comm) >= _COMM_MAX and program.startswith(process.comm):
        return program
    return process.comm


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def own_processes(server_pid: int, query: str | None = None) -> list[dict[str, Any]]:
    """The processes whose real uid is this process's, newest first, without `server_pid`
    and its descendants (workers, debuggers, targets), kernel threads and zombies;
    `query` keeps those whose name or command line contains it (any case).

    Blocking (reads /proc): run it off the event loop. A process that ends while it is
    read, or whose entry does not parse, is left out.
    """
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
    processes = {p.pid: p for p in map(_read, pids) if p is not None}
    excluded = _tree(processes, server_pid)
    uid = os.getuid()
    user = _user_name(uid)
    ticks = os.sysconf("SC_CLK_TCK")
    # Start times count from boot, as CLOCK_BOOTTIME does (suspended time included).
    boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    needle = query.casefold() if query else None
    found = []
    for process in sorted(processes.values(), key=lambda p: (p.started, p.pid),
                          reverse=True):
        if (process.uid != uid or process.kernel or process.state in ("Z", "X")
                or process.pid in excluded):
            continue
        argv = _argv(process.pid)
        if argv is None:
            continue
        name = _name(process, argv)
        if needle is not None and needle not in name.casefold() and needle not in " ".join(
                argv).casefold():
            continue
        found.append({"pid": process.pid, "name": name, "cmdline": argv,
                      "started": iso_time(boot + process.started / ticks), "user": user})
    return found
