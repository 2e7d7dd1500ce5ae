"""What the hostile-spec and fault suites share: scale, seed, servers, processes, logs.

Both suites run real servers in their own processes (tests/support/server_process.py),
so that a crash, a SIGKILL or a leaked secret shows in that server's own log, and find the
processes a session started by the server's process tree and by a marker in the target's
environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from ..support.server_process import ServerProcess

TARGETS = Path(__file__).resolve().parents[1] / "targets"

#: The environment variable that marks every target a hardening test starts.
MARKER_ENV = "JDS_HARDENING_MARK"

# A server log line that means something went wrong unexpectedly: a traceback, or a record
# at ERROR/CRITICAL level (jupyter_server prints its URL at CRITICAL: not a failure).
_TRACEBACK = "Traceback (most recent call last)"
_ERROR_LINE = re.compile(r"^\[(E|C) \d{4}-")


def scale() -> float:
    """`HARDENING_SCALE` (1.0 = the full volume DESIGN.md promises; 0.05 = a quick run)."""
    return float(os.environ.get("HARDENING_SCALE", "1.0"))


def scaled(full: int, minimum: int = 1) -> int:
    """`full` at full scale, at least `minimum`."""
    return max(minimum, round(full * scale()))


def seed(default: int) -> int:
    """`HARDENING_SEED` or the suite's fixed default, so a failure can be replayed."""
    return int(os.environ.get("HARDENING_SEED", str(default)))


def make_root(base: Path) -> Path:
    """A server root with the test targets (Python and compiled native ones)."""
    root = base / "root"
    shutil.copytree(TARGETS, root / "targets")
    for name in ("waiter", "crash"):
        subprocess.run(["gcc", "-g", "-O0", "-pthread", "-o", str(root / name),
                        str(TARGETS / "native" / f"{name}.c")], check=True, capture_output=True)
    return root


def start_server(root: Path, state: Path, server_args: list[str] | None = None) -> ServerProcess:
    """A started server with the extension in its own process."""
    server = ServerProcess(root, state, server_args=server_args)
    server.start()
    return server


def server_log(server: ServerProcess) -> str:
    """Everything the server (and its workers, through it) wrote so far."""
    return "".join(server.log)


def secret_hits(log: str, secrets: Iterable[str]) -> list[str]:
    """The secrets (shown by their first characters only) that appear in `log`."""
    return [f"{s[:6]}…" for s in set(secrets) if s and s in log]


def unexpected_errors(log: str, allowed: Iterable[str] = ()) -> list[str]:
    """Log lines with a traceback or an ERROR/CRITICAL record not matching `allowed`."""
    allow = [re.compile(a) for a in allowed]
    bad = []
    for line in log.splitlines():
        if "is running at" in line or "received signal" in line:
            continue
        if (_TRACEBACK in line or _ERROR_LINE.match(line)) and not any(
                a.search(line) for a in allow):
            bad.append(line[:500])
    return bad


def descendants(pid: int) -> list[psutil.Process]:
    """Every live descendant of `pid` (workers, debuggers, targets, their children)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def marked(marker: str) -> list[psutil.Process]:
    """Live processes whose environment or argv carries `marker` (found through /proc)."""
    found = []
    needle = marker.encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        for part in ("environ", "cmdline"):
            try:
                with open(f"/proc/{entry.name}/{part}", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if needle in data:
                try:
                    proc = psutil.Process(int(entry.name))
                    if proc.status() != psutil.STATUS_ZOMBIE:
                        found.append(proc)
                except psutil.NoSuchProcess:
                    pass
                break
    return found


def still_alive(procs: Iterable[psutil.Process], within: float) -> list[psutil.Process]:
    """Those of `procs` (matched by pid and start time) still running after `within` s."""
    live = [p for p in procs if _running(p)]
    deadline = time.monotonic() + within
    while live and time.monotonic() < deadline:
        _, live = psutil.wait_procs(live, timeout=min(0.2, max(0.01, deadline - time.monotonic())))
        live = [p for p in live if _running(p)]
    return live


def _running(proc: psutil.Process) -> bool:
    try:
        # A zombie has ended: only its parent's wait() is missing.
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def describe(procs: Iterable[psutil.Process]) -> list[str]:
    """pid and argv of each process, for an assertion message."""
    out = []
    for p in procs:
        try:
            out.append(f"{p.pid} {' '.join(p.cmdline())[:200]}")
        except psutil.Error:
            out.append(f"{p.pid} (gone)")
    return out
