"""A 64 MiB DAP request through the tunnel does not stall the server for other sessions.

The server runs in its own process; this process sends the request on one session's tunnel
from a thread (a blocking socket: sendall releases the GIL, so this process's own work
cannot slow what it measures) and meanwhile times REST calls on another session, one after
another, against the same calls just before.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_debug_server.client import DebugServerClient

from ..support.server_process import ServerProcess
from ..support.ws_frames import CLOSE, TEXT, encode_frame, parse_head

pytestmark = pytest.mark.timeout(300)
TARGETS = Path(__file__).parent.parent / "targets"
MAX_DAP_MESSAGE = 64 * 1024 * 1024  # the server's default c.DebugServerApp.max_dap_message
STALL_LIMIT = 0.050


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("big")
    shutil.copytree(TARGETS, base / "root" / "targets")
    srv = ServerProcess(base / "root", base / "state")
    srv.start()
    yield srv
    srv.stop()


def _stopped(client: DebugServerClient) -> str:
    model = client.create_session({"debugger": "debugpy", "program": "targets/loop.py",
                                   "stop_on_entry": True})
    model = client.wait_settled(model["id"], 60)
    assert model["state"] == "stopped", model
    return str(model["id"])


def _big_request() -> bytes:
    """A `threads` request of just under max_dap_message bytes, as one masked frame."""
    head = b'{"type":"request","seq":1,"command":"threads","arguments":{"pad":"'
    tail = b'"}}'
    text = head + b"x" * (MAX_DAP_MESSAGE - 1024 - len(head) - len(tail)) + tail
    return encode_frame(TEXT, text, os.urandom(4))


class _Tunnel:
    """A blocking WebSocket to a session's /dap (upgraded by hand), for one big request."""

    def __init__(self, port: int, token: str, sid: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /api/debug/sessions/{sid}/dap HTTP/1.1\r\n"
                           f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nAuthorization: token {token}\r\n"
                           "\r\n").encode())
        self.data = b""
        while b"\r\n\r\n" not in self.data:
            self.data += self._recv()
        head, _, self.data = self.data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        assert chunk, "the server closed the tunnel"
        return chunk

    def response(self, seq: int) -> dict[str, object]:
        """The response to request `seq` (events before it are skipped)."""
        while True:
            head = parse_head(self.data)
            if head is None or len(self.data) < head.start + head.length:
                self.data += self._recv()
                continue
            payload = self.data[head.start:head.start + head.length]
            self.data = self.data[head.start + head.length:]
            assert head.opcode != CLOSE, payload
            message = json.loads(payload)
            if message.get("type") == "response" and message.get("request_seq") == seq:
                return dict(message)


def _time_rest(port: int, token: str, sid: str, until: threading.Event,
               times: list[tuple[float, float]], count: int | None = None) -> None:
    """GET the session's model over one keep-alive connection, again and again: (start,
    duration) of each, until `until` is set (or `count` calls)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"token {token}"}
    try:
        while not until.is_set() and (count is None or len(times) < count):
            start = time.perf_counter()
            conn.request("GET", f"/api/debug/sessions/{sid}", headers=headers)
            response = conn.getresponse()
            body = response.read()
            times.append((start, time.perf_counter() - start))
            assert response.status == 200, body
    finally:
        conn.close()


def test_a_64_mib_request_does_not_stall_other_sessions_rest_calls(
        server: ServerProcess) -> None:
    with DebugServerClient(f"http://127.0.0.1:{server.port}/", server.token) as client:
        big_sid, other_sid = _stopped(client), _stopped(client)
        try:
            frame = _big_request()
            tunnel = _Tunnel(server.port, server.token, big_sid)
            never = threading.Event()
            baseline: list[tuple[float, float]] = []
            _time_rest(server.port, server.token, other_sid, never, baseline, count=60)

            during: list[tuple[float, float]] = []
            done = threading.Event()
            timer = threading.Thread(target=_time_rest, args=(
                server.port, server.token, other_sid, done, during))
            timer.start()
            try:
                sent_at = time.perf_counter()
                tunnel.sock.sendall(frame)
                response = tunnel.response(1)
                answered_at = time.perf_counter()
            finally:
                done.set()
                timer.join(60)
            tunnel.sock.close()
        finally:
            client.terminate(big_sid)
            client.terminate(other_sid)
    assert response["success"] and response["command"] == "threads", response
    usual = statistics.median(d for _, d in baseline)
    overlapping = [d for start, d in during if start + d >= sent_at and start <= answered_at]
    assert len(overlapping) >= 5, (len(during), answered_at - sent_at)
    worst = max(overlapping)
    print(f"\n64 MiB request answered in {answered_at - sent_at:.3f} s; REST calls: usual "
          f"{usual * 1000:.1f} ms, worst meanwhile {worst * 1000:.1f} ms over "
          f"{len(overlapping)} calls")
    assert worst - usual <= STALL_LIMIT, (usual, sorted(overlapping)[-5:])
