"""What the worker knows about processes: their start time and parent, and how to end a
group. Standard library only.

The server uses these rules too (through runner/processes.py): a target's start time
the worker announces must read the same as the server's reading when it reaps
survivors by pid and start time, so there is one copy of the rule.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the worker dies (even SIGKILLed or after a
    freeze ended by the server's SIGKILL), so no debugger outlives its worker."""
    # Runs in the forked child before exec: no allocation-heavy work here.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def read_stat(pid: int) -> tuple[str, list[bytes]] | None:
    """The name (comm) of `pid` and its /proc/pid/stat fields from field 3 on (None if
    the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: it ends at the last ')'.
    close = stat.rfind(b")")
    return (stat[stat.find(b"(") + 1 : close].decode(errors="replace"),
            stat[close + 2 :].split())


def _stat_fields(pid: int) -> list[bytes] | None:
    """/proc/pid/stat from field 3 on (None if the process is gone)."""
    stat = read_stat(pid)
    return None if stat is None else stat[1]


def process_start_time(pid: int) -> float | None:
    """Start time of `pid` in clock ticks since boot (field 22 of /proc/pid/stat)."""
    fields = _stat_fields(pid)
    return None if fields is None else float(fields[19])


def parent_pid(pid: int) -> int | None:
    """The parent of `pid` (field 4 of /proc/pid/stat); None if it is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[1])


def kill_group(pgid: int, sig: int) -> bool:
    """Signal a whole process group; False if it no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        log.warning("Not allowed to signal process group %d", pgid)
        return False
    return True
