"""What the native (gdb and lldb) benchmarks share: loop.c built into their context, the
worker and REST modes, and the gdb modes that tunnel_latency.py reuses."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .bench_adapters import WorkerMode, plain_launch
from .bench_context import BENCH_DIR, Context, NativeContext, find_break_line
from .bench_process import kill_if_target
from .bench_server import RestMode

TARGET_SOURCE = BENCH_DIR / "targets" / "loop.c"
BREAK_MARKER = "/* BENCH-BREAK */"
GDB_ADAPTER_MODULE = "jupyter_debug_server.runner.debuggers.gdb_adapter"


@dataclass
class GdbContext(NativeContext):
    """A native context whose debugger is the executable ``gdb``."""

    gdb: str


def build_target(workdir: Path, timeout: float) -> tuple[Path, Path]:
    """Copy loop.c into ``workdir`` and build it with ``gcc -g -O0``; (source, program)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise SystemExit("gcc is not installed; it is needed to build bench/targets/loop.c")
    source = workdir / TARGET_SOURCE.name
    program = workdir / TARGET_SOURCE.stem
    shutil.copyfile(TARGET_SOURCE, source)
    built = subprocess.run(
        [gcc, "-g", "-O0", "-o", str(program), str(source)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if built.returncode != 0:
        raise SystemExit(f"gcc failed to build {source}:\n{built.stderr}")
    return source, program


N = TypeVar("N", bound=NativeContext)


def native_context(kind: type[N], workdir: Path, args: argparse.Namespace,
                   **debugger: str) -> N:
    """Build loop.c in ``workdir``: the context of a native benchmark (``debugger``: its
    executable, as the field of ``kind`` names it)."""
    source, program = build_target(workdir, args.setup_timeout)
    return kind(
        workdir=workdir,
        target=source,
        break_line=find_break_line(source, BREAK_MARKER),
        setup_timeout=args.setup_timeout,
        step_timeout=args.step_timeout,
        program=program,
        **debugger,
    )


def first_line(argv: list[str]) -> str:
    """The first line `argv` prints on stdout (a version), or "unknown"."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (out.stdout.strip().splitlines() or ["unknown"])[0]


def int_or_none(value: Any) -> int | None:
    """`value` as an int, or None if it is not one (a field of a DAP or MI message)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------
# modes


class NativeWorkerMode(WorkerMode):
    """A native worker (gdb or lldb) over an inherited AF_UNIX socketpair, like the server
    drives it; it launches `program` and reports the target's pid."""

    def __init__(self, ctx: Context, *, module: str, worker_args: list[str], program: Path,
                 log_name: str) -> None:
        super().__init__(ctx, module=module, worker_args=worker_args, log_name=log_name)
        self.program = program

    def launch_arguments(self) -> dict[str, Any]:
        return plain_launch(self.program, self.ctx.workdir)

    def start(self) -> None:
        super().start()
        assert self.client is not None
        for message in self.client.backlog:
            if message.get("event") == "jupyterDebugServer.target":
                self.target_pid = int_or_none(message.get("body", {}).get("pid"))

    def close(self) -> None:
        super().close()
        kill_if_target(self.target_pid, self.program)


class AdapterMode(NativeWorkerMode):
    """Our gdb worker over an inherited AF_UNIX socketpair, like the server drives it."""

    def __init__(self, ctx: GdbContext) -> None:
        super().__init__(ctx, module=GDB_ADAPTER_MODULE, worker_args=["--gdb", ctx.gdb],
                         program=ctx.program, log_name="adapter.log")
        self.gctx = ctx
        self.name = "adapter"
        self.description = f"our gdb worker ({GDB_ADAPTER_MODULE} --channel-fd)"


class NativeRestMode(RestMode):
    """Our REST ``step`` route with a native ``debugger`` (gdb or lldb) through a real
    jupyter server."""

    def __init__(self, ctx: NativeContext, debugger: str) -> None:
        super().__init__(ctx)
        self.debugger = debugger
        self.program = ctx.program
        self.description = f"our REST step route via jupyter server, debugger {debugger}"

    def launch_spec(self) -> dict[str, Any]:
        # The program is the executable; the breakpoint is in the C source.
        return {**super().launch_spec(), "debugger": self.debugger, "program": str(self.program)}

    def close(self) -> None:
        super().close()  # ends the server and joins the thread reading its stderr
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        kill_if_target(self.target_pid, self.program)


class GdbRestMode(NativeRestMode):
    """Our REST ``step`` route with ``"debugger": "gdb"`` through a real jupyter server."""

    def __init__(self, ctx: GdbContext) -> None:
        super().__init__(ctx, "gdb")
