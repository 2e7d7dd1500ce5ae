"""A WebSocket client (RFC 6455) on an asyncio Protocol, for relaying the DAP tunnel.

`forward` passes every DAP message of an IDE through one of these, so a message's way
through it is a single `data_received` call: the frame is parsed and handed on in the
same loop step, with no coroutine, Task or future per frame. (tornado's client reads
each frame in a coroutine, which cost the forward one or two extra loop iterations per
message.) It has what the tunnel needs and no more: text frames, whose payload is handed
over as bytes; fragmented messages; ping and pong; the close handshake. It offers no
extensions, so the server may use none.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import socket
import ssl
from collections.abc import Callable
from typing import cast

from ..dap.framing import DEFAULT_MAX_MESSAGE
from ..websocket_frames import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    encode_frame,
    parse_head,
)
from .errors import DebugServerClientError, ServerNotFound
from .transport import Transport, auth_header
from .transport import decode_response as _decode

log = logging.getLogger("jupyter_debug_server.client")

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# The largest message accepted from the server (the largest DAP message anyone takes).
MAX_MESSAGE = DEFAULT_MAX_MESSAGE
_MAX_RESPONSE_HEAD = 64 * 1024
# How long a close handshake may take before the connection is dropped.
_CLOSE_TIMEOUT = 5.0

#: Called with each text message's payload, and with None once the connection is closed.
MessageHandler = Callable[[bytes | None], None]


class WebSocketClosed(ConnectionError):
    """The connection is closing or closed: nothing more can be sent."""


def _accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


class _MaskKeys:
    """Fresh unpredictable masking keys (RFC 6455 §10.3), 4 bytes at a time from a pool
    filled by the OS's random source: one getrandom() per 1024 frames, not per frame."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> bytes:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(4096), 0
        key = self._pool[self._at:self._at + 4]
        self._at += 4
        return key


_keys = _MaskKeys()


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """One final client frame, masked with a fresh key (RFC 6455 §5.1)."""
    return encode_frame(opcode, payload, _keys.next())


class WebSocketClient(asyncio.Protocol):
    """One client connection: the upgrade, then frames in both directions.

    Text messages go to the handler set with `on_message` (those that arrive before it
    is set are kept for it), in order, from `data_received` itself. `on_flow` is told
    when the transport's write buffer passes its high-water mark (True) and drains
    (False), so a relay can stop reading the side that feeds it.
    """

    def __init__(self, request: bytes, key: bytes, route: str) -> None:
        self._request = request
        self._accept = _accept_key(key)
        self._route = route
        self.transport: asyncio.Transport | None = None
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.close_reason = ""
        self.on_flow: Callable[[bool], None] | None = None
        self._handler: MessageHandler | None = None
        self._early: list[bytes | None] = []
        self._buffer = b""  # an incomplete frame head, or the upgrade's answer so far
        self._parts: list[bytes] = []  # an incomplete frame whose size is known...
        self._have = 0  # ...how many bytes of it are here...
        self._need = 0  # ...and how many it has in all (0: none is pending)
        self._head: tuple[int, str, dict[str, str]] | None = None  # a refusal's head
        self._fragments: list[bytes] | None = None
        self._sent_close = False
        self._delivered_end = False
        self._abort: asyncio.TimerHandle | None = None

    # -- the handler -------------------------------------------------------------------

    def on_message(self, handler: MessageHandler) -> None:
        """Deliver text messages (then None, once closed) to `handler`."""
        self._handler = handler
        early, self._early = self._early, []
        for payload in early:
            handler(payload)

    def _deliver(self, payload: bytes | None) -> None:
        if payload is None:
            if self._delivered_end:
                return
            self._delivered_end = True
        if self._handler is None:
            self._early.append(payload)
        else:
            self._handler(payload)

    # -- sending -----------------------------------------------------------------------

    @property
    def open(self) -> bool:
        return (self.upgraded.done() and self.upgraded.exception() is None
                and not self._sent_close and self.transport is not None
                and not self.transport.is_closing())

    def send_text(self, payload: bytes) -> None:
        """Send one text message (UTF-8 bytes); WebSocketClosed if closing or closed."""
        if not self.open:
            raise WebSocketClosed(self.why_closed)
        assert self.transport is not None
        self.transport.write(_client_frame(TEXT, payload))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the close handshake (the server then closes the TCP connection); the
        connection is dropped if that takes longer than _CLOSE_TIMEOUT."""
        if self.transport is None or self.transport.is_closing():
            return
        if not self.upgraded.done() or self.upgraded.exception() is not None:
            self.transport.close()
            return
        if not self._sent_close:
            self._sent_close = True
            self.transport.write(_client_frame(CLOSE, code.to_bytes(2, "big") + reason.encode()))
        if self._abort is None:
            self._abort = asyncio.get_running_loop().call_later(_CLOSE_TIMEOUT,
                                                                self.transport.abort)

    @property
    def why_closed(self) -> str:
        """The server's close code and reason, as a phrase."""
        if self.close_reason:
            return f"{self.close_reason} (code {self.close_code})"
        if self.close_code is not None:
            return f"code {self.close_code}"
        return "the connection was lost"

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, hence no isinstance
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # DAP is chatty
        self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if self._need:  # the rest of a large frame: join the parts once, when all are here
            self._parts.append(data)
            self._have += len(data)
            if self._have < self._need:
                return
            data, self._parts, self._have, self._need = b"".join(self._parts), [], 0, 0
        elif self._buffer:
            data = self._buffer + data
            self._buffer = b""
        if not self.upgraded.done():
            data = self._upgrade(data)
        elif self._head is not None:
            return  # the rest of a refusal that was already reported
        if data and self.upgraded.done() and self.upgraded.exception() is None:
            self._frames(data)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._abort is not None:
            self._abort.cancel()
        if not self.upgraded.done():
            if self._head is not None:
                self._refusal_body_read(end=True)
            else:
                self.upgraded.set_exception(ServerNotFound(
                    f"the server closed the connection before answering GET {self._route}"
                    + (f": {exc}" if exc else "")))
        self._deliver(None)
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        if self.on_flow is not None:
            self.on_flow(True)

    def resume_writing(self) -> None:
        if self.on_flow is not None:
            self.on_flow(False)

    # -- the upgrade -------------------------------------------------------------------

    def _upgrade(self, data: bytes) -> bytes:
        """Read the server's answer to the upgrade request; the bytes after it."""
        if self._head is not None:
            self._buffer = data
            self._refusal_body_read(end=False)
            return b""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > _MAX_RESPONSE_HEAD:
                self._fail_upgrade("an HTTP response head larger than 64 KiB")
            else:
                self._buffer = data
            return b""
        lines = data[:end].decode("latin-1").split("\r\n")
        rest = data[end + 4:]
        version, _, status_phrase = lines[0].partition(" ")
        code, _, phrase = status_phrase.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            self._fail_upgrade(f"the status line {lines[0][:80]!r}")
            return b""
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if int(code) != 101:
            self._head = (int(code), phrase, headers)
            self._buffer = rest
            self._refusal_body_read(end=False)
            return b""
        if headers.get("upgrade", "").lower() != "websocket" or \
                headers.get("sec-websocket-accept", "").encode() != self._accept:
            self._fail_upgrade("a 101 answer that does not accept this WebSocket key")
            return b""
        if headers.get("sec-websocket-extensions"):
            self._fail_upgrade("an extension that was not offered "
                               f"({headers['sec-websocket-extensions'][:80]})")
            return b""
        self.upgraded.set_result(None)
        return rest

    def _fail_upgrade(self, what: str) -> None:
        self.upgraded.set_exception(DebugServerClientError(
            None, "bad-response", f"the server answered GET {self._route} with {what}, "
            "not a WebSocket upgrade"))
        assert self.transport is not None
        self.transport.close()

    def _refusal_body_read(self, *, end: bool) -> None:
        """Once the refusal's body is complete (Content-Length, or the connection's end),
        fail the upgrade with the server's own sentence."""
        assert self._head is not None
        status, phrase, headers = self._head
        length = headers.get("content-length", "")
        body = self._buffer
        if length.isdigit():
            if len(body) < int(length) and not end:
                return
            body = body[:int(length)]
        elif not end:
            return  # no length: the body ends with the connection
        self._buffer = b""
        if self.upgraded.done():
            return
        try:
            _decode(status, phrase, body, "GET", self._route)
            error: Exception = DebugServerClientError(
                status, "bad-response",
                f"the server answered GET {self._route} with HTTP {status} {phrase}, "
                "not a WebSocket upgrade")
        except DebugServerClientError as exc:
            error = exc
        self.upgraded.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    # -- frames ------------------------------------------------------------------------

    def _frames(self, data: bytes) -> None:
        """Handle every whole frame in `data`; keep the incomplete tail."""
        at = 0
        while (head := parse_head(data, at)) is not None:
            if head.masked or head.rsv:
                self._protocol_error("a masked frame or reserved bits from the server")
                return
            if head.length > MAX_MESSAGE:
                self._protocol_error(f"a frame of {head.length} bytes", code=1009)
                return
            end = head.start + head.length
            if len(data) < end:
                # Wait for the whole frame without re-copying what came so far at every
                # read (a large message arrives in many reads).
                self._parts, self._have, self._need = [data[at:]], len(data) - at, end - at
                return
            at = end
            if not self._frame(head.fin, head.opcode, data[head.start:end]):
                return
        self._buffer = data[at:]

    def _frame(self, fin: bool, opcode: int, payload: bytes) -> bool:
        """Handle one frame; False once the connection is done with."""
        if opcode >= CLOSE:
            return self._control(fin, opcode, payload)
        if opcode == CONTINUATION:
            if self._fragments is None:
                return self._protocol_error("a continuation frame that continues nothing")
            self._fragments.append(payload)
            if sum(map(len, self._fragments)) > MAX_MESSAGE:
                return self._protocol_error("a message over 64 MiB", code=1009)
            if not fin:
                return True
            payload = b"".join(self._fragments)
            opcode, self._fragments = self._message_opcode, None
        elif self._fragments is not None:
            return self._protocol_error("a new message inside a fragmented one")
        elif not fin:
            self._fragments, self._message_opcode = [payload], opcode
            return True
        if opcode == TEXT:
            if not self._sent_close:
                self._deliver(payload)
        elif opcode == BINARY:
            log.warning("ignoring a binary WebSocket message of %d bytes", len(payload))
        else:
            return self._protocol_error(f"opcode {opcode:#x}")
        return True

    _message_opcode = TEXT

    def _control(self, fin: bool, opcode: int, payload: bytes) -> bool:
        if not fin or len(payload) > 125:
            return self._protocol_error("a fragmented or oversized control frame")
        assert self.transport is not None
        if opcode == PING:
            if not self._sent_close:
                self.transport.write(_client_frame(PONG, payload))
        elif opcode == CLOSE:
            if len(payload) >= 2:
                self.close_code = int.from_bytes(payload[:2], "big")
                self.close_reason = payload[2:].decode("utf-8", "replace")
            else:
                self.close_code = 1005  # "no status received"
            if not self._sent_close:
                self._sent_close = True
                self.transport.write(_client_frame(CLOSE, payload[:2]))
            self._deliver(None)
            self.transport.close()
            return False
        elif opcode != PONG:
            return self._protocol_error(f"control opcode {opcode:#x}")
        return True

    def _protocol_error(self, what: str, code: int = 1002) -> bool:
        log.warning("closing the WebSocket to %s: the server sent %s", self._route, what)
        self.close_code = code
        self.close_reason = f"the server sent {what}"
        self.close(code)
        assert self.transport is not None
        self.transport.close()
        self._deliver(None)
        return False


async def connect_websocket(transport: Transport, route: str,
                            timeout: float = 30) -> WebSocketClient:
    """Open the WebSocket at `route` (under base_url) with the transport's credential.

    The server's refusal (401/403/404/409 before the upgrade) raises
    DebugServerClientError with its sentence; an unreachable server, ServerNotFound.
    """
    loop = asyncio.get_running_loop()
    key = base64.b64encode(os.urandom(16))
    host = f"[{transport.host}]" if ":" in transport.host else transport.host
    default_port = 443 if transport.scheme == "https" else 80
    port = transport.port or default_port
    headers = {
        "Host": host if port == default_port else f"{host}:{port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key.decode(),
        "Sec-WebSocket-Version": "13",
        **auth_header(transport.token),
    }
    path = transport.path(route.split("?", 1)[0]) + (
        "?" + route.split("?", 1)[1] if "?" in route else "")
    request = (f"GET {path} HTTP/1.1\r\n"
               + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
               + "\r\n").encode("latin-1")
    protocol = WebSocketClient(request, key, route)
    context: ssl.SSLContext | None = None
    if transport.scheme == "https":
        context = transport.ssl_context or ssl.create_default_context()

    async def upgrade() -> None:
        await loop.create_connection(lambda: protocol, transport.host, port, ssl=context)
        await protocol.upgraded

    try:
        await asyncio.wait_for(upgrade(), timeout)
    except (TimeoutError, asyncio.TimeoutError):
        if protocol.transport is not None:
            protocol.transport.abort()
        raise ServerNotFound(f"the server at {transport.url} did not answer GET {route} "
                             f"within {timeout:g} s") from None
    except OSError as exc:
        if protocol.transport is not None:
            protocol.transport.abort()
        if isinstance(exc, ssl.SSLError):
            raise ServerNotFound(f"TLS with the server at {transport.url} failed: "
                                 f"{exc}") from None
        raise ServerNotFound(f"cannot reach the server at {transport.url}: "
                             f"{exc.strerror or exc}") from None
    return protocol

