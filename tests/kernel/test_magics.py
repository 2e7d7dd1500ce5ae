"""`%debug_session` in a real ipykernel (jupyter_client) against a real server process.

The kernel finds the server the way a notebook's kernel does (kernels.py). Every command
runs as a cell and its outputs (execute_result, display_data, stream, error) are checked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager

from jupyter_debug_server.client import TOKEN_ENV, URL_ENV

from ..support.native import SOURCES, marker_line
from ..support.server_process import ServerProcess
from .kernels import Kernel

pytestmark = pytest.mark.timeout(180)


def test_launch_with_a_breakpoint_then_inspect_step_and_continue(kernel: Kernel,
                                                                 server: ServerProcess) -> None:
    program = server.root / "targets" / "loop.py"
    cell = kernel.ok("%debug_session launch -b targets/loop.py:6 --name loopy "
                     "targets/loop.py 0")
    assert cell.text.endswith(f"stopped at {program}:6 in add (breakpoint)"), cell
    assert "<b>session " in cell.html and "stopped at" in cell.html
    model = kernel.value("dict(_)")  # the JSON model is the value
    assert model["state"] == "stopped" and model["name"] == "loopy"
    assert model["stopped"]["line"] == 6 and model["spec"]["args"] == ["0"]
    sid = model["id"]

    shown = kernel.ok("%debug_session show")
    assert f"id:        {sid}" in shown.text and "args:      0" in shown.text
    assert "<table" in shown.html

    stack = kernel.ok("%debug_session stack")
    lines = stack.text.splitlines()
    assert lines[0].startswith("thread ") and lines[2].split()[2] == "add"
    assert lines[3].endswith(f"{program}:13") and "<td" in stack.html
    main_frame = lines[3].split()[1]

    top = kernel.ok("%debug_session vars")
    assert any(line.split() == ["a", "int", "0"] for line in top.text.splitlines()), top
    in_main = kernel.ok(f"%debug_session vars --frame {main_frame}")
    values = next(line.split() for line in in_main.text.splitlines()
                  if line.startswith("values "))
    children = kernel.ok(f"%debug_session vars --ref {values[-1]}")
    assert any(line.split()[:3] == ["0", "int", "1"] for line in children.text.splitlines())

    # The expression as typed: quotes and braces reach the debugger unchanged.
    assert kernel.ok("%debug_session eval a + b").text == "1"
    assert kernel.ok('%debug_session eval {"k": a}["k"]').text == "0"
    assert kernel.value("_['result']") == "0"
    refused = kernel.refused("%debug_session eval 1/0")
    assert "ZeroDivisionError" in refused

    assert kernel.ok("%debug_session step").text.endswith(
        f"stopped at {program}:12 in main (step)")
    assert kernel.ok("%debug_session step in").text.endswith(
        f"stopped at {program}:13 in main (step)")
    cell = kernel.ok("%debug_session continue")
    assert cell.text.endswith(f"stopped at {program}:6 in add (breakpoint)")

    cleared = kernel.ok("%debug_session clear targets/loop.py:6")
    assert cleared.text == "no breakpoints"
    added = kernel.ok("%debug_session break targets/loop.py:14 'targets/loop.py:5:a > 100'")
    assert f"{program}:14" in added.text and "condition: a > 100" in added.text
    listed = kernel.ok("%debug_session break").text.splitlines()
    assert sorted(listed) == sorted(added.text.splitlines())
    assert kernel.ok("%debug_session continue").text.endswith(
        f"stopped at {program}:14 in main (breakpoint)")
    kernel.ok("%debug_session clear targets/loop.py")
    end = kernel.ok("%debug_session continue")
    assert end.text.endswith("exited with code 0"), end  # (loop.py exits with its argument)

    logs = kernel.ok("%debug_session logs")
    assert "result 6\n" in logs.text and "to stderr\n" in logs.text
    assert "to stderr" in logs.html
    assert kernel.value("{c['category'] for c in _ if 'to stderr' in c['output']}") == {
        "stderr"}


def test_use_a_prefix_token_and_stop(kernel: Kernel) -> None:
    cell = kernel.ok("%debug_session launch --stop-on-entry --name entry targets/loop.py")
    sid = kernel.value("_['id']")
    assert "stopped at" in cell.text, cell
    kernel.ok("%debug_session launch --stop-on-entry --name other targets/loop.py")
    other_id = kernel.value("_['id']")
    listing = kernel.ok("%debug_session")
    assert listing.text.splitlines()[0].split()[:4] == ["ID", "NAME", "DEBUGGER", "STATE"]
    assert sid in listing.text and "entry" in listing.html
    assert isinstance(kernel.value("list(_)"), list)

    used = kernel.ok(f"%debug_session use {sid[:8]}")
    assert f"id:        {sid}" in used.text
    assert kernel.value("_['id']") == sid

    token = kernel.ok("%debug_session token --scope observe --ttl 60")
    secret = kernel.value("_['secret']")
    assert secret.startswith("jds_") and kernel.value("_['scope']") == "observe"
    assert secret not in token.text and secret not in token.html
    assert f"for session {sid}: scope observe" in token.text

    stopped = kernel.ok(f"%debug_session stop {sid[:8]}")
    assert stopped.text.startswith(f"session {sid} ") and stopped.text.endswith("terminated")
    again = kernel.ok("%debug_session stop")  # the current one: still `entry`
    assert again.text.startswith(f"session {sid} ")
    kernel.ok(f"%debug_session stop {other_id}")


def test_a_module_with_env_and_cwd_then_pause(kernel: Kernel, server: ServerProcess) -> None:
    cell = kernel.ok("%debug_session launch --stop-on-entry --cwd targets -e GREETING=hi "
                     "-m loop 0")
    assert "stopped at" in cell.text and kernel.value("_['spec']['module']") == "loop"
    assert kernel.value("_['spec']['cwd']") == str(server.root / "targets")
    assert kernel.ok("%debug_session eval __import__('os').environ['GREETING']").text == "'hi'"
    assert kernel.ok("%debug_session continue").text.endswith("exited with code 0")
    # No breakpoint: launch returns at once, the program runs on until paused.
    running = kernel.ok("%debug_session launch targets/waiter.py")
    assert kernel.value("_['state']") in ("starting", "running"), running
    paused = kernel.ok("%debug_session pause")
    assert "stopped at" in paused.text and "waiter.py" in paused.text, paused
    assert kernel.ok("%debug_session stop").text.endswith(": terminated")


def test_attach_to_a_running_process(kernel: Kernel, server: ServerProcess) -> None:
    program = server.root / "targets" / "waiter.py"
    line = next(i for i, text in enumerate(program.read_text().splitlines(), 1)
                if "ATTACH-HERE" in text)
    proc = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        cell = kernel.ok(f"%debug_session attach -p {proc.pid} -b targets/waiter.py:{line}")
        assert f"pid {proc.pid})" in cell.text
        assert cell.text.endswith(f"stopped at {program}:{line} in <module> (breakpoint)")
        assert kernel.ok("%debug_session eval counter > 0").text == "True"
        assert kernel.ok("%debug_session stop").text.endswith(": terminated")
        assert proc.poll() is None  # detached: the process runs on
    finally:
        proc.kill()
        proc.wait()


def test_bad_usage_and_refusals_are_one_sentence(kernel: Kernel) -> None:
    assert kernel.refused("%debug_session frob").startswith(
        "%debug_session: argument COMMAND: invalid choice: 'frob'")
    text = kernel.refused("%debug_session step sideways")
    assert "Usage: %debug_session step [over|in|out]" in text
    assert "not FILE:LINE" in kernel.refused("%debug_session launch -b nowhere x.py")
    assert "needs a PROGRAM or -m MODULE" in kernel.refused("%debug_session launch")
    assert "needs an expression" in kernel.refused("%debug_session eval   ")
    assert kernel.refused("%debug_session use zzzz").startswith(
        "no debug session id starts with 'zzzz'")
    # The server's own sentences.
    missing = kernel.refused("%debug_session launch targets/no_such_file.py")
    assert "no_such_file.py" in missing
    assert kernel.refused("%debug_session launch -d nodebugger targets/loop.py").count(
        "nodebugger") >= 1
    assert "-p/--pid" in kernel.refused("%debug_session attach")


def test_a_fresh_shell_has_no_current_session(kernel: Kernel) -> None:
    kernel.ok("from jupyter_debug_server.kernel import DebugSessionMagics\n"
              "get_ipython().register_magics(DebugSessionMagics(get_ipython()))")
    assert kernel.refused("%debug_session stack").startswith(
        "there is no current debug session")


def test_the_cell_magic_debugs_the_cells_code(kernel: Kernel, server: ServerProcess) -> None:
    cell = kernel.ok("%%debug_session launch -b 2\n"
                     "x = 40\n"
                     "y = x + 2\n"
                     "print('y is', y)\n")
    written = next((server.root / ".jupyter-debug-server").glob("cell-*.py"))
    assert written.read_text().splitlines()[1] == "y = x + 2"
    assert cell.text.endswith(f"stopped at {written}:2 in <module> (breakpoint)"), cell
    assert kernel.ok("%debug_session eval x").text == "40"
    assert kernel.ok("%debug_session continue").text.endswith("exited with code 0")
    assert "y is 42" in kernel.ok("%debug_session logs").text
    assert kernel.refused("%%debug_session attach\nx = 1\n").startswith(
        "%%debug_session: argument COMMAND: invalid choice: 'attach'")


def test_logs_follow_without_widgets_prints_what_there_is(kernel: Kernel) -> None:
    kernel.ok("%debug_session launch -b targets/loop.py:17 targets/loop.py")
    follow = kernel.ok("%debug_session logs -f")
    assert "result 6" in follow.text or follow.result.get(
        "application/vnd.jupyter.widget-view+json"), follow
    kernel.ok("%debug_session stop")


def test_the_magics_usage_is_its_help(kernel: Kernel) -> None:
    doc = kernel.ok("print(get_ipython().find_line_magic('debug_session').__doc__)").stdout
    assert "%debug_session launch [-d DEBUGGER] [-b FILE:LINE[:COND]]" in doc
    assert "%%debug_session launch [-b LINE]" in doc and "%debug_session eval EXPR" in doc


def test_the_extension_loads_before_any_server_is_found(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in (URL_ENV, TOKEN_ENV, "JPY_PARENT_PID")}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "empty-runtime")
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path), env=env)
    alone = Kernel(km)
    try:
        alone.ok("%load_ext jupyter_debug_server")
        text = alone.refused("%debug_session")
        assert text.startswith("no Jupyter server found: tried --url and --token"), text
        assert str(tmp_path / "empty-runtime") in text
    finally:
        alone.kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.timeout(30)
def test_the_packages_load_ext_does_not_import_ipython_at_server_start() -> None:
    code = ("import sys, jupyter_debug_server as p; p._jupyter_server_extension_points(); "
            "print('IPython' in sys.modules, callable(p.load_ipython_extension))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=25, check=True)
    assert done.stdout.split() == ["False", "True"]



def test_a_c_program_under_gdb(kernel: Kernel, server: ServerProcess) -> None:
    """The same commands on a native session: gdb, a breakpoint in a C function, its
    locals, an expression in C, a step, the program's output after it ends."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is not installed; run bash scripts/setup.sh test")
    native = server.root / "native"
    native.mkdir(exist_ok=True)
    source = native / "points.c"
    shutil.copy(SOURCES / "points.c", source)
    subprocess.run(["gcc", "-g", "-O0", "-o", str(native / "points"), str(source)],
                   check=True, capture_output=True, timeout=60)
    line = marker_line(source, "SQUARE-BODY")

    cell = kernel.ok(f"%debug_session launch -d gdb -b native/points.c:{line} "
                     "native/points one")
    assert cell.text.endswith(f"stopped at {source}:{line} in square (breakpoint)"), cell
    assert kernel.value("_['debugger']") == "gdb"
    stack = kernel.ok("%debug_session stack").text
    assert " square " in stack and " main " in stack, stack
    top = kernel.ok("%debug_session vars")
    assert any(row.split()[:1] == ["n"] and row.split()[-1] == "0"
               for row in top.text.splitlines()), top
    assert kernel.ok("%debug_session eval n * 2 + 1").text == "1"
    assert kernel.ok("%debug_session step").text.endswith(
        f"stopped at {source}:{line + 1} in square (step)")
    kernel.ok(f"%debug_session clear native/points.c:{line}")
    end = kernel.ok("%debug_session continue")
    # main returns (sum of the squares of 0, 2, 4, 6, 8 + p.x) % 256 = (120 + 3) % 256
    assert end.text.endswith("exited with code 123"), end
    logs = kernel.ok("%debug_session logs").text
    assert "arg[1]=one\n" in logs and "label origin\n" in logs, logs
