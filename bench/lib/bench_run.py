"""Running a benchmark: its command line, the interleaved rounds, and the report."""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import shutil
import signal
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .bench_context import Context, NativeContext
from .bench_modes import Mode, Skip
from .bench_process import kill_leftovers
from .dapclient import DapError


def summarize(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000.0 for s in samples)
    p90 = statistics.quantiles(ms, n=10, method="inclusive")[8] if len(ms) > 1 else ms[0]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p90_ms": p90,
        "mean_ms": statistics.fmean(ms),
        "min_ms": ms[0],
        "max_ms": ms[-1],
    }


def run_step(mode: Mode, record: bool) -> None:
    try:
        elapsed = mode.step()
    except (DapError, OSError, http.client.HTTPException, ValueError) as exc:
        mode.status = f"failed during stepping: {exc}"
        mode.active = False
        print(f"  {mode.name}: {mode.status}", flush=True)
        mode.close()
        return
    if record:
        mode.samples.append(elapsed)


def start_modes(modes: list[Mode]) -> None:
    for mode in modes:
        print(f"starting {mode.name}: {mode.description} ...", flush=True)
        started = time.perf_counter()
        try:
            mode.start()
        except Skip as exc:
            mode.status = f"skipped: {exc}"
            print(f"  {mode.name} {mode.status}", flush=True)
            mode.close()
            continue
        except Exception as exc:
            mode.status = f"failed to start: {type(exc).__name__}: {exc}"
            print(f"  {mode.name} {mode.status}", flush=True)
            mode.close()
            continue
        mode.setup_seconds = time.perf_counter() - started
        mode.active = True
        print(
            f"  {mode.name} stopped at the breakpoint after {mode.setup_seconds:.2f} s", flush=True
        )


def run_rounds(modes: list[Mode], rounds: int, per_round: int, warmup: int) -> None:
    for mode in modes:
        for _ in range(warmup):
            if mode.active:
                run_step(mode, record=False)
    for index in range(rounds):
        active = [m for m in modes if m.active]
        if not active:
            return
        shift = index % len(active)
        order = active[shift:] + active[:shift]
        round_started = time.perf_counter()
        for mode in order:
            for _ in range(per_round):
                if not mode.active:
                    break
                run_step(mode, record=True)
        parts = []
        for mode in order:
            if mode.samples:
                parts.append(
                    f"{mode.name} {statistics.median(mode.samples[-per_round:]) * 1000:.2f}"
                )
        print(
            f"round {index + 1}/{rounds} ({time.perf_counter() - round_started:.1f} s): "
            f"median ms {', '.join(parts)}",
            flush=True,
        )


def report(
    modes: list[Mode],
    args: argparse.Namespace,
    per_round: int,
    versions: dict[str, str],
    ratios: Sequence[tuple[str, str, float | None]],
) -> tuple[dict[str, Any], bool]:
    """Print the table and the lines of `ratios`; return JSON."""
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        **versions,
        "rounds": args.rounds,
        "steps_per_round": per_round,
        "steps_per_mode": args.rounds * per_round,
        "warmup_steps": args.warmup,
        "modes": {},
        "ratios": {},
    }
    print()
    print(
        f"python {result['python']} ({result['python_implementation']}), "
        + "".join(f"{name} {value}, " for name, value in versions.items())
        + f"{result['platform']}, {result['cpus']} CPUs"
    )
    print(
        f"steps per mode: {result['steps_per_mode']} "
        f"({args.rounds} interleaved rounds x {per_round}; {args.warmup} warm-up steps not counted)"
    )
    print()
    width = max(8, *(len(mode.name) for mode in modes))
    header = (
        f"{'mode':<{width}} {'n':>5} {'median ms':>10} {'p90 ms':>9} {'min ms':>8} "
        f"{'setup s':>8}  status"
    )
    print(header)
    print("-" * len(header))
    medians: dict[str, float] = {}
    for mode in modes:
        entry: dict[str, Any] = {"description": mode.description, "status": mode.status}
        if mode.setup_seconds is not None:
            entry["setup_s"] = mode.setup_seconds
        setup = f"{mode.setup_seconds:8.2f}" if mode.setup_seconds is not None else f"{'-':>8}"
        status = mode.status.splitlines()[0]
        if mode.samples:
            stats = summarize(mode.samples)
            entry.update(stats)
            medians[mode.name] = stats["median_ms"]
            print(
                f"{mode.name:<{width}} {stats['n']:>5} {stats['median_ms']:>10.2f} "
                f"{stats['p90_ms']:>9.2f} {stats['min_ms']:>8.2f} {setup}  {status}"
            )
        else:
            print(f"{mode.name:<{width}} {0:>5} {'-':>10} {'-':>9} {'-':>8} {setup}  {status}")
        result["modes"][mode.name] = entry
    print()
    all_met = True
    requested = {mode.name for mode in modes}
    for numerator, denominator, target in ratios:
        if numerator not in medians or denominator not in medians:
            if target is not None and {numerator, denominator} <= requested:
                all_met = False  # the target could not be measured: --check fails
                print(f"{numerator}/{denominator}: not measured (target <= {target:.2f}x)")
            continue
        ratio = medians[numerator] / medians[denominator]
        delta = medians[numerator] - medians[denominator]
        met = None if target is None else ratio <= target
        if met is False:
            all_met = False
        verdict = (
            "informational"
            if target is None
            else f"target <= {target:.2f}x: {'met' if met else 'MISSED'}"
        )
        print(f"{numerator}/{denominator} = {ratio:.2f}x ({verdict})  [{delta:+.2f} ms]")
        result["ratios"][f"{numerator}/{denominator}"] = {
            "ratio": ratio,
            "delta_ms": delta,
            "target": target,
            "met": met,
        }
    return result, all_met


def bench_parser(doc: str | None, all_modes: tuple[str, ...], check_help: str,
                 default_modes: tuple[str, ...] | None = None) -> argparse.ArgumentParser:
    """The options every benchmark here shares; each adds its own before parsing."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--steps", type=int, default=600, help="timed steps per mode (min)")
    parser.add_argument("--rounds", type=int, default=12, help="interleaved rounds")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps per mode first")
    defaults = default_modes or all_modes
    parser.add_argument("--modes", default=",".join(defaults),
                        help=f"comma-separated subset of {all_modes} "
                             f"(default: {','.join(defaults)})")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--setup-timeout", type=float, default=60.0, help="seconds")
    parser.add_argument("--step-timeout", type=float, default=15.0, help="seconds")
    parser.add_argument("--check", action="store_true", help=check_help)
    parser.add_argument("--keep-tmp", action="store_true", help="keep the work dir (logs)")
    return parser


def parse_bench_args(parser: argparse.ArgumentParser, argv: list[str] | None,
                     all_modes: tuple[str, ...]) -> argparse.Namespace:
    """Parse, and check what every benchmark checks (`args.mode_list` is the modes)."""
    args = parser.parse_args(argv)
    args.mode_list = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in args.mode_list if m not in all_modes]
    if unknown or not args.mode_list:
        parser.error(f"unknown mode(s) {unknown}; choose from {', '.join(all_modes)}")
    if args.steps < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--steps and --rounds must be >= 1, --warmup >= 0")
    return args


def _terminated(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_bench(
    args: argparse.Namespace,
    *,
    prefix: str,
    make_context: Callable[[Path], Context],
    make_mode: Callable[[str, Any], Mode],
    versions: Callable[[], dict[str, str]],
    ratios: Sequence[tuple[str, str, float | None]],
    baselines: tuple[str, ...],
    extra_report: Callable[[dict[str, Any], set[str]], bool] | None = None,
) -> int:
    """Run a benchmark in a fresh work dir, clean up, report; return the exit status.

    Shared by every benchmark here: ``make_context`` sets up the target in the work dir,
    ``versions`` is asked after the run, ``extra_report`` prints further targets (all
    met?), and ``--check`` also fails when a ``baselines`` mode has no samples.
    """
    per_round = math.ceil(args.steps / args.rounds)
    # SIGTERM (a `timeout`, a CI cancel) unwinds like Ctrl-C, so the `finally` below
    # still stops the servers, workers and targets this run started.
    signal.signal(signal.SIGTERM, _terminated)
    workdir = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    ctx: Context | None = None
    modes: list[Mode] = []
    try:
        ctx = make_context(workdir)
        modes = [make_mode(name, ctx) for name in args.mode_list]
        start_modes(modes)
        run_rounds(modes, args.rounds, per_round, args.warmup)
    finally:
        for mode in modes:
            mode.active = False
            mode.close()
        if isinstance(ctx, NativeContext):
            leftovers = kill_leftovers(ctx.program)
            if leftovers:
                print(f"warning: killed target processes left behind: {leftovers}")
        if args.keep_tmp:
            print(f"work dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    result, all_met = report(modes, args, per_round, versions(), ratios)
    if extra_report is not None:
        all_met = extra_report(result, {m.name for m in modes}) and all_met
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    baselines_ok = all(m.samples for m in modes if m.name in baselines)
    return 1 if args.check and not (all_met and baselines_ok) else 0


