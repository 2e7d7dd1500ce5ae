"""What a benchmark's modes run against: the debuggee, its breakpoint line and the time limits."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent  # bench/, above lib/
TARGET_SOURCE = BENCH_DIR / "targets" / "loop.py"
BREAK_MARKER = "# BENCH-BREAK"


@dataclass
class Context:
    workdir: Path
    target: Path
    break_line: int
    setup_timeout: float
    step_timeout: float


@dataclass
class NativeContext(Context):
    """``target`` is the C source (breakpoints go there); ``program`` is the executable."""

    program: Path


def python_context(workdir: Path, args: argparse.Namespace) -> Context:
    """Copy loop.py into ``workdir``: the context of a Python (debugpy) benchmark."""
    target = workdir / "loop.py"
    shutil.copyfile(TARGET_SOURCE, target)
    return Context(
        workdir=workdir,
        target=target,
        break_line=find_break_line(target),
        setup_timeout=args.setup_timeout,
        step_timeout=args.step_timeout,
    )


def find_break_line(path: Path, marker: str = BREAK_MARKER) -> int:
    """The line number of the first line of `path` that contains `marker`."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if marker in line:
            return number
    raise SystemExit(f"{path} has no line marked {marker}")
