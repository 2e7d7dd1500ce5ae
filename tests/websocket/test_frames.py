"""Our WebSocket pieces against a real tornado server on loopback: the forward's client
(client/websocket_client.py) and the server's connection (websocket/connection.py), on the
standard loop and on uvloop (the forward's), with the server's connections moved to our
own transport (websocket/wire.py) and left on tornado's stream (as TLS ones are)."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import tornado.web
import tornado.websocket
import uvloop
from tornado.httpserver import HTTPServer

from jupyter_debug_server.client.errors import DebugServerClientError
from jupyter_debug_server.client.transport import Transport
from jupyter_debug_server.client.websocket_client import (
    WebSocketClient,
    WebSocketClosed,
    connect_websocket,
)
from jupyter_debug_server.websocket import ServerConnection, connection

from ..support.ws_frames import CLOSE, CONTINUATION, PING, TEXT, mask, parse_head

pytestmark = pytest.mark.timeout(60)
MAX_MESSAGE = 512 * 1024
RUNNERS: dict[str, Callable[[Coroutine[Any, Any, None]], None]] = {
    "asyncio": asyncio.run, "uvloop": uvloop.run}


STREAMS = {"own-socket": "SocketWire", "tornado-stream": "IOStream"}


@pytest.fixture(params=sorted(STREAMS), autouse=True)
def reads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test once with connections taken over, once on tornado's stream."""
    monkeypatch.setattr(connection, "TAKE_OVER", request.param == "own-socket")
    return str(request.param)


class ServerLog:
    """What the server handlers saw; tests await entries without sleeping."""

    def __init__(self) -> None:
        self.entries: list[Any] = []
        self._changed = asyncio.Event()

    def append(self, entry: Any) -> None:
        self.entries.append(entry)
        self._changed.set()

    def __contains__(self, entry: Any) -> bool:
        return entry in self.entries

    def streams(self) -> set[str]:
        """The kinds of stream the handler's messages came through."""
        return {e[1] for e in self.entries if e[0] == "stream"}

    async def until(self, matches: Callable[[Any], bool]) -> Any:
        async def seen() -> Any:
            while True:
                for entry in self.entries:
                    if matches(entry):
                        return entry
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(seen(), 10)


class Echo(tornado.websocket.WebSocketHandler):
    """Echoes text; `close:CODE:REASON` closes; `ping` pings. What it saw goes to `log`."""

    log: ServerLog

    def initialize(self, log: ServerLog) -> None:
        self.log = log

    def get_websocket_protocol(self) -> Any:
        return ServerConnection(self)

    def open(self, *args: Any) -> None:
        self.log.append(("protocol", type(self.ws_connection).__name__))

    def on_message(self, message: str | bytes) -> None:
        assert isinstance(self.ws_connection, ServerConnection)
        wire = self.ws_connection.stream
        # The kind of connection: ours, or tornado's stream (plain or TLS).
        self.log.append(("stream", type(getattr(wire, "stream", wire)).__name__))
        self.log.append(("message", message))
        if isinstance(message, str) and message.startswith("close:"):
            _, code, reason = message.split(":", 2)
            self.close(int(code), reason)
        elif message == "ping":
            self.ping(b"are you there")
        else:
            self.write_message(message)

    def on_pong(self, data: bytes) -> None:
        self.log.append(("pong", data))

    def on_close(self) -> None:
        self.log.append(("closed", self.close_code))


class Refuse(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_status(403)
        self.finish({"reason": "token-refused", "message": "the token was revoked"})


async def _serve(log: ServerLog, max_message: int = MAX_MESSAGE,
                 tls: Path | None = None) -> tuple[HTTPServer, Transport]:
    app = tornado.web.Application([(r"/echo", Echo, {"log": log}), (r"/refuse", Refuse)],
                                  websocket_max_message_size=max_message)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    if tls is None:
        server = HTTPServer(app)
        server.add_sockets([listener])
        return server, Transport(f"http://127.0.0.1:{port}", "secret")
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(tls / "cert.pem", tls / "key.pem")
    server = HTTPServer(app, ssl_options=serving)
    server.add_sockets([listener])
    trusting = ssl.create_default_context(cafile=str(tls / "cert.pem"))
    return server, Transport(f"https://127.0.0.1:{port}", "secret", ssl_context=trusting)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate for 127.0.0.1 (openssl is a test dependency)."""
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True, timeout=60)
    return folder


class Inbox:
    """Messages a client received, awaited without sleeping."""

    def __init__(self, client: WebSocketClient) -> None:
        self.items: list[bytes | None] = []
        self._changed = asyncio.Event()
        client.on_message(self._add)

    def _add(self, payload: bytes | None) -> None:
        self.items.append(payload)
        self._changed.set()

    async def wait(self, count: int) -> list[bytes | None]:
        async def enough() -> list[bytes | None]:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()
            return self.items[:count]
        return await asyncio.wait_for(enough(), 10)


def _client_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """A masked client frame, built by hand (so tests can fragment and misbehave)."""
    key = b"\x01\x02\x03\x04"
    size = len(payload)
    head = bytes(((0x80 if fin else 0) | rsv | opcode, 0x80 | (size if size < 126 else 126)))
    if size >= 126:
        head += size.to_bytes(2, "big")
    return head + key + mask(payload, key)


@pytest.mark.parametrize("loop", sorted(RUNNERS))
def test_frames_in_one_write_fragments_big_messages_and_pings(loop: str, reads: str) -> None:
    async def scenario() -> None:
        log = ServerLog()
        server, transport = await _serve(log)
        client = await connect_websocket(transport, "/echo", 10)
        inbox = Inbox(client)
        try:
            assert client.transport is not None
            sock = client.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            # Three messages in one TCP write: three echoes, in order.
            client.transport.write(b"".join(_client_frame(TEXT, f'{{"n":{n}}}'.encode())
                                            for n in (1, 2, 3)))
            assert await inbox.wait(3) == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
            # One message in three fragments, with a ping between them: one echo.
            client.transport.write(_client_frame(TEXT, b"frag", fin=False)
                                   + _client_frame(PING, b"hi")
                                   + _client_frame(CONTINUATION, b"men", fin=False))
            client.transport.write(_client_frame(CONTINUATION, b"ted"))
            assert (await inbox.wait(4))[3] == b"fragmented"
            # A message far larger than one read, both ways (non-ASCII, too).
            big = json.dumps({"text": "é" * 150_000}, ensure_ascii=False).encode()
            client.send_text(big)
            assert (await inbox.wait(5))[4] == big
            # The server pings: our client answers.
            client.send_text(b"ping")
            assert (await log.until(lambda e: e[0] == "pong"))[1] == b"are you there"
            assert ("protocol", "ServerConnection") in log
            assert log.streams() == {STREAMS[reads]}
            # The server closes with a code and reason: the handler hears the end.
            client.send_text(b"close:4003:the token expired")
            assert (await inbox.wait(6))[5] is None
            await asyncio.wait_for(client.closed, 10)
            assert (client.close_code, client.close_reason) == (4003, "the token expired")
            assert client.why_closed == "the token expired (code 4003)"
            with pytest.raises(WebSocketClosed):
                client.send_text(b"too late")
        finally:
            client.close()
            server.stop()

    RUNNERS[loop](scenario())


@pytest.mark.parametrize("loop", sorted(RUNNERS))
def test_client_close_refusal_and_protocol_errors(loop: str) -> None:
    async def scenario() -> None:
        log = ServerLog()
        server, transport = await _serve(log)
        try:
            # The client closes: a close handshake, the server sees code 1000.
            client = await connect_websocket(transport, "/echo", 10)
            client.close()
            await asyncio.wait_for(client.closed, 10)
            await log.until(lambda e: e == ("closed", 1000))
            # A refusal before the upgrade carries the server's own sentence.
            with pytest.raises(DebugServerClientError) as refused:
                await connect_websocket(transport, "/refuse", 10)
            assert (refused.value.status, refused.value.reason) == (403, "token-refused")
            assert refused.value.message == "the token was revoked"
            # A frame with reserved bits (an extension nobody offered) ends the connection.
            client = await connect_websocket(transport, "/echo", 10)
            inbox = Inbox(client)
            assert client.transport is not None
            client.transport.write(_client_frame(TEXT, b"x", rsv=0x40))
            assert await inbox.wait(1) == [None]
            # A message over the server's limit: closed with 1009.
            client = await connect_websocket(transport, "/echo", 10)
            inbox = Inbox(client)
            client.send_text(b"x" * (MAX_MESSAGE + 1))
            assert await inbox.wait(1) == [None]
            assert client.close_code == 1009
            # Nobody listening: a clear error, not a hang.
            free = socket.socket()
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
            free.close()
            with pytest.raises(DebugServerClientError, match="cannot reach the server"):
                await connect_websocket(Transport(f"http://127.0.0.1:{port}"), "/echo", 10)
        finally:
            server.stop()

    RUNNERS[loop](scenario())


@pytest.mark.parametrize("loop", sorted(RUNNERS))
def test_messages_of_many_megabytes_cross_whole_in_both_directions(loop: str) -> None:
    # Hundreds of reads each way, through the large-frame paths of both readers.
    async def scenario() -> None:
        server, transport = await _serve(ServerLog(), max_message=64 * 1024 * 1024)
        client = await connect_websocket(transport, "/echo", 10)
        inbox = Inbox(client)
        try:
            big = json.dumps({"bytes": "x" * (24 * 1024 * 1024)}).encode()
            client.send_text(big)
            client.send_text(b'{"after":1}')  # the frame behind it is not lost
            echoed = await inbox.wait(2)
            assert echoed[0] == big and echoed[1] == b'{"after":1}'
        finally:
            client.close()
            server.stop()

    RUNNERS[loop](scenario())


@pytest.mark.parametrize("loop", sorted(RUNNERS))
def test_tls_connections_stay_on_tornados_stream(loop: str, tls: Path) -> None:
    # A TLS socket cannot move to a plain transport: its frames are read from tornado's
    # SSLIOStream, with the same frame handling.
    async def scenario() -> None:
        log = ServerLog()
        server, transport = await _serve(log, tls=tls)
        client = await connect_websocket(transport, "/echo", 10)
        inbox = Inbox(client)
        try:
            assert client.transport is not None
            client.transport.write(b"".join(_client_frame(TEXT, f'{{"n":{n}}}'.encode())
                                            for n in (1, 2)))
            big = json.dumps({"text": "é" * 150_000}, ensure_ascii=False).encode()
            client.send_text(big)
            assert await inbox.wait(3) == [b'{"n":1}', b'{"n":2}', big]
            assert log.streams() == {"SSLIOStream"}
            client.send_text(b"close:4003:the token expired")
            await asyncio.wait_for(client.closed, 10)
            assert (client.close_code, client.close_reason) == (4003, "the token expired")
        finally:
            client.close()
            server.stop()

    RUNNERS[loop](scenario())


@pytest.mark.parametrize("loop", sorted(RUNNERS))
def test_a_frame_sent_with_the_upgrade_request_is_not_lost(loop: str) -> None:
    # RFC 6455 asks a client to wait for the 101; one that does not must still be read
    # in order: tornado reads the frame with the request, before the connection moves.
    async def scenario() -> None:
        server, transport = await _serve(ServerLog())
        reader, writer = await asyncio.open_connection("127.0.0.1", transport.port)
        try:
            request = (b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                       b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            writer.write(request + _client_frame(TEXT, b"early") + _client_frame(TEXT, b"next"))
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 101")
            assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head  # RFC 6455's own example key
            echoes = await asyncio.wait_for(reader.readexactly(2 * 2 + 5 + 4), 10)
            assert echoes == b"\x81\x05early\x81\x04next"
        finally:
            writer.close()
            server.stop()

    RUNNERS[loop](scenario())


def test_frame_heads_are_parsed_whole_or_not_at_all() -> None:
    frame = _client_frame(TEXT, b"y" * 300)
    assert parse_head(frame[:3]) is None  # the 16-bit length is not all there yet
    head = parse_head(frame)
    assert head is not None
    assert (head.fin, head.opcode, head.masked, head.length, head.start) == (
        True, TEXT, True, 300, 4)
    assert mask(mask(b"payload", b"abcd"), b"abcd") == b"payload"


# RFC 6455 says the server must fail the connection on these, with the code given.
VIOLATIONS = {
    "unmasked": (bytes((0x80 | TEXT, 2)) + b"{}", 1002),
    "close-reason-not-utf8": (_client_frame(CLOSE, (1000).to_bytes(2, "big") + b"\xff\xfe"),
                              1007),
    "close-one-byte": (_client_frame(CLOSE, b"\x03"), 1002),
    "close-code-unsendable": (_client_frame(CLOSE, (1006).to_bytes(2, "big")), 1002),
    "text-not-utf8": (_client_frame(TEXT, b"\xc3\x28"), 1007),
    "reserved-opcode": (_client_frame(0x3, b"x"), 1002),
}


@pytest.mark.parametrize("loop", sorted(RUNNERS))
@pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])
def test_frames_that_break_rfc6455_close_the_connection_with_their_code(
        loop: str, secure: bool, tls: Path) -> None:
    # Plain sockets run once taken over and once on tornado's stream (the `reads`
    # fixture); TLS ones always stay on tornado's SSLIOStream.
    async def scenario() -> None:
        log = ServerLog()
        server, transport = await _serve(log, tls=tls if secure else None)
        try:
            for name, (frame, code) in VIOLATIONS.items():
                client = await connect_websocket(transport, "/echo", 10)
                inbox = Inbox(client)
                assert client.transport is not None
                client.transport.write(frame)
                assert await inbox.wait(1) == [None], name
                await asyncio.wait_for(client.closed, 10)
                assert client.close_code == code, (name, client.why_closed)
                client.close()
            assert not any(e[0] == "message" for e in log.entries)  # nothing reached it
        finally:
            server.stop()

    RUNNERS[loop](scenario())
