"""The server's facts about processes: which boot this is, and the worker's process rules.

The rules for a process's start time, its parent and ending its group live with the
worker (runner/debuggers/processes.py, standard library only), because the worker
announces the start times the server later matches; the server uses that one copy.
"""

from __future__ import annotations

import functools

from .debuggers.processes import kill_group, parent_pid, process_start_time

__all__ = ["boot_id", "kill_group", "parent_pid", "process_start_time"]


@functools.cache
def boot_id() -> str | None:
    """This boot's random id (None where /proc does not tell): with it, a pid and start
    time recorded before a reboot never match a process of a later boot."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None

