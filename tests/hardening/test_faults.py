"""Injected faults against real servers, workers, debuggers and targets (DESIGN.md §5).

SIGKILL and SIGSTOP (thawed or not) of the server, the worker, the debugger (gdb,
lldb-dap; pydevd lives in the debuggee) and the target; clients dropped mid-request (REST
`continue`/`step` while they wait, DAP WebSocket mid-message); the store locked by another
process. After each: the session is final or still answers, nothing the scenario started
is alive 10 s later (found by the server's process tree and a marker in the targets'
environment), a SIGKILLed server's restart marks its sessions `lost` and reaps survivors,
and the server log holds no secret and no unexpected traceback. Counts go to suite
"faults". Seed: `HARDENING_SEED`; volume: `HARDENING_SCALE`.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .faults_lab import Lab
from .faults_scenarios import (
    Scenario,
    client_dropped,
    sigkill,
    sigkill_server,
    sigstop,
    sigstop_server,
    store_locked,
)
from .faults_support import (
    make_root,
    scaled,
    secret_hits,
    seed,
    server_log,
    start_server,
    unexpected_errors,
)
from .report import record

SEED = seed(5_2026)
pytestmark = pytest.mark.timeout(1800)

ALL = ("debugpy", "gdb", "lldb")
NATIVE = ("gdb", "lldb")

#: (count name, scenario, debuggers to rotate over, scenarios at full scale). Totals
#: ≥ 200 faults at scale 1.0 (client_dropped injects up to four per scenario).
PLAN: list[tuple[str, Scenario, tuple[str, ...], int]] = [
    ("sigkill_target", sigkill("target"), ALL, 30),
    ("sigkill_worker", sigkill("worker"), ALL, 27),
    ("sigkill_debugger", sigkill("debugger"), NATIVE, 12),
    ("sigstop_target", sigstop("target"), ALL, 21),
    ("sigstop_worker", sigstop("worker"), ALL, 21),
    ("sigstop_debugger", sigstop("debugger"), NATIVE, 12),
    ("sigstop_server", sigstop_server, ALL, 9),
    ("sigkill_server", sigkill_server, ("all",), 8),
    ("client_dropped", client_dropped, ALL, 18),
    ("store_locked", store_locked, ALL, 24),
]

#: Scenarios that run side by side on the one server (the machine has 2 shared cores: most
#: of a scenario's time is spent waiting for processes, not computing).
PARALLEL = 3
#: Faults of the server or its store: they run alone, since they hit every session.
ALONE = {"sigkill_server", "sigstop_server", "store_locked"}

#: jupyter_server's access log writes every 5xx answer at ERROR level, headers first: a
#: store locked beyond busy_timeout answers 503 `store-busy` by design (the scenario checks
#: its sentence). Any other 5xx line still counts.
EXPECTED_ERRORS = (r"\] 503 (GET|POST|PUT|DELETE) /api/debug/", r"^\[E [^]]*\] \{$")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    root = make_root(tmp_path)
    server = start_server(root, tmp_path / "state")
    built = Lab(server, run=f"faults{SEED}-{time.monotonic_ns()}", )
    # Failure counts are reported even when nothing failed (the CI summary checks them).
    built.counts.update(dict.fromkeys(
        ("faults", "leftover_processes", "non_final_sessions", "secret_hits"), 0))
    built.secrets.add(server.token)
    yield built
    server.stop()


TIMES: Counter[str] = Counter()


def _run(lab: Lab, index: int, run: tuple[str, Scenario, str]) -> None:
    """One scenario, with its own generator (so it replays alike whatever ran beside it)."""
    name, scenario, debugger = run
    rng = random.Random(f"{SEED}-{index}")
    with lab.gate.alone() if name in ALONE else lab.gate.shared():
        began = time.monotonic()
        try:
            injected = scenario(lab, rng, debugger)
        except Exception as exc:  # one broken scenario must not hide the others' results
            lab.problems.append(f"run {index} {name} {debugger}: {type(exc).__name__}: {exc}")
            return
        finally:
            TIMES[name] += time.monotonic() - began
    lab.add(name, injected)
    lab.add("faults", injected)


def test_injected_faults(lab: Lab) -> None:
    print(f"hardening faults seed: {SEED} (replay with HARDENING_SEED={SEED})")
    runs = [(name, scenario, debuggers[i % len(debuggers)])
            for name, scenario, debuggers, full in PLAN
            for i in range(scaled(full))]
    random.Random(SEED).shuffle(runs)
    started = time.monotonic()
    with ThreadPoolExecutor(PARALLEL, thread_name_prefix="fault") as pool:
        list(pool.map(lambda item: _run(lab, *item), enumerate(runs)))
    lab.add("seconds", round(time.monotonic() - started))
    log = server_log(lab.server)
    hits = secret_hits(log, lab.secrets)
    lab.counts["secret_hits"] += len(hits)
    errors = unexpected_errors(log, EXPECTED_ERRORS)
    record("faults", **lab.counts)
    report = list(lab.problems)
    if hits:
        report.append(f"secrets in the server log: {hits}")
    if errors:
        report += ["unexpected errors in the server log:", *errors[:30]]
    print(f"faults: {dict(lab.counts)}")
    print("seconds per kind (summed over parallel runs):",
          {k: round(v, 1) for k, v in sorted(TIMES.items())})
    assert not report, "\n".join(report)
