"""The standalone gdb adapter driven over stdio by Microsoft's DebugClient (npm).

tests/js/debugclient_gdb.mjs runs launch -> breakpoint -> next -> variables with
@vscode/debugadapter-testsupport, the client VS Code's own debug adapters are tested
with. It needs node and tests/js/node_modules: `bash scripts/setup.sh test` installs
both, so their absence fails this test rather than skipping it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..support.native import SOURCES, marker_line

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "tests" / "js"
SCRIPT = JS / "debugclient_gdb.mjs"
TESTSUPPORT = JS / "node_modules" / "@vscode" / "debugadapter-testsupport"
SETUP_HINT = "run `bash scripts/setup.sh test` (it runs `npm ci --prefix tests/js`)"


def _build_points(dest: Path) -> tuple[Path, Path]:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail(f"gcc is not installed; {SETUP_HINT}")
    source = dest / "points.c"
    shutil.copy(SOURCES / "points.c", source)
    program = dest / "points"
    subprocess.run([gcc, "-g", "-O0", "-pthread", "-o", str(program), str(source)],
                   check=True, capture_output=True)
    return program, source


@pytest.mark.timeout(120)
def test_debugclient_launch_breakpoint_next_variables(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not installed; {SETUP_HINT}")
    if not TESTSUPPORT.is_dir():
        pytest.fail(f"{TESTSUPPORT.relative_to(ROOT)} is missing; {SETUP_HINT}")
    if shutil.which("gdb") is None:
        pytest.fail(f"gdb is not installed; {SETUP_HINT}")
    program, source = _build_points(tmp_path)
    line = marker_line(source, "AFTER-RECURSE")
    env = dict(os.environ)
    env["JDS_PYTHON"] = sys.executable
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    command = [
        node, str(SCRIPT), "--program", str(program), "--source", str(source),
        "--line", str(line), "--next-line", str(line + 1),
        # total = 0 + 4 + 16 + 36 + 64; recurse(40) returns 40
        "--expect", "total=120", "--expect", "levels=40", "--timeout", "90",
    ]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=110, check=False)
    report = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, report
    last = result.stdout.strip().splitlines()[-1]
    assert last == "10 passed, 0 failed", report
