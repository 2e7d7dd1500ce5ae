"""A DAP client of a session's WebSocket tunnel, and the benchmark mode built on it: a
session of a real ``jupyter server`` (started as ``RestMode`` starts it) driven over
``GET /api/debug/sessions/{id}/dap``. Shared by ``tunnel_latency.py`` and
``snapshot_latency.py``."""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import time
from typing import Any

import websocket

from .bench_context import Context
from .bench_modes import Skip, Stepper
from .bench_server import RestMode
from .dapclient import DapClient, DapError, Message

TUNNEL_PATH = "/api/debug/sessions/{id}/dap"

def nodelay_of(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


# --------------------------------------------------------------------------------------
# the WebSocket DAP client


def _mask(payload: bytes, key: bytes) -> bytes:
    """RFC 6455 client masking, a word at a time (no per-byte Python loop)."""
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    size = len(payload)
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        size, "big")


class WsDapClient(DapClient):
    """`DapClient` whose messages come from WebSocket text frames, not a byte stream.

    Blocking, like the byte-stream client of the direct mode, so the bench measures the
    tunnel rather than an event loop of its own: ``websocket-client`` (a dependency of
    jupyter_server) performs the upgrade; frames are then read and written on its socket
    (TCP_NODELAY) with one ``recv`` per arrival. Each message is stamped with
    `perf_counter` the moment its frame is complete.
    """

    def __init__(self, name: str) -> None:
        super().__init__(-1, -1, name)
        self.sock: socket.socket | None = None
        self.conn: Any = None
        self.received_at = 0.0
        self._in = bytearray()

    def connect(self, url: str, token: str, timeout: float) -> None:
        """Open the WebSocket with TCP_NODELAY on its socket."""

        try:
            self.conn = websocket.create_connection(
                url, timeout=timeout, header=[f"Authorization: token {token}"],
                sockopt=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        except websocket.WebSocketBadStatusException as exc:
            raise DapError(f"{self.name}: the upgrade was refused: {exc}") from exc
        self.sock = self.conn.sock
        assert self.sock is not None and nodelay_of(self.sock)

    def send(self, message: Message) -> None:
        if self.closed or self.sock is None:
            raise DapError(f"{self.name}: the WebSocket is closed")
        payload = json.dumps(message, separators=(",", ":")).encode()
        size = len(payload)
        if size < 126:
            header = bytes((0x81, 0x80 | size))
        elif size < 1 << 16:
            header = bytes((0x81, 0x80 | 126)) + size.to_bytes(2, "big")
        else:
            header = bytes((0x81, 0x80 | 127)) + size.to_bytes(8, "big")
        key = os.urandom(4)
        self.sock.sendall(header + key + _mask(payload, key))

    def _frame(self) -> tuple[int, bytes] | None:
        """One whole frame from the buffer: (opcode, payload), or None if incomplete."""
        buf = self._in
        if len(buf) < 2:
            return None
        size, at = buf[1] & 0x7F, 2
        if size == 126:
            if len(buf) < 4:
                return None
            size, at = int.from_bytes(buf[2:4], "big"), 4
        elif size == 127:
            if len(buf) < 10:
                return None
            size, at = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < at + size:
            return None
        opcode, payload = buf[0] & 0x0F, bytes(buf[at:at + size])
        del buf[: at + size]
        return opcode, payload

    def read_message(self, deadline: float) -> Message:
        assert self.sock is not None
        while True:
            frame = self._frame()
            if frame is not None:
                opcode, payload = frame
                if opcode == 0x8:
                    self.closed = True
                    raise DapError(f"{self.name}: connection closed by the server")
                if opcode != 0x1:
                    continue  # ping/pong: the server's keep-alive
                self.received_at = time.perf_counter()
                message = json.loads(payload)
                if not isinstance(message, dict):
                    raise DapError(f"{self.name}: not a DAP message: {payload[:80]!r}")
                return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                raise TimeoutError
            data = self.sock.recv(65536)
            if not data:
                self.closed = True
                raise DapError(f"{self.name}: connection closed by the server")
            self._in += data

    def drain(self, timeout: float) -> None:
        self.backlog.clear()

    def close(self, timeout: float = 10.0) -> None:
        """Close the WebSocket (closing handshake bounded by `timeout`)."""
        if self.conn is not None and not self.closed:
            with contextlib.suppress(Exception):
                self.conn.close(timeout=timeout)
        self.closed = True



class TunnelMode(Stepper, RestMode):
    """A session of a real jupyter server (`RestMode` starts both), driven as a DAP client.

    Subclasses open the client; stepping, the join and the checks are shared. Each tunnel
    mode has its own server and session, so no mode's stop events are broadcast to another
    mode's client while it is timed.
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.port: int | None = None
        self.client: DapClient | None = None
        self.thread_id: int | None = None

    def _start_server(self) -> int:
        self.port = super()._start_server()
        return self.port

    def open_client(self) -> DapClient:
        raise NotImplementedError

    def start(self) -> None:
        super().start()  # server up, session created and stopped at the breakpoint
        try:
            self.client = self.open_client()
            self._join(self.client)
        except (DapError, OSError, ValueError, KeyError, TypeError) as exc:
            raise Skip(f"{exc}") from exc

    def _join(self, client: DapClient) -> None:
        """initialize -> attach -> configurationDone, then the replayed stop is checked."""
        timeout = self.ctx.setup_timeout
        self._initialize(client, "tunnel_latency", "jupyter-debug-server")
        client.event("initialized", timeout)
        client.call("attach", {}, timeout)
        client.call("configurationDone", {}, timeout)
        _, line = self._first_stop(client, "the replayed 'stopped' event")
        if line != self.ctx.break_line:
            raise DapError(f"the session is stopped at line {line}, not {self.ctx.break_line}")

    def close_client(self) -> None:
        client, self.client = self.client, None
        if client is not None and not client.closed:
            # The server answers `disconnect` itself; the session carries on until DELETE.
            with contextlib.suppress(DapError, OSError):
                client.call("disconnect", {}, 5.0)

    def close(self) -> None:
        self.close_client()
        super().close()  # DELETE the session, end the server


class WsMode(TunnelMode):
    """DAP over the session's WebSocket tunnel, from a tornado client in this process."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.name = "ws"
        self.description = "DAP over the WebSocket tunnel (blocking client)"

    def open_client(self) -> DapClient:
        client = WsDapClient(self.name)
        path = TUNNEL_PATH.format(id=self.session_id)
        try:
            client.connect(f"ws://127.0.0.1:{self.port}{path}", self.token, self.ctx.setup_timeout)
        except BaseException:
            client.close()
            raise
        return client

    def stamp(self, client: DapClient) -> float:
        assert isinstance(client, WsDapClient)
        return client.received_at

    def close_client(self) -> None:
        client = self.client
        super().close_client()
        if isinstance(client, WsDapClient):
            client.close()

