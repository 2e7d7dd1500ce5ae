"""Microsoft's DebugClient (npm) drives real sessions through `forward --stdio`.

tests/js/debugclient_forward.mjs spawns `python -m jupyter_debug_server.cli forward
SESSION --stdio --url …` as its debug adapter executable and runs attach → breakpoint →
continue → next → variables → disconnect against a session of a real server process:
a debugpy, a gdb and an lldb one, each stopped on entry. It needs node and tests/js/node_modules
(`bash scripts/setup.sh test` installs both), so their absence fails this test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_debug_server.client import TOKEN_ENV, URL_ENV, DebugServerClient

from ..support.native import marker_line, targets_server
from ..support.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "tests" / "js"
SCRIPT = JS / "debugclient_forward.mjs"
TESTSUPPORT = JS / "node_modules" / "@vscode" / "debugadapter-testsupport"
SETUP_HINT = "run `bash scripts/setup.sh test` (it runs `npm ci --prefix tests/js`)"
pytestmark = pytest.mark.timeout(150)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with targets_server(tmp_path_factory.mktemp("debugclient")) as srv:
        yield srv


def _run_debugclient(server: ServerProcess, spec: dict[str, object], source: Path,
                     line: int, next_line: int, expect: list[str], *,
                     token_on_argv: bool) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not installed; {SETUP_HINT}")
    if not TESTSUPPORT.is_dir():
        pytest.fail(f"{TESTSUPPORT.relative_to(ROOT)} is missing; {SETUP_HINT}")
    url = f"http://127.0.0.1:{server.port}/"
    with DebugServerClient(url, server.token) as client:
        model = client.create_session({**spec, "stop_on_entry": True})
        model = client.wait_settled(model["id"], 60)
        assert model["state"] == "stopped", model
        sid = model["id"]
        env = {k: v for k, v in os.environ.items() if k not in (URL_ENV, TOKEN_ENV)}
        env["JDS_PYTHON"] = sys.executable
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
        forward = ["forward", sid, "--stdio", "--url", url]
        if token_on_argv:
            forward += ["--token", server.token]
        else:  # the way to keep a secret out of `ps`
            env[TOKEN_ENV] = server.token
        command = [node, str(SCRIPT), "--source", str(source), "--line", str(line),
                   "--next-line", str(next_line), "--timeout", "90",
                   *[f"--expect={item}" for item in expect],
                   *[f"--arg={arg}" for arg in forward]]
        result = subprocess.run(command, env=env, capture_output=True, text=True,
                                timeout=120, check=False)
        report = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        assert result.returncode == 0, report
        assert result.stdout.strip().splitlines()[-1] == f"{9 + len(expect)} passed, 0 failed", \
            report
        # The IDE left; the session carries on where the IDE's `next` put it.
        after = client.session(sid)
        assert after["state"] == "stopped" and after["stopped"]["line"] == next_line, after
        assert after["clients"] == 0, after
        client.terminate(sid)


def _plan(debugger: str, root: Path) -> tuple[dict[str, object], Path, int, int, list[str]]:
    """(launch spec, source, breakpoint line, where `next` goes, what the variables then
    say) for `debugger`'s program under `root`."""
    if debugger == "debugpy":
        # Line 13 is `result = add(result, v)`; `next` goes back to the `for` line with
        # result == 1 after the first pass.
        return ({"program": "targets/loop.py"}, root / "targets" / "loop.py", 13, 12,
                ["result=1", "v=1"])
    source = root / "native" / "points.c"
    line = marker_line(source, "AFTER-RECURSE")
    # total = 0 + 4 + 16 + 36 + 64; recurse(40) returns 40
    return {"program": "native/points"}, source, line, line + 1, ["total=120", "levels=40"]


def test_debugclient_through_forward(server: ServerProcess, debugger: str) -> None:
    spec, source, line, next_line, expect = _plan(debugger, server.root)
    # The token on forward's command line (debugpy) or in its environment, the way to
    # keep a secret out of `ps` (gdb, lldb): each way in every run.
    _run_debugclient(server, {"debugger": debugger, **spec}, source, line, next_line, expect,
                     token_on_argv=debugger == "debugpy")
