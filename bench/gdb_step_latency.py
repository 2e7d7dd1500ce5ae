#!/usr/bin/env python
"""Benchmark: gdb ``next`` -> stop latency, our adapter against a raw asynchronous MI client.

Modes (see bench/README.md):

- ``mi``      a raw asynchronous GDB/MI client: gdb in MI3 mode, driven through
              ``jupyter_debug_server.runner.debuggers.gdb.mi.MIConnection`` on an asyncio
              loop; timed from writing ``-exec-next`` to the ``*stopped`` record;
- ``adapter`` our gdb worker (``jupyter_debug_server.runner.debuggers.gdb_adapter``) over an
              inherited socketpair (``--channel-fd``), exactly as the server uses it;
              timed from DAP ``next`` sent to the ``stopped`` event read;
- ``rest``    our REST ``step`` route with ``"debugger": "gdb"`` through a real
              ``jupyter server`` subprocess (informational).

The target is ``bench/targets/loop.c``, built with ``gcc -g -O0`` into a temp dir. All
sessions are started first and stay stopped at the breakpoint; then the modes take turns
in rounds whose order rotates, samples are pooled per mode, and the report gives the
ratio DESIGN.md section 6 states the gdb target in: adapter <= 2.5x raw MI.

Usage: ``python bench/gdb_step_latency.py [--steps 600] [--rounds 12] [--modes ...]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import shutil
import sys
import time
from collections.abc import Coroutine
from typing import Any

from lib.bench_modes import Mode, Skip
from lib.bench_native import (
    AdapterMode,
    GdbContext,
    GdbRestMode,
    first_line,
    int_or_none,
    native_context,
)
from lib.bench_process import REPO_ROOT, kill_if_target
from lib.bench_run import bench_parser, parse_bench_args, run_bench
from lib.dapclient import DapError

MI_MODULE = "jupyter_debug_server.runner.debuggers.gdb.mi"
ALL_MODES = ("mi", "adapter", "rest")
BASELINE = "mi"

# (numerator, denominator, target ratio or None for "informational")
RATIOS: tuple[tuple[str, str, float | None], ...] = (
    ("adapter", "mi", 2.50),
    ("rest", "mi", None),
    ("rest", "adapter", None),
)


# --------------------------------------------------------------------------------------
# modes


class MiMode(Mode):
    """A raw asynchronous MI client: one gdb, ``-exec-next``, wait for ``*stopped``.

    ``MIConnection`` is the asyncio MI transport our adapter uses too (reader task on
    gdb's stdout, one parse per line, results matched by token), so this is the round
    trip the adapter builds on, with no DAP and no extra process in between. The loop runs
    only while this mode works; between its steps gdb's output waits in the pipe.
    """

    def __init__(self, ctx: GdbContext) -> None:
        super().__init__(ctx)
        self.gctx = ctx
        self.name = "mi"
        self.description = "raw async GDB/MI (MIConnection): -exec-next -> *stopped"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.conn: Any = None
        self.target_pid: int | None = None
        self._stop: asyncio.Future[tuple[float, dict[str, Any]]] | None = None

    def _on_record(self, record: Any) -> None:
        if record.kind == "exec" and record.name == "stopped":
            stamp = time.perf_counter()  # the moment the *stopped record is ours
            waiter, self._stop = self._stop, None
            if waiter is not None and not waiter.done():
                waiter.set_result((stamp, record.payload or {}))
        elif record.kind == "notify" and record.name == "thread-group-started":
            with contextlib.suppress(KeyError, TypeError, ValueError):
                self.target_pid = int(record.payload["pid"])

    def _run(self, coro: Coroutine[Any, Any, Any], timeout: float, what: str) -> Any:
        assert self.loop is not None
        try:
            return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))
        except TimeoutError:
            raise DapError(f"mi: timed out after {timeout:g} s waiting for {what}") from None

    def _expect_stop(self) -> asyncio.Future[tuple[float, dict[str, Any]]]:
        assert self.loop is not None
        self._stop = self.loop.create_future()
        return self._stop

    def start(self) -> None:
        try:
            mi = importlib.import_module(MI_MODULE)
        except ImportError as exc:
            raise Skip(f"cannot import {MI_MODULE}: {exc}") from exc
        self.loop = asyncio.new_event_loop()
        # asyncio's debug mode (python -X dev, PYTHONASYNCIODEBUG) slows every callback
        # several-fold; it would make this baseline, and only it, slower.
        self.loop.set_debug(False)
        try:
            self._run(self._start(mi), self.ctx.setup_timeout, "the breakpoint stop")
        except (mi.MIError, OSError) as exc:
            raise Skip(f"{type(exc).__name__}: {exc}") from exc

    async def _start(self, mi: Any) -> None:
        ctx = self.gctx
        self.conn = await mi.MIConnection.start(
            ctx.gdb, on_record=self._on_record, cwd=str(ctx.workdir)
        )
        conn = self.conn
        # gdb's default (ASLR off via personality()) fails in many containers with a
        # warning; the adapter attaches to an already running process, so it has ASLR on.
        await conn.command("-gdb-set disable-randomization off")
        await conn.command(f"-file-exec-and-symbols {mi.quote(str(ctx.program))}")
        await conn.command(f"-break-insert {mi.quote(f'{ctx.target}:{ctx.break_line}')}")
        stopped = self._expect_stop()
        await conn.command("-exec-run")
        _, payload = await stopped
        line = int_or_none(payload.get("frame", {}).get("line"))
        if payload.get("reason") != "breakpoint-hit" or line != ctx.break_line:
            raise DapError(
                f"mi: first stop is not the breakpoint at line {ctx.break_line}: {payload}"
            )

    def step(self) -> float:
        elapsed, payload = self._run(self._step(), self.ctx.step_timeout, "*stopped")
        # Once per turn of the loop the next line is the breakpoint's: gdb then reports
        # the breakpoint instead of the end of the step.
        if payload.get("reason") not in ("end-stepping-range", "breakpoint-hit"):
            raise DapError(f"mi: -exec-next stopped with {payload.get('reason')!r}: {payload}")
        return float(elapsed)

    async def _step(self) -> tuple[float, dict[str, Any]]:
        stopped = self._expect_stop()
        started = time.perf_counter()
        try:
            await self.conn.command("-exec-next")
        except Exception as exc:  # MIError, GdbExited: turn into the benchmark's error
            raise DapError(f"mi: -exec-next failed: {exc}") from exc
        stamp, payload = await stopped
        return stamp - started, payload

    def close(self) -> None:
        loop, self.loop = self.loop, None
        if loop is None:
            return
        try:
            if self.conn is not None:
                # close() asks gdb to exit, then SIGTERM/SIGKILLs its process group, which
                # holds the debuggee (gdb ran it without a terminal of its own).
                with contextlib.suppress(Exception):
                    loop.run_until_complete(asyncio.wait_for(self.conn.close(timeout=5), 30))
                self.conn = None
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
        kill_if_target(self.target_pid, self.gctx.program)


def make_mode(name: str, ctx: GdbContext) -> Mode:
    if name == "mi":
        return MiMode(ctx)
    if name == "adapter":
        return AdapterMode(ctx)
    if name == "rest":
        return GdbRestMode(ctx)
    raise ValueError(name)


# --------------------------------------------------------------------------------------
# running and reporting


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, ALL_MODES,
                          "exit 1 if the mi baseline failed or the adapter/mi target was missed")
    parser.add_argument("--gdb", default=shutil.which("gdb"), help="gdb executable (PATH)")
    args = parse_bench_args(parser, argv, ALL_MODES)
    if not args.gdb:
        parser.error("no gdb on PATH; install gdb or pass --gdb PATH")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))  # the mi mode imports MIConnection in-process
    versions = {
        "gdb": first_line([args.gdb, "--version"]),
        "gcc": first_line(["gcc", "--version"]),
    }
    return run_bench(
        args,
        prefix="jds-gdb-bench-",
        make_context=lambda workdir: native_context(GdbContext, workdir, args, gdb=args.gdb),
        make_mode=make_mode,
        versions=lambda: versions,
        ratios=RATIOS,
        baselines=(BASELINE,),
    )


if __name__ == "__main__":
    sys.exit(main())
