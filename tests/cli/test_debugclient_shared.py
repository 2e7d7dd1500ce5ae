"""Two Microsoft DebugClients (npm) share one session through `forward --port`.

tests/js/debugclient_shared.mjs connects two DebugClients to one `jupyter-debug-server
forward SESSION --port`: each sets its own breakpoint in the same file, both are kept,
both see every stop and inspect it as IDEs do (requests pipelined), one leaves and takes
its breakpoint with it, and the other quits with `terminate`. Then the session must be
`terminated`, recorded with that client. On debugpy, gdb and lldb sessions of a real
server process; node and tests/js/node_modules are required (`bash scripts/setup.sh
test`), so their absence fails the test.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_debug_server.client import DebugServerClient

from ..support.debuggers import debuggee
from ..support.native import targets_server
from ..support.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "js" / "debugclient_shared.mjs"
TESTSUPPORT = ROOT / "tests" / "js" / "node_modules" / "@vscode" / "debugadapter-testsupport"
SETUP_HINT = "run `bash scripts/setup.sh test` (it runs `npm ci --prefix tests/js`)"
pytestmark = pytest.mark.timeout(200)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with targets_server(tmp_path_factory.mktemp("debugclient-shared")) as srv:
        yield srv


def _audit(server: ServerProcess, sid: str) -> list[tuple[str, str, dict[str, object]]]:
    """The session's audit records, read from the server's database file."""
    db = next(server.state.rglob("*.db"))
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT action, user, detail FROM audit WHERE session_id = ? "
                            "ORDER BY id", (sid,)).fetchall()
    return [(a, u, json.loads(d) if d else {}) for a, u, d in rows]


def test_two_debugclients_share_a_session_and_one_terminates_it(
        server: ServerProcess, debugger: str) -> None:
    node = shutil.which("node")
    if node is None or not TESTSUPPORT.is_dir():
        pytest.fail(f"node or {TESTSUPPORT.relative_to(ROOT)} is missing; {SETUP_HINT}")
    program = debuggee(debugger, server.root)
    spec, source = {"program": program.program}, program.source
    line_a, line_b = program.line, program.callee_line
    url = f"http://127.0.0.1:{server.port}/"
    with DebugServerClient(url, server.token) as client:
        model = client.create_session({"debugger": debugger, **spec, "stop_on_entry": True})
        model = client.wait_settled(model["id"], 60)
        assert model["state"] == "stopped", model
        sid = model["id"]
        forward = subprocess.Popen(
            [sys.executable, "-m", "jupyter_debug_server.cli", "forward", sid, "--port",
             "--url", url, "--token", server.token], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert forward.stdout is not None
            first = forward.stdout.readline().split()  # listening on HOST:PORT
            assert first[:2] == ["listening", "on"], (first, forward.stderr)
            port = first[2].rsplit(":", 1)[1]
            result = subprocess.run(
                [node, str(SCRIPT), "--port", port, "--source", str(source),
                 "--line-a", str(line_a), "--line-b", str(line_b), "--timeout", "150"],
                capture_output=True, text=True, timeout=170, check=False)
            report = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            assert result.returncode == 0, report
            assert result.stdout.strip().splitlines()[-1] == "41 passed, 0 failed", report
            # The forward exits 0 once the session has ended.
            assert forward.wait(60) == 0
        finally:
            if forward.poll() is None:
                forward.kill()
            _, err = forward.communicate(timeout=30)
        assert "Traceback" not in err, err
        after = client.session(sid)
        assert after["state"] == "terminated", after
    ended = [(user, detail) for action, user, detail in _audit(server, sid)
             if action == "terminate"]
    assert len(ended) == 1, ended
    assert ended[0][1]["command"] == "terminate" and ended[0][1]["role"] == "control"
    assert str(ended[0][1]["client"]).endswith("/control"), ended
