#!/usr/bin/env python
"""Benchmark: an IDE's full step through ``forward`` against the debugger driven directly.

One timed step is what nvim-dap does for every ``next``: ``next`` -> ``stopped``, then
``threads`` and ``stackTrace`` written together, ``scopes`` of the top frame, and the
``variables`` of every non-expensive scope written together; the step ends when the last
of them is answered. Every client numbers its first request ``seq: 0``, as nvim-dap does.

Modes (see bench/README.md):

- ``direct``        the debugger driven directly on stdio pipes: debugpy through our worker
                    standalone (``debugpy_adapter``), gdb through our gdb worker standalone,
                    lldb through ``lldb-dap`` itself;
- ``forward``       a session of a real ``jupyter server``, through
                    ``jupyter debug-server forward SESSION --port 0``;
- ``forward-stdio`` the same through ``forward SESSION --stdio``;
- ``nodelay``       debugpy only: debugpy's own adapter with TCP_NODELAY (informational).

The report gives median and p90 per mode, p90/median (issue 12: <= 1.3 through the
forward, no 200 ms tail) and the ratios forward/direct.

Usage: ``python bench/ide_step.py [--debugger debugpy|gdb|lldb] [--steps 300] [--modes ...]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import debugpy
from lib.bench_adapters import StockMode, plain_launch
from lib.bench_context import Context, python_context
from lib.bench_lldb import DirectMode as LldbDirectMode
from lib.bench_lldb import LldbContext, LldbRestMode, default_lldb_dap
from lib.bench_modes import Mode, Skip, Stepper, _stop_or_end
from lib.bench_native import GdbContext, GdbRestMode, first_line, native_context
from lib.bench_process import REPO_ROOT, kill_if_target
from lib.bench_run import bench_parser, parse_bench_args, run_bench
from lib.dapclient import DapClient, DapError
from tunnel_latency import ForwardMode, ForwardStdioMode, NodelayMode

DEBUGGERS = ("debugpy", "gdb", "lldb")
ALL_MODES = ("direct", "forward", "forward-stdio", "nodelay")
DEFAULT_MODES = ("direct", "forward", "forward-stdio")
DEBUGPY_WORKER = "jupyter_debug_server.runner.debuggers.debugpy_adapter"
GDB_WORKER = "jupyter_debug_server.runner.debuggers.gdb_adapter"
#: The most p90 may be of the median through the forward (issue 12: no 200 ms tail).
TAIL_TARGET = 1.3

RATIOS: tuple[tuple[str, str, float | None], ...] = (
    ("forward", "direct", None),
    ("forward-stdio", "direct", None),
    ("forward", "nodelay", None),
    ("forward-stdio", "nodelay", None),
)


class IdeStep(Stepper):
    """The timed step of an IDE (see the module docstring); mixed in before a mode."""

    def step(self) -> float:
        client = self.client
        assert client is not None
        timeout = self.ctx.step_timeout
        client.drop_events()
        started = time.perf_counter()
        seq = client.request("next", {"threadId": self.thread_id})
        stop = client.wait_for(_stop_or_end(seq), timeout, "the 'stopped' event after 'next'")
        self._check_stop(stop)
        # threads and stackTrace together, as nvim-dap asks after a stop.
        threads = client.request("threads")
        trace_seq = client.request(
            "stackTrace", {"threadId": self.thread_id, "startFrame": 0, "levels": 20})
        trace = client.response(trace_seq, timeout)
        client.response(threads, timeout)
        frames = trace.get("body", {}).get("stackFrames", [])
        if not frames:
            raise DapError(f"stackTrace returned no frame: {trace}")
        scopes = client.call("scopes", {"frameId": frames[0]["id"]}, timeout)
        wanted = [s for s in scopes.get("body", {}).get("scopes", []) if not s.get("expensive")]
        if not wanted:
            raise DapError(f"scopes returned no scope to expand: {scopes}")
        # One variables request per scope, all written before the first answer is read.
        batch = [client.request("variables", {"variablesReference": s["variablesReference"]})
                 for s in wanted]
        for request in batch:
            client.response(request, timeout)
        elapsed = time.perf_counter() - started
        client.response(seq, timeout)
        return elapsed


class _SeqFromZero:
    """Number the client's requests from 0, as nvim-dap does (DAP allows any start)."""

    def _zero(self, client: DapClient) -> DapClient:
        client.number_from(0)
        return client


class StdioAdapterMode(_SeqFromZero, IdeStep, StockMode):
    """An adapter executable on stdio pipes, driven directly (StockMode's plumbing)."""

    def __init__(self, ctx: Context, argv: list[str], launch: dict[str, Any],
                 description: str, program: Path | None = None) -> None:
        super().__init__(ctx)
        self.name = "direct"
        self.argv = argv
        self.launch = launch
        self.description = description
        self.program = program
        self.log_path = ctx.workdir / "direct-adapter.log"

    def _extra_path(self) -> list[Path]:
        return [REPO_ROOT]  # our workers import this checkout

    def adapter_argv(self) -> list[str]:
        return self.argv

    def launch_arguments(self) -> dict[str, Any]:
        return self.launch

    def spawn(self) -> DapClient:
        return self._zero(super().spawn())

    def start(self) -> None:
        super().start()
        assert self.client is not None
        for message in self.client.backlog:
            if message.get("event") == "jupyterDebugServer.target":
                self.target_pid = message.get("body", {}).get("pid")

    def close(self) -> None:
        super().close()
        if self.program is not None:
            kill_if_target(self.target_pid, self.program)


class IdeLldbDirectMode(_SeqFromZero, IdeStep, LldbDirectMode):
    """lldb-dap on stdio, driven directly."""

    def spawn(self) -> DapClient:
        return self._zero(super().spawn())


class IdeNodelayMode(_SeqFromZero, IdeStep, NodelayMode):
    """debugpy's own adapter, TCP_NODELAY forced (informational)."""

    def spawn(self) -> DapClient:
        return self._zero(super().spawn())


class IdeForwardMode(_SeqFromZero, IdeStep, ForwardMode):
    """`forward --port 0` of a debugpy session."""

    def open_client(self) -> DapClient:
        return self._zero(super().open_client())


class IdeForwardStdioMode(_SeqFromZero, IdeStep, ForwardStdioMode):
    """`forward --stdio` of a debugpy session."""

    def open_client(self) -> DapClient:
        return self._zero(super().open_client())


class GdbForward(IdeForwardMode, GdbRestMode):
    """`forward --port 0` of a gdb session."""


class GdbForwardStdio(IdeForwardStdioMode, GdbRestMode):
    """`forward --stdio` of a gdb session."""


class LldbForward(IdeForwardMode, LldbRestMode):
    """`forward --port 0` of an lldb session."""


class LldbForwardStdio(IdeForwardStdioMode, LldbRestMode):
    """`forward --stdio` of an lldb session."""


class NoMode(Mode):
    """A mode this debugger does not have."""

    def __init__(self, ctx: Context, name: str, why: str) -> None:
        super().__init__(ctx, name=name, description=why)

    def start(self) -> None:
        raise Skip(self.description)

    def close(self) -> None:
        pass


def make_mode(debugger: str, name: str, ctx: Any) -> Mode:
    """The mode `name` for `debugger`."""
    if name == "nodelay":
        if debugger != "debugpy":
            return NoMode(ctx, name, "nodelay is stock debugpy; run it with --debugger debugpy")
        return IdeNodelayMode(ctx)
    if name == "direct":
        if debugger == "debugpy":
            return StdioAdapterMode(
                ctx, [sys.executable, "-m", DEBUGPY_WORKER],
                plain_launch(ctx.target, ctx.workdir),
                f"our debugpy worker standalone on stdio ({DEBUGPY_WORKER})")
        if debugger == "gdb":
            return StdioAdapterMode(
                ctx, [sys.executable, "-m", GDB_WORKER, "--gdb", ctx.gdb],
                plain_launch(ctx.program, ctx.workdir),
                f"our gdb worker standalone on stdio ({GDB_WORKER})", ctx.program)
        return IdeLldbDirectMode(ctx)
    forward = {"debugpy": (IdeForwardMode, IdeForwardStdioMode),
               "gdb": (GdbForward, GdbForwardStdio),
               "lldb": (LldbForward, LldbForwardStdio)}[debugger]
    mode: Mode = forward[0 if name == "forward" else 1](ctx)
    return mode


def report_tails(result: dict[str, Any], requested: set[str]) -> bool:
    """Print p90/median per mode; through the forward it must be <= TAIL_TARGET."""
    all_met = True
    tails: dict[str, Any] = {}
    for name, entry in result["modes"].items():
        if "median_ms" not in entry:
            continue
        ratio = entry["p90_ms"] / entry["median_ms"]
        target = TAIL_TARGET if name.startswith("forward") else None
        met = None if target is None else ratio <= target
        all_met = all_met and met is not False
        verdict = ("informational" if target is None
                   else f"target <= {target:.2f}: {'met' if met else 'MISSED'}")
        print(f"{name} p90/median = {ratio:.2f} ({verdict})")
        tails[name] = {"p90_over_median": ratio, "target": target, "met": met}
    result["p90_over_median"] = tails
    return all_met


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = bench_parser(
        __doc__, ALL_MODES,
        "exit 1 if direct failed or p90/median through a forward exceeded "
        f"{TAIL_TARGET}", DEFAULT_MODES)
    parser.add_argument("--debugger", choices=DEBUGGERS, default="debugpy")
    parser.add_argument("--gdb", default=shutil.which("gdb"), help="gdb executable (PATH)")
    parser.add_argument("--lldb-dap", default=None,
                        help="lldb-dap executable (default: the package's find_lldb_dap())")
    parser.set_defaults(steps=300)
    args = parse_bench_args(parser, argv, ALL_MODES)
    if args.debugger == "gdb" and not args.gdb:
        parser.error("no gdb on PATH; install gdb or pass --gdb PATH")
    if args.debugger == "lldb":
        args.lldb_dap = shutil.which(args.lldb_dap) if args.lldb_dap else default_lldb_dap()
        if not args.lldb_dap:
            parser.error("no lldb-dap on PATH; install lldb (lldb-19) or pass --lldb-dap PATH")
    return args


def make_context(args: argparse.Namespace, workdir: Path) -> Context:
    if args.debugger == "gdb":
        return native_context(GdbContext, workdir, args, gdb=args.gdb)
    if args.debugger == "lldb":
        return native_context(LldbContext, workdir, args, lldb_dap=args.lldb_dap)
    return python_context(workdir, args)


def versions_of(args: argparse.Namespace) -> dict[str, str]:
    if args.debugger == "gdb":
        return {"gdb": first_line([args.gdb, "--version"])}
    if args.debugger == "lldb":
        return {"lldb-dap": args.lldb_dap}
    return {"debugpy": debugpy.__version__}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_bench(
        args,
        prefix="jds-ide-step-bench-",
        make_context=lambda workdir: make_context(args, workdir),
        make_mode=lambda name, ctx: make_mode(args.debugger, name, ctx),
        versions=lambda: {"debugger": args.debugger, **versions_of(args)},
        ratios=RATIOS,
        baselines=("direct",),
        extra_report=report_tails,
    )


if __name__ == "__main__":
    sys.exit(main())
