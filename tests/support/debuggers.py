"""The three debuggers as the tests see them: their names, their workers, the small program
each one's shared scenarios run, and what a debugger lacks (the reason a test skips it).

`tests/conftest.py`'s `debugger` fixture is parametrized over `DEBUGGERS`; a test that
applies only to the native debuggers narrows it with
`@pytest.mark.parametrize("debugger", NATIVE, indirect=True)`, and a scenario that applies
to all three except for a part one of them lacks calls `skip_unless(debugger, part)`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from jupyter_debug_server.runner.debuggers.lldb_adapter import find_lldb_dap

from .native import marker_line

DEBUGGERS = ("debugpy", "gdb", "lldb")
NATIVE = ("gdb", "lldb")
WORKERS = {name: f"jupyter_debug_server.runner.debuggers.{name}_adapter" for name in DEBUGGERS}

# What a debugger lacks, as (debugger, part) -> why; a test that needs the part skips it.
LACKS: dict[tuple[str, str], str] = {
    ("debugpy", "core files"): "debugpy has no core files: a Python program's state lives "
                               "in its interpreter, not in a process image pydevd can load",
}


def require_installed(debugger: str) -> None:
    """Fail (not skip) when a debugger scripts/setup.sh installs is missing."""
    if debugger == "gdb" and shutil.which("gdb") is None:
        pytest.fail("gdb is not installed; run bash scripts/setup.sh test")
    if debugger == "lldb" and find_lldb_dap() is None:
        pytest.fail("lldb-dap is not installed; run bash scripts/setup.sh test")


def skip_unless(debugger: str, part: str) -> None:
    """Skip the test when `debugger` lacks `part`, saying why."""
    reason = LACKS.get((debugger, part))
    if reason is not None:
        pytest.skip(reason)


@dataclass(frozen=True)
class Debuggee:
    """The program a debugger's shared scenarios run, under a server's root_dir:
    `targets/loop.py` for debugpy, `native/points` (points.c) for gdb and lldb.

    Both loop over a call: `line` is the loop's body in `frame`, reached first; `next`
    from there stops on the loop's header, `line - 1`; `callee_line` is in the function
    the body calls, reached after `line`, which is passed again more than once.
    """

    debugger: str
    program: str  # relative to root_dir
    source: Path
    line: int
    frame: str
    callee_line: int
    callee: str
    local: tuple[str, str]  # a local variable of `frame` and its value at the first stop
    watch: tuple[str, str]  # an expression and its value at `line`
    exit_code: int  # run without arguments
    stdout: str
    stderr: str

    @property
    def source_path(self) -> str:
        """The source relative to root_dir, as a launch spec names it."""
        return str(Path(self.program).parent / self.source.name)

    @property
    def next_line(self) -> int:
        return self.line - 1


def debuggee(debugger: str, root: Path) -> Debuggee:
    """The shared program of `debugger`, in `root` (root/targets, root/native)."""
    if debugger == "debugpy":
        return Debuggee(
            debugger, "targets/loop.py", root / "targets" / "loop.py", line=13, frame="main",
            callee_line=5, callee="add", local=("result", "0"),
            watch=("sum(values) * 2", "12"), exit_code=0, stdout="result 6\n",
            stderr="to stderr\n")
    source = root / "native" / "points.c"
    return Debuggee(
        debugger, "native/points", source, line=marker_line(source, "LOOP-BODY"),
        frame="main", callee_line=marker_line(source, "SQUARE-BODY"), callee="square",
        local=("total", "0"), watch=("p.x * 10", "30"), exit_code=123,
        stdout="total 120 levels 40 x 3\n", stderr="label origin\n")
