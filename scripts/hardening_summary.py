"""Print the hardening suite's totals and check them against the promised volumes.

Run by scripts/test.sh after `pytest tests/hardening`; reads the counts that
tests/hardening/report.py collected. At full scale (HARDENING_SCALE unset or >= 1) a
volume below DESIGN.md's numbers fails the run, as does any crash, 5xx, escape, leftover
process or leaked secret at any scale. The last line is "hardening: N passed, M failed".
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hardening.report import report_dir

#: (suite, count, minimum at full scale): the volumes issue 11 asks of the suite.
VOLUMES = [
    ("fuzz", "frames", 60_000),
    ("specs", "specs", 200),
    ("faults", "faults", 200),
]
#: (suite, count, maximum): what must never happen, whatever the scale.
LIMITS = [
    ("fuzz", "crashes", 0),
    ("fuzz", "unanswered", 0),
    ("fuzz", "secret_hits", 0),
    ("fuzz", "rss_growth_kib", 50 * 1024),
    ("specs", "status_5xx", 0),
    ("specs", "outside_root", 0),
    ("specs", "secret_hits", 0),
    ("faults", "leftover_processes", 0),
    ("faults", "non_final_sessions", 0),
    ("faults", "secret_hits", 0),
]


def main() -> int:
    """Print the totals; return 1 if a check failed."""
    scale = float(os.environ.get("HARDENING_SCALE") or 1.0)
    folder = report_dir()
    suites = {path.stem: json.loads(path.read_text(encoding="utf-8"))
              for path in sorted(folder.glob("*.json"))}
    print(f"\n=== hardening suite totals (HARDENING_SCALE={scale:g}, {folder}) ===")
    for suite, counts in suites.items():
        print(f"{suite}:")
        for name, value in sorted(counts.items()):
            print(f"  {name:<24} {value:>10,}")
    passed, failed = 0, []
    for suite, name, minimum in VOLUMES:
        value = suites.get(suite, {}).get(name, 0)
        if value >= minimum * min(scale, 1.0) and value > 0:
            passed += 1
        else:
            failed.append(f"{suite}.{name} = {value:,}, needs >= {minimum * min(scale, 1.0):,.0f}")
    for suite, name, maximum in LIMITS:
        value = suites.get(suite, {}).get(name)
        if value is None:
            failed.append(f"{suite}.{name} was never recorded")
        elif value <= maximum:
            passed += 1
        else:
            failed.append(f"{suite}.{name} = {value:,}, must be <= {maximum:,}")
    for line in failed:
        print(f"FAILED {line}")
    print(f"hardening: {passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
