"""What an agent is told when it cannot do something: the server's refusal as an MCP
tool error with the server's sentence; an observer (`--observe`) offered only reads and
acting with an observe-scope token; a program that never stops answered `pending`; the
SDK or the arguments missing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import LATEST_PROTOCOL_VERSION

from jupyter_debug_server.client import DebugServerClient, DebugServerClientError

from ..support.server_process import ServerProcess
from .agent import call, mcp_session, refused
from .conftest import STEP_TIMEOUT

pytestmark = pytest.mark.timeout(120)

#: The tools an observer is offered: those that read one session.
OBSERVER_TOOLS = {"get_session", "list_breakpoints", "stack", "variables", "output",
                  "snapshots"}


def _client(server: ServerProcess) -> DebugServerClient:
    return DebugServerClient(f"http://127.0.0.1:{server.port}/", server.token)


def test_a_refused_launch_is_an_error_with_the_servers_sentence(server: ServerProcess,
                                                                 stderr: Path) -> None:
    spec = {"debugger": "debugpy", "program": "targets/no-such-program.py", "args": []}
    with _client(server) as client, pytest.raises(DebugServerClientError) as direct:
        client.create_session(spec)
    sentence = direct.value.message
    assert "no-such-program.py" in sentence

    async def scenario() -> None:
        with anyio.fail_after(60):
            async with mcp_session(server, stderr=stderr) as agent:
                text = await refused(agent, "launch_session", program=spec["program"])
                assert text.endswith(sentence), text
                text = await refused(agent, "step", session_id="nosuchsession")
                assert text.endswith("no debug session with id 'nosuchsession'"), text
                text = await refused(agent, "attach_session", core="x.core")
                assert text.endswith("attach_session needs pid, or core with program")

    anyio.run(scenario)


def test_an_observer_reads_and_cannot_step_or_evaluate(server: ServerProcess,
                                                       stderr: Path) -> None:
    with _client(server) as client:
        model = client.create_session({"debugger": "debugpy", "program": "targets/loop.py",
                                       "stop_on_entry": True})
        sid = model["id"]
        assert client.wait_settled(sid, 60)["state"] == "stopped"

        async def scenario() -> None:
            with anyio.fail_after(60):
                async with mcp_session(server, "--observe", sid[:8],
                                       stderr=stderr) as agent:
                    tools = {t.name for t in (await agent.list_tools()).tools}
                    assert tools == OBSERVER_TOOLS
                    for name in ("step", "evaluate", "continue", "stop_session",
                                 "launch_session", "list_sessions"):
                        assert "Unknown tool" in await refused(
                            agent, name, session_id=sid, expression="1")
                    # What it does, it does with an observe token of this session only.
                    tokens = [t for t in client.tokens(sid) if t["active"]]
                    assert [t["scope"] for t in tokens] == ["observe"]
                    stack = await call(agent, "stack", session_id=sid)
                    assert stack["frames"][0]["function"] == "<module>"
                    assert (await call(agent, "get_session", session_id=sid))["id"] == sid

        anyio.run(scenario)
        # The observe token ends with the MCP server.
        assert [t["active"] for t in client.tokens(sid)] == [False]
        client.terminate(sid)


def test_the_observe_token_is_revoked_when_the_client_sends_sigterm(
        server: ServerProcess, tmp_path: Path) -> None:
    """MCP clients close stdin, then send SIGTERM after a grace period."""
    with _client(server) as client:
        sid = client.create_session({"debugger": "debugpy", "program": "targets/loop.py",
                                     "stop_on_entry": True})["id"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_debug_server.cli", "mcp", "--observe", sid,
             "--url", client.url, "--token", server.token],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps({
                "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": LATEST_PROTOCOL_VERSION, "capabilities": {},
                    "clientInfo": {"name": "test", "version": "0"}}}) + "\n")
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["id"] == 1  # serving: token issued
            assert [(t["scope"], t["active"]) for t in client.tokens(sid)] == [
                ("observe", True)]
            proc.send_signal(signal.SIGTERM)
            _, errors = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert (proc.returncode, errors) == (128 + signal.SIGTERM, "")
        assert [t["active"] for t in client.tokens(sid)] == [False]
        client.terminate(sid)


def test_a_program_that_never_stops_is_pending_within_the_wait(server: ServerProcess,
                                                                stderr: Path) -> None:
    async def scenario() -> None:
        with anyio.fail_after(90):
            async with mcp_session(server, "--wait", "2", stderr=stderr) as agent:
                began = time.monotonic()
                launched = await call(agent, "launch_session", program="targets/waiter.py")
                assert time.monotonic() - began < 2 + 20  # the wait, and a slow machine
                assert (launched["pending"], launched["state"]) == (True, "running")
                assert "pause" in launched["note"] and "--wait" in launched["note"]
                sid = launched["session_id"]

                paused = await call(agent, "pause", session_id=sid)
                assert (paused["state"], paused["location"]["reason"]) == ("stopped",
                                                                           "pause")
                assert paused["location"]["path"].endswith("waiter.py")
                # Each answer has the output since the one before: "ready" once.
                assert (launched["new_output"]["text"] + paused["new_output"]["text"]
                        == "ready\n")

                began = time.monotonic()
                resumed = await call(agent, "continue", session_id=sid)
                assert STEP_TIMEOUT <= time.monotonic() - began < STEP_TIMEOUT + 20
                assert (resumed["pending"], resumed["state"]) == (True, "running")
                assert "step_timeout" in resumed["note"]
                # Only a stopped program can be stepped: that is the server's refusal.
                assert "pause it first" in await refused(agent, "step", session_id=sid)
                ended = await call(agent, "stop_session", session_id=sid)
                assert ended["state"] == "terminated"

    anyio.run(scenario)


def test_resources_give_a_sessions_output_and_stop_history(server: ServerProcess,
                                                           stderr: Path) -> None:
    with _client(server) as client:
        sid = client.create_session({"debugger": "debugpy", "program": "targets/loop.py",
                                     "breakpoints": [{"path": "targets/loop.py", "line": 6}],
                                     "exception_breakpoints": []})["id"]
        assert client.wait_settled(sid, 60)["state"] == "stopped"
        client.set_breakpoints(sid, "targets/loop.py", [])
        assert client.continue_(sid)["state"] == "exited"

    async def scenario() -> None:
        with anyio.fail_after(60):
            async with mcp_session(server, stderr=stderr) as agent:
                templates = {t.name: t.uri_template for t in
                             (await agent.list_resource_templates()).resource_templates}
                assert set(templates) == {"session-output", "session-snapshots"}
                base = f"jupyter-debug-server://sessions/{sid}"
                output = (await agent.read_resource(f"{base}/output")).contents[0]
                assert getattr(output, "text", None) == "result 6\nto stderr\n"
                history = (await agent.read_resource(f"{base}/snapshots")).contents[0]
                assert '"reason": "breakpoint"' in getattr(history, "text", "")
                later = (await agent.read_resource(f"{base}/snapshots?since=1")).contents[0]
                assert '"items": []' in getattr(later, "text", "")
                with pytest.raises(MCPError) as caught:
                    await agent.read_resource("jupyter-debug-server://sessions/nosuch/output")
                assert caught.value.error.message == "no debug session with id 'nosuch'"

    anyio.run(scenario)


def test_without_the_sdk_the_command_names_the_extra(server: ServerProcess,
                                                     tmp_path: Path) -> None:
    hide = ("import sys; sys.modules['mcp'] = None; "  # as if not installed
            "from jupyter_debug_server.cli import main; sys.exit(main(sys.argv[1:]))")
    done = subprocess.run(
        [sys.executable, "-c", hide, "mcp", "--url", f"http://127.0.0.1:{server.port}/",
         "--token", server.token], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: the MCP server needs the MCP SDK"), done.stderr
    assert done.stderr.strip().endswith('pip install "jupyter-debug-server[mcp]"')


@pytest.mark.parametrize("args", [["--wait", "0"], ["--wait", "-3"], ["--ttl", "60"],
                                  ["--observe", "x", "--ttl", "1.5"]])
def test_usage_errors_are_exit_2(server: ServerProcess, args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_debug_server.cli", "mcp", "--url",
         f"http://127.0.0.1:{server.port}/", "--token", server.token, *args],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 2 and done.stderr.startswith("usage: "), done.stderr
