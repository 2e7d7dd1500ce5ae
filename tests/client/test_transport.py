"""The client's HTTP transport: TCP_NODELAY from the standard library, and HTTP proxies
(`HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`) tunnelled through with CONNECT.

The server is a real `jupyter-debug-server serve` in its own process (the client blocks);
the proxy is a small real CONNECT proxy on a loopback port, which resolves one made-up
host name, `debug-server.test`, to the server: a request that reaches the server by that
name has gone through the proxy.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_debug_server.client import DebugServerClient, ServerNotFound
from jupyter_debug_server.client.transport import MAX_IDLE

from ..support.server_process import ServerProcess, idle_connections

pytestmark = pytest.mark.timeout(90)

#: The name only the test proxy knows.
HIDDEN = "debug-server.test"


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that knows `HIDDEN` (and nothing else), or
    refuses every tunnel with `refuse` as its status line."""

    def __init__(self, target_port: int, refuse: str | None = None) -> None:
        self.target_port = target_port
        self.refuse = refuse
        self.requests: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            self._start(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            # "CONNECT host:port" (http.client says HTTP/1.0 after it, others 1.1).
            line = head.split(b"\r\n", 1)[0].decode("latin-1").rsplit(" ", 1)[0]
            self.requests.append(line)
            if self.refuse is not None:
                client.sendall(f"HTTP/1.1 {self.refuse}\r\nContent-Length: 0\r\n\r\n".encode())
                return
            if line != f"CONNECT {HIDDEN}:{self.target_port}":
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pump = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                pump.start()
                _pipe(client, upstream)
                pump.join(10)

    def close(self) -> None:
        self.listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the other side closed first


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("transport")
    (base / "root").mkdir()
    # Reached by a name that is not loopback's, as a hub is: Jupyter's DNS-rebinding
    # check would refuse that Host on a loopback server.
    srv = ServerProcess(base / "root", base / "state",
                        server_args=["--ServerApp.allow_remote_access=True"])
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def proxy(server: ServerProcess) -> Iterator[ConnectProxy]:
    p = ConnectProxy(server.port)
    yield p
    p.close()


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def _nodelay(client: DebugServerClient) -> int:
    (conn,) = idle_connections(client)
    assert conn.sock is not None
    return int(conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_the_clients_socket_has_tcp_nodelay(server: ServerProcess, no_proxy_env: None) -> None:
    """http.client sets TCP_NODELAY itself (CPython 3.11's HTTPConnection.connect), so the
    client has no connection classes of its own for it; this fails if that ever changes."""
    with DebugServerClient(f"http://127.0.0.1:{server.port}", server.token) as client:
        assert client.sessions() == []
        assert _nodelay(client) != 0


def test_http_proxy_tunnels_the_clients_requests(server: ServerProcess, proxy: ConnectProxy,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 no_proxy_env: None) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    with DebugServerClient(f"http://{HIDDEN}:{server.port}", server.token) as client:
        assert client.sessions() == []
        assert client.debuggers()[0]["name"]  # the kept-alive tunnel carries the next one
        assert _nodelay(client) != 0  # the socket to the proxy
    assert proxy.requests == [f"CONNECT {HIDDEN}:{server.port}"]


def test_the_cli_reaches_a_server_behind_a_proxy(server: ServerProcess, proxy: ConnectProxy,
                                                 tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()
           and not k.startswith("JUPYTER_DEBUG_SERVER_")}
    env.update(http_proxy=proxy.url, JUPYTER_RUNTIME_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_debug_server.cli", "list", "--json",
         "--url", f"http://{HIDDEN}:{server.port}", "--token", server.token],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "[]", "")
    assert proxy.requests == [f"CONNECT {HIDDEN}:{server.port}"]


def test_the_events_websocket_goes_through_the_proxy(server: ServerProcess,
                                                    proxy: ConnectProxy,
                                                    tmp_path: Path) -> None:
    """`logs -f` follows the output on the events WebSocket: through the proxy too (it
    went straight to the server, which a hub behind a proxy cannot be reached by)."""
    program = server.root / "say.py"
    program.write_text("print('through the proxy', flush=True)\n")
    with DebugServerClient(f"http://127.0.0.1:{server.port}", server.token) as direct:
        session = direct.create_session({"debugger": "debugpy", "program": str(program)})
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()
           and not k.startswith("JUPYTER_DEBUG_SERVER_")}
    env.update(http_proxy=proxy.url, JUPYTER_RUNTIME_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_debug_server.cli", "logs", session["id"], "-f",
         "--url", f"http://{HIDDEN}:{server.port}", "--token", server.token],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "through the proxy" in done.stdout
    # The REST calls and the events WebSocket, each through its own CONNECT.
    assert len(proxy.requests) >= 2
    assert set(proxy.requests) == {f"CONNECT {HIDDEN}:{server.port}"}


def test_loopback_is_never_proxied(server: ServerProcess, monkeypatch: pytest.MonkeyPatch,
                                   no_proxy_env: None) -> None:
    refusing = ConnectProxy(server.port, refuse="403 Forbidden")
    try:
        monkeypatch.setenv("HTTP_PROXY", refusing.url)
        for host in ("127.0.0.1", "localhost"):
            with DebugServerClient(f"http://{host}:{server.port}", server.token) as client:
                # Answered by the server itself (a proxy that refuses would have failed it).
                assert isinstance(client.sessions(), list)
        assert refusing.requests == []
    finally:
        refusing.close()


def test_a_proxy_that_refuses_is_named_in_the_error(server: ServerProcess,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    no_proxy_env: None) -> None:
    refusing = ConnectProxy(server.port, refuse="407 Proxy Authentication Required")
    try:
        monkeypatch.setenv("https_proxy", refusing.url)
        with DebugServerClient(f"https://{HIDDEN}:{server.port}", server.token) as client, \
                pytest.raises(ServerNotFound) as caught:
            client.sessions()
        assert caught.value.message == (
            f"cannot reach the server at https://{HIDDEN}:{server.port} through the proxy "
            f"127.0.0.1:{refusing.port} (set NO_PROXY={HIDDEN} to connect directly): "
            "Tunnel connection failed: 407 Proxy Authentication Required")
        assert refusing.requests == [f"CONNECT {HIDDEN}:{server.port}"]
    finally:
        refusing.close()


def test_one_client_is_safe_to_share_between_threads(server: ServerProcess,
                                                     no_proxy_env: None) -> None:
    """The MCP server runs tools in worker threads over one client: concurrent requests
    each get their own connection and their own answer, and only a few stay open."""
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(client: DebugServerClient) -> None:
        try:
            start.wait(30)
            for _ in range(15):
                assert [s["id"] for s in client.sessions()] == known
                assert {d["name"] for d in client.debuggers()} >= {"debugpy"}
        except BaseException as exc:  # (reported by the main thread)
            errors.append(exc)

    with DebugServerClient(f"http://127.0.0.1:{server.port}", server.token) as client:
        known = [s["id"] for s in client.sessions()]  # (earlier tests' sessions)
        threads = [threading.Thread(target=work, args=(client,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        idle = idle_connections(client)
        assert 1 <= len(idle) <= MAX_IDLE
        assert all(_is_open(conn) for conn in idle)
    assert idle_connections(client) == ()


def _is_open(conn: http.client.HTTPConnection) -> bool:
    return conn.sock is not None
