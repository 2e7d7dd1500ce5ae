"""The socket take-over after tornado's handshake, and what bounds it, on a real tornado
server on loopback (websocket/seam.py, wire.py, connection.py)."""

from __future__ import annotations

import ast
import asyncio
import base64
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import tornado
import tornado.web
import tornado.websocket
import websockets.frames
import websockets.speedups

import jupyter_debug_server.websocket
from jupyter_debug_server.websocket import (
    TORNADO_CHECKED,
    ServerConnection,
    TakeOverError,
    check_tornado,
)
from jupyter_debug_server.websocket.wire import SocketWire

from ..support.local_app import serving
from ..support.ws_frames import PING, PONG, TEXT, encode_frame, parse_head

pytestmark = pytest.mark.timeout(60)
BIG = 8 * 1024 * 1024


def test_the_installed_tornado_is_one_the_take_over_is_checked_against() -> None:
    # Fails on a tornado upgrade: re-run tests/websocket, then widen TORNADO_CHECKED and
    # pyproject.toml's pin together.
    check_tornado()
    first, last = TORNADO_CHECKED
    assert first <= tuple(tornado.version_info[:2]) < last
    for other in ((6, 5), last, (7, 0)):
        with pytest.raises(TakeOverError, match="not one the WebSocket take-over is checked"):
            check_tornado(other)


def test_frames_are_unmasked_by_websockets_c_speedups() -> None:
    # The Python fallback costs ~100x more per MiB: a 64 MiB frame would block the loop.
    assert websockets.frames.apply_mask is websockets.speedups.apply_mask


class Recorder(tornado.websocket.WebSocketHandler):
    """Answers "big" with BIG bytes; records its connection and the pings it saw."""

    seen: dict[str, Any]

    def initialize(self, seen: dict[str, Any]) -> None:
        self.seen = seen

    def get_websocket_protocol(self) -> Any:
        return ServerConnection(self)

    def open(self, *args: Any) -> None:
        self.seen["connection"] = self.ws_connection
        self.seen["pings"] = 0

    def on_message(self, message: str | bytes) -> None:
        if message == "big":
            self.write_message("x" * BIG)
            self.seen["filled"].set()

    def on_ping(self, data: bytes) -> None:
        self.seen["pings"] += 1
        if self.seen["pings"] == self.seen.get("expect"):
            self.seen["all_pinged"].set()


@contextlib.asynccontextmanager
async def recorder() -> AsyncIterator[tuple[int, dict[str, Any]]]:
    seen: dict[str, Any] = {"all_pinged": asyncio.Event(), "filled": asyncio.Event()}
    app = tornado.web.Application([(r"/ws", Recorder, {"seen": seen})])
    with serving(app) as port:
        yield port, seen


async def _upgrade(port: int, receive_buffer: int | None = None) -> tuple[
        asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket()
    if receive_buffer is not None:  # a client that stops reading fills up soon
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=2 * BIG)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                  f"Sec-WebSocket-Key: {key}\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def test_a_plain_connection_is_taken_over() -> None:
    # Loud, not a silent fallback: a tornado that no longer lets go of its socket fails here.
    async with recorder() as (port, seen):
        reader, writer = await _upgrade(port)
        await _ping_once(reader, writer, seen)


async def _ping_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     seen: dict[str, Any]) -> None:
    try:
        writer.write(encode_frame(PING, b"hello", os.urandom(4)))
        pong = await asyncio.wait_for(reader.readexactly(7), 10)
        assert pong == bytes((0x80 | PONG, 5)) + b"hello"
        connection = seen["connection"]
        assert isinstance(connection, ServerConnection)
        assert type(connection.stream) is SocketWire
    finally:
        writer.close()


async def test_a_client_that_pings_and_does_not_read_gets_one_pong_waiting() -> None:
    """RFC 6455 §5.5.3: a pong for the latest ping only, while one is unsent; so a ping
    flood from a client that does not read costs the server one pong, not one per ping."""
    async with recorder() as (port, seen):
        await _flood(port, seen)


async def _flood(port: int, seen: dict[str, Any]) -> None:
    pings = 4000
    seen["expect"] = pings
    reader, writer = await _upgrade(port, receive_buffer=4096)
    try:
        writer.write(encode_frame(TEXT, b"big", os.urandom(4)))  # fills the way back
        await asyncio.wait_for(seen["filled"].wait(), 10)
        connection = seen["connection"]
        queued = connection.stream.waiting()  # what the kernel did not take of it
        assert queued > 0
        payloads = [b"%05d" % n + b"p" * 120 for n in range(pings)]
        writer.write(b"".join(encode_frame(PING, p, os.urandom(4)) for p in payloads))
        await asyncio.wait_for(seen["all_pinged"].wait(), 30)
        # The big message's rest, one pong, nothing more.
        assert connection.stream.waiting() <= queued + 2 + 125, (
            queued, connection.stream.waiting())
        # Reading now: the big message, then at most two pongs, the last one the latest's.
        data = b""
        pongs: list[bytes] = []
        while not pongs or pongs[-1] != payloads[-1]:
            data += await asyncio.wait_for(reader.read(1 << 20), 10)
            while (head := parse_head(data)) is not None and \
                    len(data) >= head.start + head.length:
                payload = data[head.start:head.start + head.length]
                data = data[head.start + head.length:]
                if head.opcode == PONG:
                    pongs.append(payload)
                else:
                    assert (head.opcode, len(payload)) == (TEXT, BIG)
        assert len(pongs) <= 2, len(pongs)
    finally:
        writer.close()


def test_the_package_imports_only_tornado_websockets_and_itself() -> None:
    # Its docstring's layering: api/ builds on it, never the other way round.
    package = Path(jupyter_debug_server.websocket.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 1:
                raise AssertionError(f"{module.name} imports ..{node.module}")
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert not (node.module or "").startswith("jupyter_debug_server"), module
