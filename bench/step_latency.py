#!/usr/bin/env python
"""Benchmark: DAP ``next`` -> ``stopped`` latency, several ways of reaching one debuggee.

Modes (see bench/README.md):

- ``stock``   stock debugpy adapter on stdio, DAP client talks to it directly;
- ``nodelay`` the same, with TCP_NODELAY forced on every socket debugpy/pydevd create;
- ``worker``  our worker (``jupyter_debug_server.runner.debuggers.debugpy_adapter``)
              over an inherited socketpair (``--channel-fd``), exactly as the server uses it;
- ``rest``    our REST ``step`` route through a real ``jupyter server`` subprocess.

All sessions are started first and stay stopped at a breakpoint inside an endless loop;
then the modes take turns: each round runs a block of steps per mode, and the order of
modes rotates from round to round, so machine noise hits every mode alike. Per-mode
samples are pooled over all rounds; the report gives median and p90 and the ratios the
design targets are stated in (DESIGN.md section 6).

Usage: ``python bench/step_latency.py [--steps 600] [--rounds 12] [--modes ...]``
"""

from __future__ import annotations

import argparse
import sys

import debugpy
from lib.bench_adapters import StockMode, WorkerMode
from lib.bench_context import Context, python_context
from lib.bench_modes import Mode
from lib.bench_run import bench_parser, parse_bench_args, run_bench
from lib.bench_server import RestMode

ALL_MODES = ("stock", "nodelay", "worker", "rest")

# (numerator, denominator, target ratio or None for "informational")
RATIOS: tuple[tuple[str, str, float | None], ...] = (
    ("nodelay", "stock", None),
    ("worker", "stock", 0.10),
    ("worker", "nodelay", 1.50),
    ("rest", "stock", None),
    ("rest", "nodelay", None),
)


def make_mode(name: str, ctx: Context) -> Mode:
    if name == "stock":
        return StockMode(ctx)
    if name == "nodelay":
        return StockMode(ctx, nodelay=True)
    if name == "worker":
        return WorkerMode(ctx)
    if name == "rest":
        return RestMode(ctx)
    raise ValueError(name)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, ALL_MODES,
                          "exit 1 if a baseline mode failed or a measured target ratio was missed")
    return parse_bench_args(parser, argv, ALL_MODES)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_bench(
        args,
        prefix="jds-bench-",
        make_context=lambda workdir: python_context(workdir, args),
        make_mode=make_mode,
        versions=lambda: {"debugpy": debugpy.__version__},
        ratios=RATIOS,
        baselines=("stock", "nodelay"),
    )


if __name__ == "__main__":
    sys.exit(main())
