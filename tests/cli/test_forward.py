"""`jupyter-debug-server forward`: an IDE's DAP on stdio or a loopback port, relayed to a
session's DAP tunnel. A real server process, real debugpy sessions, the CLI as a
subprocess, and DAP clients on its pipes and its port.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.cli import build_parser
from jupyter_debug_server.client import TOKEN_ENV, URL_ENV, DebugServerClient
from jupyter_debug_server.client.forward import open_tunnel
from jupyter_debug_server.client.peer_owner import owner_in_table, parse_address, socket_owner
from jupyter_debug_server.dap import encode

from ..support.dap_client import DapTestClient
from ..support.forward import ForwardProcess, join, tcp_ide
from ..support.os_users import other_user, system_python
from ..support.server_process import ServerProcess, python_targets_server

TARGETS = Path(__file__).parent.parent / "targets"
LOOP = "targets/loop.py"
BREAK_LINE = 13  # result = add(result, v)
NEXT_LINE = 12  # `next` from there goes back to: for v in values
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with python_targets_server(tmp_path_factory.mktemp("forward")) as srv:
        yield srv


@pytest.fixture
def client(server: ServerProcess) -> Iterator[DebugServerClient]:
    with DebugServerClient(f"http://127.0.0.1:{server.port}/", server.token) as c:
        yield c


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Nothing in the environment points at a server: --url/--token decide."""
    values = {k: v for k, v in os.environ.items() if k not in (URL_ENV, TOKEN_ENV)}
    values["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "no-runtime")
    return values


def stopped_session(client: DebugServerClient) -> str:
    """A debugpy session of loop.py stopped at its breakpoint in main's loop."""
    model = client.create_session({"debugger": "debugpy", "program": LOOP,
                                   "breakpoints": [{"path": LOOP, "line": BREAK_LINE}]})
    model = client.wait_settled(model["id"], 30)
    assert model["state"] == "stopped" and model["stopped"]["line"] == BREAK_LINE, model
    return str(model["id"])


async def _step_over(ide: DapTestClient, thread: int) -> dict[str, Any]:
    mark = len(ide.events)
    await ide.request("next", {"threadId": thread})
    return (await ide.wait_event("stopped", after=mark))["body"]


async def _locals(ide: DapTestClient, thread: int) -> dict[str, str]:
    frames = (await ide.request("stackTrace", {"threadId": thread}))["stackFrames"]
    scopes = (await ide.request("scopes", {"frameId": frames[0]["id"]}))["scopes"]
    body = await ide.request("variables",
                             {"variablesReference": scopes[0]["variablesReference"]})
    return {v["name"]: v["value"] for v in body["variables"]}


@pytest.fixture(params=["uvloop", "asyncio"])
def loop_env(request: pytest.FixtureRequest, env: dict[str, str],
             tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The forward's loop and environment: "asyncio" is what runs where uvloop is not
    installed (an import of it fails)."""
    loop = str(request.param)
    if loop == "uvloop":
        return loop, env
    (tmp_path / "no_uvloop").mkdir()
    (tmp_path / "no_uvloop" / "uvloop.py").write_text("raise ImportError('no uvloop')\n")
    return loop, {**env, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path / "no_uvloop"), *filter(None, [env.get("PYTHONPATH")])])}


def test_stdio_join_step_inspect_and_disconnect_leaves_the_session(
        server: ServerProcess, client: DebugServerClient,
        loop_env: tuple[str, dict[str, str]]) -> None:
    loop, env = loop_env
    sid = stopped_session(client)
    url = f"http://127.0.0.1:{server.port}/"

    async def scenario() -> None:
        forward = await ForwardProcess.start(url, server.token, sid[:8], "--stdio", env=env)
        try:
            ide = forward.ide()
            capabilities = await join(ide)
            assert capabilities.get("supportsConfigurationDoneRequest") is True
            # The late joiner is told where the program is stopped.
            stop = (await ide.wait_event("stopped"))["body"]
            assert stop["reason"] == "breakpoint"
            frames = (await ide.request("stackTrace", {"threadId": stop["threadId"]}))
            assert frames["stackFrames"][0]["line"] == BREAK_LINE
            step = await _step_over(ide, stop["threadId"])
            assert step["reason"] == "step"
            top = (await ide.request("stackTrace", {"threadId": stop["threadId"]}))
            assert top["stackFrames"][0]["line"] == NEXT_LINE
            assert (await _locals(ide, stop["threadId"]))["result"] == "1"
            await ide.request("disconnect", {})
            assert await forward.wait() == 0
            # Nothing but DAP on stdout: the channel never saw a framing error.
            assert not ide.channel.is_closed or "peer closed" in ide.channel.closed.result()
            assert "ended: the IDE disconnected" in "".join(forward.stderr)
            assert f"({loop} event loop)" in "".join(forward.stderr)
        finally:
            await forward.stop()

    asyncio.run(scenario())
    model = client.session(sid)
    assert model["state"] == "stopped" and model["stopped"]["line"] == NEXT_LINE, model
    client.terminate(sid)


def test_port_serves_two_ides_at_once_and_exits_when_the_session_ends(
        server: ServerProcess, client: DebugServerClient,
        loop_env: tuple[str, dict[str, str]]) -> None:
    loop, env = loop_env
    sid = stopped_session(client)
    url = f"http://127.0.0.1:{server.port}/"

    async def scenario() -> None:
        forward = await ForwardProcess.start(url, server.token, sid, "--port", "0", env=env)
        try:
            port = await forward.port()
            first, second = await tcp_ide(port), await tcp_ide(port)
            await asyncio.gather(join(first), join(second))
            stop = (await first.wait_event("stopped"))["body"]
            await second.wait_event("stopped")
            # Two tunnel clients (plus the forward's own events stream, once it is open).
            assert (await asyncio.to_thread(client.session, sid))["clients"] >= 2
            # One IDE steps; both see the program run on and stop again.
            marks = len(first.events), len(second.events)
            await first.request("next", {"threadId": stop["threadId"]})
            for ide, mark in zip((first, second), marks, strict=True):
                body = (await ide.wait_event("stopped", after=mark))["body"]
                assert body["reason"] == "step"
            # Either IDE may inspect.
            assert (await _locals(second, stop["threadId"]))["result"] == "1"
            # One IDE leaves; the forward keeps listening and serves a third one.
            first.channel.close()
            await forward.log_line("ended: the IDE closed the connection")
            third = await tcp_ide(port)
            await join(third)
            assert (await third.wait_event("stopped"))["body"]["threadId"] == stop["threadId"]
            # The session ends: the IDEs are told, and the forward stops and exits 0.
            await asyncio.to_thread(client.terminate, sid)
            for ide in (second, third):
                await ide.wait_event("terminated")
                ide.channel.close()
            assert await forward.wait() == 0
            assert f"stopped listening: session {sid} is terminated" in "".join(forward.stderr)
            assert f"({loop} event loop)" in "".join(forward.stderr)
        finally:
            await forward.stop()

    asyncio.run(scenario())


def test_forward_over_https_steps_a_session(
        tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> None:
    # A server behind TLS (its tunnel then reads through tornado's SSLIOStream), trusted
    # by the forward through SSL_CERT_FILE, as for any self-signed or private CA.
    base = tmp_path_factory.mktemp("forward-tls")
    cert, key = base / "cert.pem", base / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    shutil.copytree(TARGETS, base / "root" / "targets")
    srv = ServerProcess(base / "root", base / "state", server_args=[
        f"--ServerApp.certfile={cert}", f"--ServerApp.keyfile={key}"])
    srv.start()
    url = f"https://127.0.0.1:{srv.port}/"
    try:
        with DebugServerClient(url, srv.token, ssl_context=ssl.create_default_context(
                cafile=str(cert))) as client:
            sid = stopped_session(client)

            async def scenario() -> None:
                forward = await ForwardProcess.start(url, srv.token, sid, "--stdio",
                                                     env={**env, "SSL_CERT_FILE": str(cert)})
                try:
                    ide = forward.ide()
                    await join(ide)
                    stop = (await ide.wait_event("stopped"))["body"]
                    assert (await _step_over(ide, stop["threadId"]))["reason"] == "step"
                    top = await ide.request("stackTrace", {"threadId": stop["threadId"]})
                    assert top["stackFrames"][0]["line"] == NEXT_LINE
                    await ide.request("disconnect", {})
                    assert await forward.wait() == 0
                finally:
                    await forward.stop()

            asyncio.run(scenario())
            model = client.session(sid)
            assert model["stopped"]["line"] == NEXT_LINE, model
            client.terminate(sid)
    finally:
        srv.stop()


_INTRUDER = r"""
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
got, error = b"", None
try:
    s.sendall(sys.argv[2].encode())
    while chunk := s.recv(4096):
        got += chunk
except OSError as exc:
    error = type(exc).__name__
print(json.dumps({"read": len(got), "error": error}))
"""


def test_port_refuses_another_os_user_before_any_byte(
        server: ServerProcess, client: DebugServerClient, env: dict[str, str]) -> None:
    user = other_user()
    if user is None:
        pytest.skip("refusing another OS user needs root to create the user jds-intruder")
    python = system_python()
    if python is None:
        pytest.skip("no /usr/bin/python3 for the other user to run")
    sid = stopped_session(client)
    url = f"http://127.0.0.1:{server.port}/"
    hello = encode({"type": "request", "seq": 1, "command": "initialize",
                    "arguments": {"adapterID": "x", "linesStartAt1": True}}).decode()

    async def scenario() -> None:
        forward = await ForwardProcess.start(url, server.token, sid, "--port", "0", env=env)
        try:
            port = await forward.port()
            intruder = await asyncio.create_subprocess_exec(
                python, "-c", _INTRUDER, str(port), hello, user=user.pw_uid,
                group=user.pw_gid, extra_groups=[], cwd="/", stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(intruder.communicate(), 60)
            assert intruder.returncode == 0, err.decode()
            # Closed before a single byte came back (EOF, or a reset for its unread request).
            assert json.loads(out)["read"] == 0, out
            refusal = await forward.log_line("refused the connection from 127.0.0.1:")
            assert f"uid {user.pw_uid} ({user.pw_name})" in refusal, refusal
            assert f"serves only uid {os.getuid()}" in refusal, refusal
            assert "joined session" not in "".join(forward.stderr)
            # Our own user is still served.
            ide = await tcp_ide(port)
            await join(ide)
            assert (await ide.wait_event("stopped"))["body"]["reason"] == "breakpoint"
            ide.channel.close()
        finally:
            await forward.stop()

    asyncio.run(scenario())
    client.terminate(sid)


def test_a_session_token_forwards_until_it_is_revoked(
        server: ServerProcess, client: DebugServerClient, env: dict[str, str]) -> None:
    sid = stopped_session(client)
    url = f"http://127.0.0.1:{server.port}/"
    stdio_token = client.create_token(sid, 600, "control")
    port_token = client.create_token(sid, 600, "control")

    async def scenario() -> None:
        stdio = await ForwardProcess.start(url, stdio_token["secret"], sid, "--stdio", env=env)
        listener = await ForwardProcess.start(url, port_token["secret"], sid, "--port", "0",
                                              env=env)
        try:
            ide = stdio.ide()
            await join(ide)
            stop = (await ide.wait_event("stopped"))["body"]
            assert (await _locals(ide, stop["threadId"]))["result"] == "0"
            port_ide = await tcp_ide(await listener.port())
            await join(port_ide)
            await port_ide.wait_event("stopped")

            await asyncio.to_thread(client.revoke_token, sid, stdio_token["id"])
            # The IDE is told why, then the tunnel's end ends the forward (exit 0).
            said = await ide.wait_event("output", lambda e: "revoked" in e["body"]["output"])
            assert said["body"]["category"] == "console"
            await ide.wait_event("terminated")
            assert await stdio.wait() == 0
            assert "the session token " in "".join(stdio.stderr)

            await asyncio.to_thread(client.revoke_token, sid, port_token["id"])
            await port_ide.wait_event("terminated")
            # The port's credential is dead: it stops listening and says why (exit 1).
            assert await listener.wait() == 1
            assert f"the session token {port_token['id']} was revoked" in "".join(
                listener.stderr)
        finally:
            await stdio.stop()
            await listener.stop()

    asyncio.run(scenario())
    assert client.session(sid)["state"] == "stopped"  # revoking a token ends no session
    client.terminate(sid)


def test_an_ended_or_unknown_session_is_exit_1(
        server: ServerProcess, client: DebugServerClient, env: dict[str, str]) -> None:
    sid = stopped_session(client)
    client.terminate(sid)
    url = f"http://127.0.0.1:{server.port}/"

    async def scenario() -> None:
        for session in (sid, "nosuchsession"):
            forward = await ForwardProcess.start(url, server.token, session, "--stdio", env=env)
            try:
                assert await forward.wait() == 1
            finally:
                await forward.stop()
            err = "".join(forward.stderr)
            assert err.startswith("error: ") and session in err, err

    asyncio.run(scenario())


def test_tunnel_socket_has_nodelay(server: ServerProcess, client: DebugServerClient) -> None:
    sid = stopped_session(client)

    async def scenario() -> None:
        tunnel = await open_tunnel(client, sid)
        try:
            assert tunnel.transport is not None
            sock = tunnel.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            tunnel.close()
            await tunnel.closed

    asyncio.run(scenario())
    client.terminate(sid)


def test_socket_owner_finds_the_peer_of_a_loopback_connection() -> None:
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            listener = socket.socket(family)
            listener.bind((host, 0))
        except OSError:
            continue  # no IPv6 loopback here
        with listener:
            listener.listen(1)
            with socket.create_connection(listener.getsockname()[:2]):
                accepted, address = listener.accept()
                with accepted:
                    assert socket_owner(address[:2], accepted.getsockname()[:2]) == os.getuid()
                    # Our own end, seen from the wrong side, is not the peer's socket.
                    assert socket_owner(accepted.getsockname()[:2], address[:2]) in (
                        os.getuid(), None)
                    assert socket_owner((host, 1), accepted.getsockname()[:2]) is None


def test_proc_table_rows_are_read_in_host_byte_order() -> None:
    little = sys.byteorder == "little"
    loopback = "0100007F" if little else "7F000001"
    assert parse_address(f"{loopback}:1F90") == (parse_address(f"{loopback}:0")[0], 8080)
    assert str(parse_address(f"{loopback}:1F90")[0]) == "127.0.0.1"
    mapped = ("0000000000000000FFFF00000100007F" if little
              else "00000000000000000000FFFF7F000001")
    assert str(parse_address(f"{mapped}:0050")[0]) == "127.0.0.1"
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
    row = (f"   0: {loopback}:D431 {loopback}:1F90 01 00000000:00000000 00:00000000 00000000"
           "  1234        0 99 1 0000000000000000 20 4 30 10 -1")
    waiting = row.replace(" 01 ", " 06 ").replace("1234", "   0")
    table = "\n".join([header, row])
    assert owner_in_table(table, ("127.0.0.1", 0xD431), ("127.0.0.1", 8080)) == 1234
    assert owner_in_table(table, ("::ffff:127.0.0.1", 0xD431), ("127.0.0.1", 8080)) == 1234
    assert owner_in_table(table, ("127.0.0.1", 8080), ("127.0.0.1", 0xD431)) is None
    # A TIME_WAIT row belongs to no process any more.
    assert owner_in_table("\n".join([header, waiting]), ("127.0.0.1", 0xD431),
                          ("127.0.0.1", 8080)) is None


def test_stdio_on_a_regular_file_is_refused_clearly(
        server: ServerProcess, client: DebugServerClient, env: dict[str, str],
        tmp_path: Path) -> None:
    sid = stopped_session(client)
    requests = tmp_path / "requests.txt"
    requests.write_bytes(encode({"seq": 1, "type": "request", "command": "threads"}))
    with requests.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "jupyter_debug_server.cli", "forward", sid, "--stdio",
             "--url", f"http://127.0.0.1:{server.port}/", "--token", server.token],
            stdin=stdin, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 1, done
    assert "forward --stdio needs stdin and stdout to be pipes or sockets" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    # The refused forward left the session as it was: stopped, with no client.
    model = client.session(sid)
    assert (model["state"], model["clients"]) == ("stopped", 0)
    client.terminate(sid)


def test_port_without_a_value_is_an_os_chosen_port_and_no_fixed_port_is_suggested(
        capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    assert parser.parse_args(["forward", "3f2a", "--port"]).port == 0
    assert parser.parse_args(["forward", "3f2a", "--port", "0"]).port == 0
    assert parser.parse_args(["forward", "3f2a", "--port", "5678"]).port == 5678  # still
    assert parser.parse_args(["forward", "3f2a", "--stdio"]).port is None
    with pytest.raises(SystemExit):
        parser.parse_args(["forward", "3f2a", "--port", "70000"])
    assert "is not a number from 0 to 65535" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["forward", "--help"])
    usage = capsys.readouterr().out
    assert "the OS picks" in usage and "4711" not in usage
