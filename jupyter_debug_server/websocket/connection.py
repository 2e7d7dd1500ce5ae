"""One server WebSocket after tornado's handshake, its frames handled by `websockets`.

tornado's `WebSocketHandler` calls its protocol object (`ws_connection`) for the upgrade
(`accept_connection`) and for every write, ping and close. `ServerConnection` is that object:
it answers the upgrade through the handler (so tornado's access log and our redaction see a
`101`), takes the connection over (seam.py, wire.py) and lets a `websockets` Sans-I/O
`Protocol` in OPEN state parse, unmask (its C speedups), check and close-code every frame.
What RFC 6455 says must fail the connection does so, with the code `websockets` picks: an
unmasked client frame, reserved bits or opcodes, a malformed control frame (1002), a close
reason that is not UTF-8 (1007), a message over the handler's `max_message_size` (1009).
Text that is not UTF-8 closes with 1007 here, as the message is decoded. A bug of ours closes
with 1011, logged by the handler's `log_exception`, never out of the loop's read callback.

A handler that sets `large_message_threshold` gets messages of at least that many bytes
through `on_large_message(LargeMessage)` instead, their payload split off the stream as it
arrives (large.py): never joined, unmasked or decoded in one call on the event loop.

Bounded: while a handler's `on_message` awaits, reading stops; a client that sends pings and
does not read gets at most one pong waiting at a time (the latest ping's, RFC 6455 §5.5.3).
Keep-alive pings are jupyter_server's `WebSocketMixin`'s (it calls `write_ping`).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import deque
from typing import TYPE_CHECKING, Any, cast

from tornado.escape import json_encode
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError
from websockets.exceptions import ProtocolError
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State
from websockets.utils import accept_key

from . import seam
from .large import FrameSplitter, LargeMessage
from .wire import SocketWire, StreamWire, Wire

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from tornado.iostream import IOStream
    from tornado.websocket import WebSocketHandler

#: Whether plain-socket connections move to a transport of ours after the handshake (tests
#: turn it off to run the path TLS connections take, on tornado's stream).
TAKE_OVER = True
#: How long the client may take to answer our close frame before the connection is dropped.
CLOSE_TIMEOUT = 5.0

CLOSE_PROTOCOL_ERROR, CLOSE_INVALID_DATA, CLOSE_MESSAGE_TOO_BIG, CLOSE_INTERNAL_ERROR = (
    1002, 1007, 1009, 1011)
#: Why a text message that is not UTF-8 fails the connection (with CLOSE_INVALID_DATA); a
#: handler that checks large messages itself closes with the same words.
NOT_UTF8 = "a text frame is not valid UTF-8"
Data = bytes | bytearray | memoryview  # a frame's payload, as websockets gives it
_PONG_HEAD = 0x80 | Opcode.PONG  # the first byte of a pong websockets wrote (final, no rsv)
_REQUIRED = ("Host", "Sec-Websocket-Key", "Sec-Websocket-Version")
# websockets logs a server's every closed connection at INFO: ours only say what is wrong.
_frames_log = logging.getLogger("jupyter_debug_server.websocket.frames")
_frames_log.setLevel(logging.WARNING)


class ServerConnection:
    """The `ws_connection` of one of our WebSocket handlers (see the module's text)."""

    def __init__(self, handler: WebSocketHandler) -> None:
        self.handler = handler
        self.protocol = Protocol(Side.SERVER, state=State.OPEN,
                                 max_size=handler.max_message_size, logger=_frames_log)
        self.stream: Wire | None = None
        self.client_terminated = False
        self.server_terminated = False
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.selected_subprotocol: str | None = None
        self._events: deque[Frame] = deque()  # parsed, not yet handed to the handler
        self._busy = True  # the handler is not ready for the next frame (open, or awaiting)
        self._parts: list[Data] = []  # a fragmented message so far
        self._binary = False  # ...whether it is binary
        self._size = 0  # ...and its bytes
        threshold = getattr(handler, "large_message_threshold", None)
        self._splitter = (None if threshold is None else
                          FrameSplitter(threshold, handler.max_message_size))
        self._pong_unsent = False
        self._pending_pong: bytes | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._reading: asyncio.Future[None] | None = None  # StreamWire's read loop

    # -- the upgrade ---------------------------------------------------------------------

    async def accept_connection(self, handler: WebSocketHandler) -> None:
        """Answer the upgrade, run the connection until it ends (tornado awaits this in
        the handler's `get`)."""
        headers = handler.request.headers
        if not all(headers.get(name) for name in _REQUIRED):
            handler.set_status(400)
            handler.finish("Missing/Invalid WebSocket headers")
            return
        handler.clear_header("Content-Type")
        handler.set_status(101)
        handler.set_header("Upgrade", "websocket")
        handler.set_header("Connection", "Upgrade")
        handler.set_header("Sec-WebSocket-Accept", accept_key(headers["Sec-Websocket-Key"]))
        handler.finish()
        stream = seam.detach(handler)
        try:
            if await self._connect(stream) and await self._open():
                assert self.stream is not None
                await self.stream.ended
        finally:
            self._end()
            handler.on_ws_connection_close(self.close_code, self.close_reason)

    async def _connect(self, stream: IOStream) -> bool:
        """Put the connection on a Wire; False if the client is gone already."""
        try:
            if TAKE_OVER and seam.is_plain(stream):
                sock, early = await seam.take_socket(stream)
                wire = SocketWire(self._feed)
                self.stream = wire
                try:
                    await wire.connect(sock, early)
                except OSError:
                    sock.close()
                    return False
            else:
                self.stream = wire_ = StreamWire(stream, self._feed)
                self._reading = asyncio.ensure_future(wire_.run())
        except StreamClosedError:
            return False
        self.stream.on_drained = self._drained
        return True

    async def _open(self) -> bool:
        """The handler's `open`; then the frames that came meanwhile. False if it failed."""
        try:
            opened = self.handler.open(*self.handler.open_args, **self.handler.open_kwargs)
            if opened is not None:
                await opened
        except Exception:
            self.handler.log_exception(*sys.exc_info())
            self._abort()
            return False
        self._ready()
        return True

    # -- frames from the client ----------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        """Bytes from the client (the wire's read callback: nothing may raise out)."""
        try:
            if self.client_terminated:
                return
            splitter = self._splitter
            if splitter is not None and self.protocol.state is State.OPEN:
                data = splitter.split(data)
                self.protocol.receive_data(data)
                if splitter.too_big is not None and self.protocol.state is State.OPEN:
                    # Failed as websockets fails a message too big (what came before it
                    # is still handed over, the close frame follows).
                    self.protocol.fail(CLOSE_MESSAGE_TOO_BIG, splitter.too_big)
            else:
                self.protocol.receive_data(data)
            # (a protocol in OPEN state has only frames to tell)
            self._events.extend(cast("list[Frame]", self.protocol.events_received()))
            self._flush()  # pongs, the echo of a close, a failure's close frame
            if self._busy:
                assert self.stream is not None
                self.stream.pause_reading()  # until the handler is ready again
            else:
                self._handle_events()
        except Exception:
            self._bug()

    def _handle_events(self) -> None:
        while self._events and not self._busy:
            waiting = self._handle(self._events.popleft())
            if waiting is not None:
                self._busy = True
                assert self.stream is not None
                self.stream.pause_reading()
                asyncio.ensure_future(waiting).add_done_callback(self._handled)

    def _handled(self, done: asyncio.Future[Any]) -> None:
        """The handler's awaitable for a message is done: the next frames."""
        try:
            if not done.cancelled() and done.exception() is not None:
                exc = done.exception()
                assert exc is not None
                self.handler.log_exception(type(exc), exc, exc.__traceback__)
                self._abort()
                return
            self._ready()
        except Exception:
            self._bug()

    def _ready(self) -> None:
        self._busy = False
        self._handle_events()
        if not self._busy and self.stream is not None:
            self.stream.resume_reading()

    def _handle(self, frame: Frame) -> Awaitable[Any] | None:
        """One frame for the handler; what it returned, if it must be awaited."""
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin and (frame.data or self._splitter is None):
                return self._message(frame.data, opcode is Opcode.BINARY)
            self._parts, self._binary, self._size = [], opcode is Opcode.BINARY, 0
            return self._fragment(frame)
        if opcode is Opcode.CONT:
            return self._fragment(frame)
        if opcode is Opcode.PING:
            return self._call(self.handler.on_ping, bytes(frame.data))
        if opcode is Opcode.PONG:
            return self._call(self.handler.on_pong, bytes(frame.data))
        # A close frame, valid (websockets checked it) and answered already.
        self.client_terminated = True
        received = self.protocol.close_rcvd
        if received is not None and frame.data:
            self.close_code, self.close_reason = received.code, received.reason
        self._events.clear()
        return None

    def _fragment(self, frame: Frame) -> Awaitable[Any] | None:
        """A frame of a message that is fragmented, empty, or split off (large.py)."""
        chunks = None
        if not frame.data and self._splitter is not None:
            chunks = self._splitter.take()  # the payload split off in its place, if any
        if chunks is None:
            self._parts.append(frame.data)
            self._size += len(frame.data)
        else:
            self._parts.extend(chunks)
            self._size += sum(len(chunk) for chunk in chunks)
        if not frame.fin:
            return None
        parts, self._parts = self._parts, []
        if self._splitter is not None and self._size >= self._splitter.threshold:
            return self._call(cast(Any, self.handler).on_large_message,
                              LargeMessage(cast("list[bytes]", parts), self._size,
                                           self._binary))
        return self._message(b"".join(parts), self._binary)

    def _message(self, data: Data, binary: bool) -> Awaitable[Any] | None:
        if binary:
            return self._call(self.handler.on_message, bytes(data))
        try:
            text = str(data, "utf-8")
        except UnicodeDecodeError:
            self._fail(CLOSE_INVALID_DATA, NOT_UTF8)
            return None
        return self._call(self.handler.on_message, text)

    def _call(self, callback: Any, argument: Any) -> Awaitable[Any] | None:
        """`callback(argument)`; an exception is the handler's bug: logged, connection
        dropped (as tornado's WebSocketProtocol does)."""
        try:
            result = callback(argument)
        except Exception:
            self.handler.log_exception(*sys.exc_info())
            self._abort()
            return None
        return cast("Awaitable[Any] | None", result)

    # -- frames to the client ------------------------------------------------------------

    def send_text(self, data: bytes) -> asyncio.Future[None] | None:
        """Send `data` (UTF-8 already) as one text frame: None when it went to the socket
        at once, else a future done once it has. WebSocketClosedError if closing."""
        if self.is_closing():
            raise WebSocketClosedError()
        self.protocol.send_text(data)
        return self._flush()

    def write_message(self, message: str | bytes | dict[str, Any],
                      binary: bool = False) -> asyncio.Future[None]:
        """tornado's: the future fails with WebSocketClosedError if the connection is lost."""
        if isinstance(message, dict):
            message = json_encode(message)
        if self.is_closing():
            raise WebSocketClosedError()
        data = message.encode() if isinstance(message, str) else message
        if binary:
            self.protocol.send_binary(data)
        else:
            self.protocol.send_text(data)
        sent = self._flush()
        result: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if sent is None:
            result.set_result(None)
        else:
            sent.add_done_callback(lambda done: _settle(result, done))
        return result

    def write_ping(self, data: bytes) -> None:
        if self.is_closing():
            raise WebSocketClosedError()
        self.protocol.send_ping(data)
        self._flush()

    def _flush(self) -> asyncio.Future[None] | None:
        """Write what the protocol has to send; the last write's future (see send_text)."""
        last = None
        for chunk in self.protocol.data_to_send():
            assert self.stream is not None
            if not chunk:  # websockets' "close the TCP connection" (a server's duty)
                if self.protocol.close_rcvd is not None:
                    self.stream.close()  # the closing handshake is complete
                else:
                    self._half_close()  # we failed it: the client may still be sending
            elif chunk[0] == _PONG_HEAD:
                self._pong(chunk)
            else:
                last = self.stream.write(chunk)
        return last

    def _pong(self, chunk: bytes) -> None:
        """Send a pong unless one is waiting already; then only the latest goes after it."""
        assert self.stream is not None
        if self._pong_unsent:
            self._pending_pong = chunk
        elif self.stream.write(chunk) is not None:
            self._pong_unsent = True

    def _drained(self) -> None:
        self._pong_unsent = False
        pending, self._pending_pong = self._pending_pong, None
        if pending is not None and self.stream is not None and not self.stream.closed():
            self._pong(pending)

    # -- closing -------------------------------------------------------------------------

    def is_closing(self) -> bool:
        return (self.stream is None or self.stream.closed() or self.client_terminated
                or self.server_terminated or self.protocol.state is not State.OPEN)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake (the client has CLOSE_TIMEOUT to answer)."""
        if self.stream is None or self.server_terminated:
            return
        self.server_terminated = True
        if self.protocol.state is State.OPEN:
            if code is None and reason is not None:
                code = 1000
            try:
                self.protocol.send_close(code, reason or "")
            except ProtocolError:  # a code no endpoint may send: close without one
                self.protocol.send_close()
            self._flush()
        if self.client_terminated:
            self.stream.close()
        elif self._close_timer is None:
            self._close_timer = asyncio.get_running_loop().call_later(
                CLOSE_TIMEOUT, self._abort)

    def _half_close(self) -> None:
        """After failing the connection: send EOF and read on (discarding) until the
        client closes its side, at most CLOSE_TIMEOUT. A full close with the client's
        bytes still unread would reset the connection, and the client could lose our
        close frame (the failure's code)."""
        assert self.stream is not None
        self.stream.write_eof()
        if self._close_timer is None:
            self._close_timer = asyncio.get_running_loop().call_later(
                CLOSE_TIMEOUT, self._abort)

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 §7.1.7): a close frame, then the socket closes."""
        self._events.clear()
        self.server_terminated = True
        self.protocol.fail(code, reason)
        self._flush()

    def _bug(self) -> None:
        """A bug of ours: logged by the handler (redacted there), the client told 1011."""
        self.handler.log_exception(*sys.exc_info())
        try:
            self._fail(CLOSE_INTERNAL_ERROR, "internal error of the server")
        finally:
            self._abort()

    def _abort(self) -> None:
        self.client_terminated = self.server_terminated = True
        self._events.clear()
        if self.stream is not None:
            self.stream.abort()

    def _end(self) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._abort()

    def on_connection_close(self) -> None:
        """tornado's handler calls this if it sees the connection close."""
        self._abort()

    def set_nodelay(self, value: bool) -> None:
        if self.stream is not None:
            self.stream.set_nodelay(value)


def _settle(result: asyncio.Future[None], done: asyncio.Future[None]) -> None:
    if result.done():
        return
    if done.cancelled() or done.exception() is not None:
        result.set_exception(WebSocketClosedError())
        result.exception()  # retrieved: a caller that drops it logs nothing
    else:
        result.set_result(None)


def send_text(connection: Any, data: bytes) -> asyncio.Future[None] | None:
    """`data` (UTF-8) as one text frame on a handler's `ws_connection` (see
    ServerConnection.send_text); WebSocketClosedError when there is none or it is closing."""
    if not isinstance(connection, ServerConnection):
        raise WebSocketClosedError()
    return connection.send_text(data)
