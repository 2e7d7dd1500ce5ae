"""A WebSocket client (RFC 6455) on an asyncio Protocol, for relaying the DAP tunnel.

`forward` passes every DAP message of an IDE through one of these, so a message's way
through it is a single `data_received` call: the frame is parsed and handed on in the
same loop step, with no coroutine, Task or future per frame. The frames are parsed,
masked (its C speedups) and checked by a `websockets` Sans-I/O `Protocol` in OPEN state
after our upgrade; text is checked to be UTF-8 here. It offers no extensions, so the server
may use none. Through a proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY: client/proxy.py) the
connection is an HTTP CONNECT tunnel.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import ssl
from collections.abc import Callable
from typing import cast

from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State
from websockets.utils import accept_key

from ..dap.framing import DEFAULT_MAX_MESSAGE
from .errors import DebugServerClientError, ServerNotFound
from .proxy import Proxy, check_connect_response, connect_request, proxy_for
from .transport import Transport, auth_header
from .transport import decode_response as _decode

log = logging.getLogger("jupyter_debug_server.client")

# The largest message accepted from the server (the largest DAP message anyone takes).
MAX_MESSAGE = DEFAULT_MAX_MESSAGE
_MAX_RESPONSE_HEAD = 64 * 1024
# How long a close handshake may take before the connection is dropped.
_CLOSE_TIMEOUT = 5.0

#: Called with each text message's payload, and with None once the connection is closed.
MessageHandler = Callable[[bytes | None], None]


class WebSocketClosed(ConnectionError):
    """The connection is closing or closed: nothing more can be sent."""


class WebSocketClient(asyncio.Protocol):
    """One client connection: the upgrade, then frames in both directions.

    Text messages go to the handler set with `on_message` (those that arrive before it
    is set are kept for it), in order, from `data_received` itself. `on_flow` is told
    when the transport's write buffer passes its high-water mark (True) and drains
    (False), so a relay can stop reading the side that feeds it.
    """

    def __init__(self, request: bytes, key: bytes, route: str) -> None:
        self._request = request
        self._accept = accept_key(key.decode()).encode()
        self._route = route
        self.transport: asyncio.Transport | None = None
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.close_reason = ""
        self.on_flow: Callable[[bool], None] | None = None
        self.protocol = Protocol(Side.CLIENT, state=State.OPEN, max_size=MAX_MESSAGE,
                                 logger=log)
        self._handler: MessageHandler | None = None
        self._early: list[bytes | None] = []
        self._buffer = b""  # the upgrade's answer so far
        self._head: tuple[int, str, dict[str, str]] | None = None  # a refusal's head
        self._parts: list[bytes] = []  # a fragmented message so far
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
                and self.protocol.state is State.OPEN and self.transport is not None
                and not self.transport.is_closing())

    def send_text(self, payload: bytes) -> None:
        """Send one text message (UTF-8 bytes); WebSocketClosed if closing or closed."""
        if not self.open:
            raise WebSocketClosed(self.why_closed)
        self.protocol.send_text(payload)
        self._flush()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the close handshake (the server then closes the TCP connection); the
        connection is dropped if that takes longer than _CLOSE_TIMEOUT."""
        if self.transport is None or self.transport.is_closing():
            return
        if not self.upgraded.done() or self.upgraded.exception() is not None:
            self.transport.close()
            return
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(code, reason)
            self._flush()
        if self._abort is None:
            self._abort = asyncio.get_running_loop().call_later(_CLOSE_TIMEOUT,
                                                                self.transport.abort)

    def _flush(self) -> None:
        assert self.transport is not None
        for data in self.protocol.data_to_send():
            if data:  # (a client never sends EOF: the server closes the connection)
                self.transport.write(data)

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
        if not self.upgraded.done():
            if self._buffer:
                data, self._buffer = self._buffer + data, b""
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
        """Handle every whole frame in `data` (websockets keeps an incomplete one)."""
        if self.protocol.state is not State.OPEN and self.protocol.state is not State.CLOSING:
            return
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if not self._frame(cast(Frame, event)):
                break
        if self.protocol.parser_exc is not None and self.close_code is None:
            sent = self.protocol.close_sent
            self._protocol_error(str(self.protocol.parser_exc), sent.code if sent else 1002)
            return
        if self.transport is not None and not self.transport.is_closing():
            self._flush()  # pongs

    def _frame(self, frame: Frame) -> bool:
        """Handle one frame; False once the connection is done with."""
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY or opcode is Opcode.CONT:
            if opcode is not Opcode.CONT:
                self._message_opcode = opcode
            if not frame.fin:
                self._parts.append(bytes(frame.data))
                return True
            payload = bytes(frame.data)
            if self._parts:
                self._parts.append(payload)
                payload, self._parts = b"".join(self._parts), []
            if self._message_opcode is Opcode.BINARY:
                log.warning("ignoring a binary WebSocket message of %d bytes", len(payload))
                return True
            try:
                payload.decode()
            except UnicodeDecodeError:
                self.protocol.fail(1007, "a text message is not valid UTF-8")
                return self._protocol_error("a text message that is not UTF-8", 1007)
            if self.protocol.state is State.OPEN:
                self._deliver(payload)
            return True
        if opcode is Opcode.CLOSE:  # answered by websockets; the server closes the socket
            received = self.protocol.close_rcvd
            self.close_code = received.code if received is not None else 1005
            self.close_reason = received.reason if received is not None else ""
            self._flush()
            self._deliver(None)
            assert self.transport is not None
            self.transport.close()
            return False
        return True  # ping (answered by websockets) or pong

    _message_opcode = Opcode.TEXT

    def _protocol_error(self, what: str, code: int) -> bool:
        log.warning("closing the WebSocket to %s: the server sent %s", self._route, what)
        self.close_code = code
        self.close_reason = f"the server sent {what}"
        if self.transport is not None:
            self._flush()  # our close frame
            self.transport.close()
        self._deliver(None)
        return False


async def connect_websocket(transport: Transport, route: str,
                            timeout: float = 30) -> WebSocketClient:
    """Open the WebSocket at `route` (under base_url) with the transport's credential,
    through the proxy the environment names for it (client/proxy.py), if any.

    The server's refusal (401/403/404/409 before the upgrade) raises
    DebugServerClientError with its sentence; a proxy's refusal, DebugServerClientError
    (`proxy-refused`); an unreachable server or proxy, ServerNotFound.
    """
    key = base64.b64encode(os.urandom(16))
    host = f"[{transport.host}]" if ":" in transport.host else transport.host
    default_port = 443 if transport.scheme == "https" else 80
    port = transport.port or default_port
    proxy = proxy_for(transport.scheme, transport.host, port)
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
    where = transport.url if proxy is None else (
        f"{transport.url} through the proxy {proxy.address} (from {proxy.variable})")

    async def upgrade() -> None:
        loop = asyncio.get_running_loop()
        if proxy is None:
            await loop.create_connection(lambda: protocol, transport.host, port, ssl=context)
        else:
            sock = await _through_proxy(proxy, transport.host, port)
            try:
                await loop.create_connection(
                    lambda: protocol, sock=sock, ssl=context,
                    server_hostname=transport.host if context is not None else None)
            except BaseException:
                sock.close()
                raise
        await protocol.upgraded

    try:
        await asyncio.wait_for(upgrade(), timeout)
    except (TimeoutError, asyncio.TimeoutError):
        if protocol.transport is not None:
            protocol.transport.abort()
        raise ServerNotFound(f"the server at {where} did not answer GET {route} "
                             f"within {timeout:g} s") from None
    except OSError as exc:
        if protocol.transport is not None:
            protocol.transport.abort()
        if isinstance(exc, ssl.SSLError):
            raise ServerNotFound(f"TLS with the server at {where} failed: {exc}") from None
        raise ServerNotFound(f"cannot reach the server at {where}: "
                             f"{exc.strerror or exc}") from None
    return protocol


async def _through_proxy(proxy: Proxy, host: str, port: int) -> socket.socket:
    """A socket connected to `host:port` through an HTTP CONNECT tunnel of `proxy`."""
    loop = asyncio.get_running_loop()
    error: OSError = OSError(f"no address for {proxy.host}")
    for family, kind, number, _name, address in await loop.getaddrinfo(
            proxy.host, proxy.port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, number)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
            break
        except OSError as exc:
            sock.close()
            error = exc
    else:
        raise error
    try:
        await loop.sock_sendall(sock, connect_request(host, port, proxy))
        head = b""
        # A 2xx answer to CONNECT has no body; the server speaks only after our request.
        while b"\r\n\r\n" not in head:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk or len(head) > _MAX_RESPONSE_HEAD:
                raise ConnectionError(f"the proxy {proxy.address} closed the connection or "
                                      "sent no answer to CONNECT")
            head += chunk
        check_connect_response(head, host, port, proxy)
    except BaseException:
        sock.close()
        raise
    return sock
