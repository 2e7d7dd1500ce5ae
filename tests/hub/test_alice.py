"""alice, behind a real JupyterHub and its proxy, with her hub token: REST, the events
socket, the DAP tunnel, `forward` (stdio and port), the CLI and her session tokens.

Everything goes through /user/alice/ on the proxy's public port, as a user's browser,
IDE or script reaches a single-user server on a hub."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from ..support.forward import ForwardProcess, join, tcp_ide
from .client import UserServer, auth, run_cli

pytestmark = pytest.mark.timeout(180)


async def start_forward(server: UserServer, sid: str, *mode: str) -> ForwardProcess:
    """`forward SID MODE --url <her server behind the hub>`, her token in the environment."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jupyter_debug_server.cli", "forward", sid, *mode,
        "--url", server.url_base,
        env=dict(os.environ, JUPYTER_DEBUG_SERVER_TOKEN=server.token),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    return ForwardProcess(proc)


async def test_rest_events_and_the_dap_tunnel_through_the_proxy(alice: UserServer) -> None:
    sid = await alice.launch_stopped()
    status, model = await alice.call("GET", f"sessions/{sid}")
    assert status == 200 and model["state"] == "stopped", model
    assert model["owner"] == "alice", model  # the hub's user name, not the OS user's
    events = await alice.socket(f"sessions/{sid}/events")
    tunnel = await alice.socket(f"sessions/{sid}/dap")
    try:
        first = await events.wait_for(lambda m: m.get("type") == "state")
        assert first["session"]["id"] == sid
        capabilities = await tunnel.join()
        assert capabilities.get("supportsConfigurationDoneRequest"), capabilities
        await tunnel.event("stopped")  # the late joiner is told where the program stands
        thread = (await tunnel.body("threads"))["threads"][0]["id"]
        frames = (await tunnel.body("stackTrace", {"threadId": thread}))["stackFrames"]
        assert frames[0]["source"]["path"].endswith("loop.py"), frames[0]
        answer = await tunnel.body("evaluate", {"expression": "6 * 7", "context": "repl",
                                                "frameId": frames[0]["id"]})
        assert answer["result"] == "42", answer
        # A step through the tunnel: the tunnel and the events socket both see the stop.
        mark_tunnel, mark_events = len(tunnel.messages), len(events.messages)
        await tunnel.body("next", {"threadId": thread})
        stop = await tunnel.event("stopped", after=mark_tunnel)
        assert stop["body"]["reason"] == "step", stop
        await events.wait_for(lambda m: m.get("type") == "dap"
                              and m["event"]["event"] == "stopped", after=mark_events)
        # The session's state follows the debugger's event: REST reads the stack once the
        # stream says it is stopped again.
        await events.wait_for(lambda m: m.get("type") == "state"
                              and m["session"]["state"] == "stopped", after=mark_events)
        status, stack = await alice.call("GET", f"sessions/{sid}/stack")
        assert status == 200, stack
        status, listed = await alice.call("GET", "sessions")
        assert status == 200 and sid in [s["id"] for s in listed], listed
        status, ended = await alice.call("DELETE", f"sessions/{sid}")
        assert status == 200 and ended["state"] == "terminated", ended
        await events.wait_for(lambda m: m.get("type") == "state"
                              and m["session"]["state"] == "terminated")
    finally:
        await tunnel.close()
        await events.close()


async def test_forward_on_stdio_and_on_a_port_through_the_proxy(alice: UserServer) -> None:
    sid = await alice.launch_stopped()
    stdio = await start_forward(alice, sid, "--stdio")
    port = await start_forward(alice, sid, "--port")
    try:
        ide = stdio.ide()
        assert (await join(ide)).get("supportsConfigurationDoneRequest")
        await ide.wait_event("stopped")
        thread = (await ide.request("threads"))["threads"][0]["id"]
        frames = (await ide.request("stackTrace", {"threadId": thread}))["stackFrames"]
        assert frames[0]["source"]["path"].endswith("loop.py"), frames[0]
        other = await tcp_ide(await port.port())
        await join(other)
        await other.wait_event("stopped")
        # The stdio IDE steps; the one on the port sees the new stop too.
        mark = len(other.events)
        await ide.request("next", {"threadId": thread})
        stop = await other.wait_event("stopped", after=mark)
        assert stop["body"]["reason"] == "step", stop
        other.channel.close()
        # The forwards end as an IDE ends them, never killed (a killed forward resets its
        # tunnel's connection, which the proxy logs as an error): the port's forward on
        # the session's end, the stdio one when its IDE closes stdin after that end.
        status, _ = await alice.call("DELETE", f"sessions/{sid}")
        assert status == 200
        await ide.wait_event("terminated")
        assert await port.wait() == 0, "".join(port.stderr)
        assert stdio.proc.stdin is not None
        stdio.proc.stdin.close()
        assert await stdio.wait() == 0, "".join(stdio.stderr)
    finally:
        await stdio.stop()
        await port.stop()
        await alice.call("DELETE", f"sessions/{sid}")


async def test_the_cli_with_the_url_of_her_server_behind_the_hub(alice: UserServer) -> None:
    url = ["--url", alice.url_base]
    mark = alice.hub.log.mark()
    code, out, err = await run_cli(*url, "launch", "--stop-on-entry", "--json",
                                   "targets/loop.py", token=alice.token)
    assert code == 0, err
    sid = json.loads(out)["id"]
    try:
        code, out, err = await run_cli(*url, "list", "--json", token=alice.token)
        assert code == 0 and sid in [s["id"] for s in json.loads(out)], (out, err)
        code, out, err = await run_cli(*url, "step", sid[:6], token=alice.token)
        assert code == 0 and "loop.py" in out and "(step)" in out, (out, err)
        code, out, err = await run_cli(*url, "token", sid, "--scope", "observe", "--json",
                                       token=alice.token)
        assert code == 0, err
        token = json.loads(out)
        # The session token alone, on the CLI: it reads its session, and may not step it.
        code, out, err = await run_cli(*url, "stack", sid, token=token["secret"])
        assert code == 0 and "loop.py" in out, (out, err)
        code, out, err = await run_cli(*url, "step", sid, token=token["secret"])
        assert code == 1 and "control" in err, (out, err)
        code, out, err = await run_cli(*url, "revoke", sid, token["id"], token=alice.token)
        assert code == 0 and "revoked" in out, (out, err)
        code, out, err = await run_cli(*url, "stack", sid, token=token["secret"])
        assert code == 1 and "revoked" in err, (out, err)
    finally:
        code, out, err = await run_cli(*url, "stop", sid, token=alice.token)
        assert code == 0, err
    # Every command closed its sockets cleanly (`launch --wait` ends its event stream
    # with a closing handshake): the proxy saw no peer reset.
    assert alice.hub.log.peer_resets_since(mark) == 0


async def test_a_session_token_opens_only_its_session_through_the_proxy(
        alice: UserServer) -> None:
    sid = await alice.launch_stopped()
    other = await alice.launch_stopped()
    try:
        control = await alice.issue(sid, "control")
        bearer = auth(control["secret"], "Bearer")
        status, _ = await alice.call("GET", f"sessions/{sid}/stack", headers=bearer)
        assert status == 200
        for method, route in (("GET", f"sessions/{other}"), ("GET", "sessions"),
                              ("GET", "debuggers"), ("GET", f"sessions/{sid}/tokens"),
                              ("POST", f"sessions/{sid}/tokens")):
            status, body = await alice.call(method, route, {} if method == "POST" else None,
                                            headers=bearer)
            assert status == 403, (method, route, body)
        assert await alice.refused_socket(f"sessions/{other}/dap", bearer) == 403
        # Browsers pass it as ?token= on the tunnel: through the proxy too.
        tunnel = await alice.socket(f"sessions/{sid}/dap",
                                    query=f"token={control['secret']}")
        await tunnel.join()
        await tunnel.event("stopped")
        # Revoked: the open tunnel is closed (1008) and REST refuses it at once.
        status, _ = await alice.call("DELETE", f"sessions/{sid}/tokens/{control['id']}")
        assert status == 204
        code, _ = await asyncio.wait_for(tunnel.closed, 30)
        assert code == 1008
        status, body = await alice.call("GET", f"sessions/{sid}/stack", headers=bearer)
        assert status == 403 and "revoked" in body["message"], body
    finally:
        for each in (sid, other):
            await alice.call("DELETE", f"sessions/{each}")


async def test_an_expired_session_token_stops_working_through_the_proxy(
        alice: UserServer) -> None:
    sid = await alice.launch_stopped()
    try:
        token = await alice.issue(sid, "observe", ttl=2)
        bearer = auth(token["secret"], "Bearer")
        events = await alice.socket(f"sessions/{sid}/events", bearer)
        await events.wait_for(lambda m: m.get("type") == "state")
        status, _ = await alice.call("GET", f"sessions/{sid}", headers=bearer)
        assert status == 200
        # The server's expiry timer closes the token's sockets: that close is the signal
        # that the ttl has run out (bounded by the wait, no sleep).
        code, _ = await asyncio.wait_for(events.closed, 30)
        assert code == 1008
        status, body = await alice.call("GET", f"sessions/{sid}", headers=bearer)
        assert status == 403 and "expired" in body["message"], body
        assert await alice.refused_socket(f"sessions/{sid}/events", bearer) == 403
    finally:
        await alice.call("DELETE", f"sessions/{sid}")


async def test_her_server_runs_the_suites_configuration(alice: UserServer) -> None:
    """The single-user config of hub.py is the one in force: the debug API is there and
    jupyter_server_terminals is off (so a 403 elsewhere in the suite is never a missing
    extension's)."""
    status, debuggers = await alice.call("GET", "debuggers")
    assert status == 200 and "debugpy" in [d["name"] for d in debuggers], debuggers
    status, _ = await alice.fetch("GET", "api/terminals", alice.token_header)
    assert status == 404
