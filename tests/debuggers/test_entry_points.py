"""The worker's entry points are where the product's commands name them, and the scripts
that run inside the debuggee are found by path at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_debug_server.runner.debuggers.debugpy import launch
from jupyter_debug_server.runner.debuggers.native import launch as native_launch

pytestmark = pytest.mark.timeout(60)

WORKER_SIDE = "jupyter_debug_server.runner.debuggers"


@pytest.mark.parametrize("entry", ["debugpy_adapter", "gdb_adapter", "lldb_adapter"])
def test_each_entry_point_runs_as_the_commands_name_it(entry: str) -> None:
    done = subprocess.run([sys.executable, "-I", "-m", f"{WORKER_SIDE}.{entry}", "--help"],
                          capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode == 0, done.stderr
    assert "--channel-fd" in done.stdout and "--session" in done.stdout


def test_the_scripts_that_run_in_the_debuggee_are_found_by_path() -> None:
    assert Path(launch.BOOT).is_file() and Path(native_launch.STUB).is_file()
