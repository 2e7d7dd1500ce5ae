"""The forward's WebSocket honours HTTPS_PROXY/HTTP_PROXY/NO_PROXY (an HTTP CONNECT tunnel).

The server runs in its own process on 127.0.0.1; the client names it `debug-hub.test`,
which only the proxy (tests/support/connect_proxy.py) resolves: a connection that reached
the server went through the proxy, and the proxy counts it.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tornado.web
import tornado.websocket
from tornado.httpserver import HTTPServer

from jupyter_debug_server.client import DebugServerClient
from jupyter_debug_server.client.errors import DebugServerClientError, ServerNotFound
from jupyter_debug_server.client.transport import Transport
from jupyter_debug_server.client.websocket_client import WebSocketClient, connect_websocket
from jupyter_debug_server.websocket import ServerConnection

from ..support.connect_proxy import ConnectProxy
from ..support.server_process import ServerProcess

pytestmark = pytest.mark.timeout(120)
TARGETS = Path(__file__).parent.parent / "targets"
HUB = "debug-hub.test"  # resolvable by the proxy only


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("proxy")
    shutil.copytree(TARGETS, base / "root" / "targets")
    # A hub behind a proxy is reached by a name that is not this machine's.
    srv = ServerProcess(base / "root", base / "state",
                        server_args=["--ServerApp.allow_remote_access=True"])
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def session_id(server: ServerProcess) -> Iterator[str]:
    with DebugServerClient(f"http://127.0.0.1:{server.port}/", server.token) as client:
        model = client.create_session({"debugger": "debugpy", "program": "targets/loop.py",
                                       "stop_on_entry": True})
        model = client.wait_settled(model["id"], 60)
        assert model["state"] == "stopped", model
        yield str(model["id"])
        client.terminate(model["id"])


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)


async def _threads(tunnel: WebSocketClient) -> dict[str, object]:
    """Send `threads` through the tunnel; its response."""
    answers: asyncio.Queue[bytes | None] = asyncio.Queue()
    tunnel.on_message(answers.put_nowait)
    tunnel.send_text(json.dumps({"type": "request", "seq": 1, "command": "threads"}).encode())
    while True:
        payload = await asyncio.wait_for(answers.get(), 30)
        assert payload is not None, tunnel.why_closed
        message = json.loads(payload)
        if message.get("type") == "response":
            return dict(message)


def test_the_tunnel_goes_through_the_proxy_named_by_http_proxy(
        server: ServerProcess, session_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with ConnectProxy({HUB: "127.0.0.1"}) as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            monkeypatch.setenv("NO_PROXY", "example.com, 10.0.0.0/8")  # not this host
            transport = Transport(f"http://{HUB}:{server.port}/", server.token)
            tunnel = await connect_websocket(
                transport, f"/api/debug/sessions/{session_id}/dap", 30)
            try:
                response = await _threads(tunnel)
                assert response["success"] and response["command"] == "threads", response
            finally:
                tunnel.close()
                await asyncio.wait_for(tunnel.closed, 10)
            assert proxy.tunnels == [f"{HUB}:{server.port}"]

    asyncio.run(scenario())


def test_no_proxy_sends_the_host_direct(server: ServerProcess, session_id: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with ConnectProxy({HUB: "127.0.0.1"}) as proxy:
            monkeypatch.setenv("http_proxy", proxy.url)
            monkeypatch.setenv("no_proxy", ".test")
            transport = Transport(f"http://{HUB}:{server.port}/", server.token)
            # Direct: this machine cannot resolve the name, and the proxy saw nothing.
            with pytest.raises(ServerNotFound,
                               match=re.escape(f"cannot reach the server at http://{HUB}")):
                await connect_websocket(transport, f"/api/debug/sessions/{session_id}/dap", 30)
            assert proxy.tunnels == []
            # Loopback never goes through a proxy.
            local = Transport(f"http://127.0.0.1:{server.port}/", server.token)
            tunnel = await connect_websocket(local, f"/api/debug/sessions/{session_id}/dap",
                                             30)
            tunnel.close()
            await asyncio.wait_for(tunnel.closed, 10)
            assert proxy.tunnels == []

    asyncio.run(scenario())


def test_proxy_credentials_and_refusals(server: ServerProcess, session_id: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with ConnectProxy({HUB: "127.0.0.1"}, credential="ide:s3cret") as proxy:
            transport = Transport(f"http://{HUB}:{server.port}/", server.token)
            route = f"/api/debug/sessions/{session_id}/dap"
            monkeypatch.setenv("HTTP_PROXY", f"http://ide:wrong@127.0.0.1:{proxy.port}")
            with pytest.raises(DebugServerClientError) as refused:
                await connect_websocket(transport, route, 30)
            assert (refused.value.status, refused.value.reason) == (407, "proxy-refused")
            assert f"127.0.0.1:{proxy.port}" in refused.value.message
            assert "wrong" not in refused.value.message
            monkeypatch.setenv("HTTP_PROXY", f"http://ide:s3cret@127.0.0.1:{proxy.port}")
            tunnel = await connect_websocket(transport, route, 30)
            try:
                assert (await _threads(tunnel))["success"]
            finally:
                tunnel.close()
                await asyncio.wait_for(tunnel.closed, 10)
            assert proxy.tunnels == [f"{HUB}:{server.port}"] and proxy.refused == [407]
            # A proxy nobody listens on: the error names it.
            monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
            named = re.escape("through the proxy 127.0.0.1:1 (from HTTP_PROXY)")
            with pytest.raises(ServerNotFound, match=named):
                await connect_websocket(transport, route, 30)

    asyncio.run(scenario())


class _Echo(tornado.websocket.WebSocketHandler):
    def get_websocket_protocol(self) -> Any:
        return ServerConnection(self)

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


def test_https_goes_through_https_proxy_with_tls_to_the_server(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # TLS runs inside the CONNECT tunnel, checked against the server's name (not the proxy's).
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={HUB}", "-addext", f"subjectAltName=DNS:{HUB}",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True, timeout=60)

    async def scenario() -> None:
        serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        serving.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
        server = HTTPServer(tornado.web.Application([(r"/echo", _Echo)]), ssl_options=serving)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        server.add_sockets([listener])
        port = listener.getsockname()[1]
        try:
            async with ConnectProxy({HUB: "127.0.0.1"}) as proxy:
                monkeypatch.setenv("HTTPS_PROXY", proxy.url)
                monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")  # not for https
                trusting = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
                transport = Transport(f"https://{HUB}:{port}/", "", ssl_context=trusting)
                tunnel = await connect_websocket(transport, "/echo", 30)
                answers: asyncio.Queue[bytes | None] = asyncio.Queue()
                tunnel.on_message(answers.put_nowait)
                tunnel.send_text(b'{"through":"the proxy"}')
                assert await asyncio.wait_for(answers.get(), 30) == b'{"through":"the proxy"}'
                tunnel.close()
                await asyncio.wait_for(tunnel.closed, 10)
                assert proxy.tunnels == [f"{HUB}:{port}"]
        finally:
            server.stop()

    asyncio.run(scenario())
