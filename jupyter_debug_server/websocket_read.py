"""Read a server WebSocket's frames with one read per arrival, for the DAP tunnel.

tornado's `WebSocketProtocol13` reads a frame in three or four `read_bytes` calls. The
first takes the 2-byte header and leaves the rest of the frame in the stream's buffer,
so after every frame the stream drops its fd from the selector and adds it back (two
`epoll_ctl` calls, a failed `recv` and the Python around them), for every DAP request
a stepping client sends. `BatchReadingProtocol` handles every whole frame of what has
arrived at once, each exactly as tornado would (its own `_handle_message`: text, close,
ping and pong). On a plain socket it reads from a transport of ours, in the loop's read
callback (websocket_socket.py); on TLS, with one partial read of tornado's stream per
arrival. It is used only where tornado's protocol has the parts it relies on and
compression is off; otherwise tornado's loop runs unchanged, with tornado's own (looser)
checks. Our session sockets never offer compression, and pyproject.toml pins a tornado
that has those parts.

It is stricter than tornado where RFC 6455 says the server must fail the connection: an
unmasked client frame, a reserved opcode or bits and a malformed control frame close with
1002, text that is not UTF-8 (a text frame, a close reason) with 1007, a close code no
peer may send with 1002; tornado would drop the connection without a word, or raise out
of its read loop (a bad close reason). A bug of ours closes with 1011, logged by the
handler's `log_exception`, never out of the loop's read callback.
"""

from __future__ import annotations

import asyncio
import sys
from asyncio import Future
from collections.abc import Awaitable
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketProtocol13

from .websocket_frames import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, mask, parse_head
from .websocket_socket import SocketStream, can_take_over, detach_socket

#: Whether plain-socket connections move to a transport of ours after the handshake (tests
#: turn it off to run tornado's reads, which TLS connections use).
TAKE_OVER = True

_CHUNK = 64 * 1024
# Yield to the loop after this many bytes handled without waiting (as tornado does), so
# a client that floods frames cannot starve the other connections.
_YIELD_AFTER = 256 * 1024


#: Close codes a peer may send (RFC 6455 §7.4; 1004-1006 and 1015 never go on the wire).
_SENDABLE_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                   1012, 1013, 1014})
CLOSE_PROTOCOL_ERROR, CLOSE_INVALID_DATA, CLOSE_INTERNAL_ERROR = 1002, 1007, 1011


def close_frame_problem(payload: bytes) -> tuple[int, str] | None:
    """Why a client's close frame breaks RFC 6455 (the close code to answer, the reason),
    or None."""
    if not payload:
        return None
    if len(payload) == 1:
        return CLOSE_PROTOCOL_ERROR, "a close frame's payload cannot be a single byte"
    code = int.from_bytes(payload[:2], "big")
    if code not in _SENDABLE_CLOSE_CODES and not 3000 <= code <= 4999:
        return CLOSE_PROTOCOL_ERROR, f"close code {code} is not one a peer may send"
    try:
        payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        return CLOSE_INVALID_DATA, "the close frame's reason is not valid UTF-8"
    return None


def _missing(pending: bytes) -> int:
    """How many more bytes complete the frame that `pending` starts (0: not known yet)."""
    head = parse_head(pending)
    if head is None:
        return 0
    return max(head.start + (4 if head.masked else 0) + head.length - len(pending), 0)


class BatchReadingProtocol(WebSocketProtocol13):
    """tornado's server protocol, reading frames in batches (see the module's text) and,
    on a plain socket, from a transport of ours (websocket_socket.py)."""

    _message_opcode = 0x1  # of the fragmented message being read
    _socket: SocketStream | None = None
    _tail = b""  # the start of a frame not yet whole
    _need = 0  # bytes that complete the frame `_tail` starts, when known
    _parts: list[bytes] | None = None  # a large frame's reads, joined once it is whole

    @classmethod
    def replacing(cls, protocol: Any) -> Any:
        """This protocol in place of tornado's `protocol` when that is plain
        WebSocketProtocol13 with the parts relied on, and without compression."""
        if (type(protocol) is not WebSocketProtocol13
                or protocol.params.compression_options is not None
                or not all(hasattr(protocol, name) for name in (
                    "_handle_message", "_abort", "_wire_bytes_in",
                    "_fragmented_message_buffer", "_frame_compressed"))):
            return protocol
        return cls(protocol.handler, protocol.mask_outgoing, protocol.params)

    async def _receive_frame_loop(self) -> None:
        if self._decompressor is not None:  # negotiated after all: tornado's own loop
            await super()._receive_frame_loop()
            return
        try:
            if TAKE_OVER and can_take_over(self.stream):
                await self._run_on_own_socket()
            else:
                await self._read_from_stream()
        finally:
            self.handler.on_ws_connection_close(self.close_code, self.close_reason)

    # -- on a transport of ours ------------------------------------------------------

    async def _run_on_own_socket(self) -> None:
        assert self.stream is not None
        try:
            sock, early = await detach_socket(self.stream)
        except StreamClosedError:
            self._abort()  # gone before its first frame
            return
        connection = self._socket = SocketStream(self._feed)
        # tornado's close, ping and write paths now reach the socket through it.
        self.stream = connection  # type: ignore[assignment]
        try:
            await connection.connect(sock, early)
        except OSError:
            sock.close()
            self._abort()
            return
        await connection.ended
        self._abort()  # (no-op after a closing handshake; else the client vanished)

    def _feed(self, data: bytes) -> None:
        """Bytes from the client: handle every frame they complete (in the loop's read
        callback, so nothing may raise out of here)."""
        try:
            self._take(data)
        except Exception:
            self._bug()

    def _bug(self) -> None:
        """A bug of ours: logged by the handler (redacted there), the client told 1011."""
        self.handler.log_exception(*sys.exc_info())
        self._fail(CLOSE_INTERNAL_ERROR, "internal error of the server")

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 §7.1.7): a close frame, then the socket closes."""
        if not self.server_terminated:
            self.close(code, reason)
        self._abort()

    def _take(self, data: bytes) -> None:
        if self.client_terminated:
            return
        self._wire_bytes_in += len(data)
        if self._parts is not None:  # the middle of a large frame
            self._parts.append(data)
            self._need -= len(data)
            if self._need > 0:
                return
            data, self._parts = b"".join(self._parts), None
        elif self._tail:
            data = self._tail + data
        self._go_on(data, 0)

    def _go_on(self, data: bytes, at: int) -> None:
        at, waiting = self._consume(data, at)
        if waiting is not None:
            # The handler returned an awaitable: the next frame waits for it (as tornado).
            assert self._socket is not None
            self._socket.pause_reading()
            self._tail = b""

            def resume(_done: Any) -> None:
                try:
                    assert self._socket is not None
                    self._socket.resume_reading()
                    if not self.client_terminated:
                        self._go_on(data, at)
                except Exception:
                    self._bug()

            asyncio.ensure_future(waiting).add_done_callback(resume)
            return
        self._tail = data[at:]
        self._need = _missing(self._tail)
        if self._need > _CHUNK:
            # The rest of a large frame comes in many reads: collect, join once.
            self._parts, self._tail = [self._tail], b""

    # -- on tornado's IOStream (TLS) -------------------------------------------------

    async def _read_from_stream(self) -> None:
        assert self.stream is not None
        pending = b""
        since_yield = 0
        try:
            while not self.client_terminated:
                missing = _missing(pending)
                if missing > _CHUNK:
                    # The rest of a large frame in one read: appending chunk by chunk
                    # would copy what came so far again at every read.
                    data = await self.stream.read_bytes(missing)
                else:
                    data = await self.stream.read_bytes(_CHUNK, partial=True)
                self._wire_bytes_in += len(data)
                data = pending + data if pending else data
                at = 0
                while True:
                    at, waiting = self._consume(data, at)
                    if waiting is None:
                        break
                    await waiting
                pending = data[at:]
                since_yield += len(data)
                if since_yield >= _YIELD_AFTER:
                    since_yield = 0
                    await asyncio.sleep(0)
        except StreamClosedError:
            self._abort()
        except Exception:
            self._bug()

    # -- frames ----------------------------------------------------------------------

    def _consume(self, data: bytes, at: int) -> tuple[int, Awaitable[Any] | None]:
        """Handle the whole frames of `data` from `at`, each exactly as tornado would:
        (where the next frame starts, what it must wait for or None). Everything counts
        as consumed once the connection is being torn down."""
        while not self.client_terminated and (head := parse_head(data, at)) is not None:
            control = head.opcode & 0x8
            problem = None
            if not head.masked:
                problem = "a client's frames must be masked (RFC 6455 section 5.1)"
            elif head.rsv:
                problem = "reserved bits are set, for an extension nobody negotiated"
            elif control and (head.length >= 126 or not head.fin):
                problem = "a control frame must be final and under 126 bytes"
            if problem is not None:
                self._fail(CLOSE_PROTOCOL_ERROR, problem)
                return len(data), None
            buffered = self._fragmented_message_buffer
            if head.length + (len(buffered) if buffered is not None else 0) > \
                    self.params.max_message_size:
                self.close(1009, "message too big")
                self._abort()
                return len(data), None
            start = head.start + 4 if head.masked else head.start
            end = start + head.length
            if len(data) < end:
                break
            payload = data[start:end]
            if head.masked:
                payload = mask(payload, data[head.start:start])
            at = end
            opcode = head.opcode
            if not control:
                if opcode == CONTINUATION:
                    if buffered is None:
                        self._fail(CLOSE_PROTOCOL_ERROR, "a continuation frame continues "
                                   "no message")
                        return len(data), None
                    buffered.extend(payload)
                    if not head.fin:
                        continue
                    opcode, payload = self._message_opcode, bytes(buffered)
                    self._fragmented_message_buffer = None
                elif buffered is not None:
                    self._fail(CLOSE_PROTOCOL_ERROR, "a new message began before the "
                               "fragmented one ended")
                    return len(data), None
                elif not head.fin:
                    self._message_opcode = opcode
                    self._fragmented_message_buffer = bytearray(payload)
                    continue
            handled = self._handle_message(opcode, payload)
            if opcode == CLOSE:
                return len(data), None
            if handled is not None:
                return at, handled
        return (len(data) if self.client_terminated else at), None

    def _handle_message(self, opcode: int, data: bytes) -> Future[None] | None:
        """tornado's, refusing what RFC 6455 says must fail the connection (see the
        module's text)."""
        if self._decompressor is not None or self.client_terminated:
            return super()._handle_message(opcode, data)
        if opcode == TEXT:
            self._message_bytes_in += len(data)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self._fail(CLOSE_INVALID_DATA, "a text frame is not valid UTF-8")
                return None
            return self._run_callback(self.handler.on_message, text)
        if opcode == CLOSE:
            problem = close_frame_problem(data)
            if problem is not None:
                self._fail(*problem)
                return None
        elif opcode not in (BINARY, PING, PONG):
            self._fail(CLOSE_PROTOCOL_ERROR, f"opcode {opcode:#x} is reserved")
            return None
        return super()._handle_message(opcode, data)
