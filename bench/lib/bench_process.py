"""Child processes of the benchmarks: their environment, their logs, and ending them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent.parent  # bench/lib/ → the checkout


def base_env(extra_path: list[Path]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    parts = [str(p) for p in extra_path]
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    if parts:
        env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def file_tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def kill_if_target(pid: int | None, target: Path) -> None:
    """SIGKILL ``pid`` if it is still alive and really runs our target (checked via /proc)."""
    if not pid:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if str(target).encode() in cmdline:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def kill_leftovers(program: Path) -> list[int]:
    """SIGKILL every process that still runs ``program`` (checked via /proc); their pids."""
    needle = str(program).encode() + b"\0"
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(needle):
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
    return killed


def stop_process(proc: subprocess.Popen[Any] | None, grace: float, *, terminate: bool) -> None:
    """Let ``proc`` exit (optionally after SIGTERM), else SIGKILL its process group."""
    if proc is None or proc.poll() is not None:
        return
    if terminate:
        with contextlib.suppress(OSError):
            proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        # start_new_session=True made proc.pid its own process-group id.
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

