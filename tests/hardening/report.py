"""Counts kept by the hardening suite, printed at the end of the CI log.

Every hardening test adds what it did (frames sent, specs tried, faults injected, crashes,
leaked secrets, …) with `record()`; `scripts/hardening_summary.py` prints the totals and
checks them against the volumes DESIGN.md §4 and §5 promise. Counts go to one JSON file per
suite in `$HARDENING_REPORT_DIR` (default `build/hardening/` in the checkout), so the
suites can run in separate pytest processes and still add up.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path

_DEFAULT_DIR = Path(__file__).resolve().parents[2] / "build" / "hardening"


def report_dir() -> Path:
    """Where the counts are written."""
    return Path(os.environ.get("HARDENING_REPORT_DIR") or _DEFAULT_DIR)


def record(suite: str, **counts: int) -> None:
    """Add `counts` to the totals of `suite` (safe across processes)."""
    _update(suite, counts, lambda old, new: old + new)


def record_max(suite: str, **values: int) -> None:
    """Keep the largest value seen for each name (e.g. `rss_growth_kib`)."""
    _update(suite, values, max)


def _update(suite: str, values: dict[str, int], combine: Callable[[int, int], int]) -> None:
    folder = report_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{suite}.json"
    with open(path, "a+", encoding="utf-8") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        text = file.read()
        totals: dict[str, int] = json.loads(text) if text.strip() else {}
        for name, value in values.items():
            totals[name] = combine(totals[name], int(value)) if name in totals else int(value)
        file.seek(0)
        file.truncate()
        json.dump(totals, file, indent=1, sort_keys=True)
