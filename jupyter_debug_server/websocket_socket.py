"""The DAP tunnel's WebSocket on the event loop's own transport, after tornado's handshake.

tornado reads a WebSocket through its IOStream: a coroutine awaits a future per read, so
every frame a stepping client sends costs a Task wake-up (one more loop iteration), a
failed `recv()` before the read is re-armed, and a dozen Python calls around them. Once
tornado has written the `101 Switching Protocols`, `take_over` moves the connection's
socket to an asyncio transport of ours, and `SocketStream` stands in for the IOStream
under tornado's protocol object: its frames arrive in the transport's read callback, and
tornado's own code for close, ping, pong and writing (`_write_frame`) keeps working
through the few IOStream methods it calls (`write`, `closed`, `close`, `set_nodelay`,
`io_loop`). The server's CPU per step through the tunnel fell by ~15%; in four alternating
pairs of bench runs, a step through `forward` averaged 1.45x the direct path with the
move and 1.52x without (bench/README.md).

Only plain sockets are taken over; a TLS stream (SSLIOStream) keeps tornado's reads.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any, cast

from tornado.ioloop import IOLoop
from tornado.iostream import IOStream, StreamClosedError

_READ_BUFFER = 64 * 1024


class SocketStream(asyncio.BufferedProtocol):
    """An upgraded WebSocket connection on an asyncio transport, with the IOStream methods
    tornado's WebSocket protocol calls. Owned by one event loop."""

    def __init__(self, on_data: Callable[[bytes], None]) -> None:
        self.io_loop = IOLoop.current()
        self.transport: asyncio.Transport | None = None
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._on_data = on_data
        self._buffer = bytearray(_READ_BUFFER)
        self._view = memoryview(self._buffer)
        self._closed = False
        # Writes that wait in the transport's buffer; all done once it drains.
        self._waiting: list[asyncio.Future[None]] = []
        self._unsent: list[bytes] = []  # written before the transport was made
        self._early = b""  # read by tornado past the handshake

    async def connect(self, sock: socket.socket, early: bytes) -> None:
        """Run on `sock`; `early` (bytes read before) is handled first."""
        self._early = early
        await asyncio.get_running_loop().connect_accepted_socket(lambda: self, sock=sock)

    # -- asyncio's side ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A socket transport (uvloop's is not a subclass of asyncio.Transport).
        self.transport = transport = cast(asyncio.Transport, transport)
        if self._closed:  # closed while it was being made
            transport.abort()
            return
        # Told (pause_writing) as soon as anything waits, and (resume_writing) when all
        # of it has gone: the moment every waiting write is done.
        transport.set_write_buffer_limits(high=0, low=0)
        unsent, self._unsent = self._unsent, []
        for data in unsent:
            transport.write(data)
        if not transport.get_write_buffer_size():
            self.resume_writing()
        # Before the first read callback: the order of what the client sent is kept.
        early, self._early = self._early, b""
        if early:
            self._on_data(early)

    def get_buffer(self, sizehint: int) -> bytearray:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        if not self._closed:
            self._on_data(bytes(self._view[:nbytes]))

    def eof_received(self) -> bool:
        return False  # the client is gone: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._fail_waiting(exc)
        if not self.ended.done():
            self.ended.set_result(None)

    def pause_writing(self) -> None:
        pass  # the waiting writes are in self._waiting already

    def resume_writing(self) -> None:
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.done():
                future.set_result(None)

    # -- what tornado's WebSocketProtocol13 calls on its stream -------------------------

    def write(self, data: bytes) -> asyncio.Future[None]:
        """Queue `data`; the future is done once it has gone to the socket."""
        waiting = self.send(data)
        if waiting is not None:
            return waiting
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    def closed(self) -> bool:
        return self._closed or (self.transport is not None and self.transport.is_closing())

    def close(self, exc_info: Any = False) -> None:
        """Close now. A close frame just written has gone already unless the client stopped
        reading; then, as tornado's IOStream does, what is queued is dropped (a graceful
        close would wait for a client that may never read)."""
        if not self._closed:
            self._closed = True
            if self.transport is None:
                return
            if self.transport.get_write_buffer_size():
                self.transport.abort()
            else:
                self.transport.close()

    def set_nodelay(self, value: bool) -> None:
        sock = self.transport.get_extra_info("socket") if self.transport else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if value else 0)

    # -- ours ------------------------------------------------------------------------

    def send(self, data: bytes) -> asyncio.Future[None] | None:
        """Write `data`: None when it went to the socket at once, else a future done when
        it has (its StreamClosedError, if the connection is lost first, is retrieved)."""
        if self.closed():
            raise StreamClosedError()
        if self.transport is None:
            self._unsent.append(data)  # (taken over, not yet connected: one loop step)
        else:
            self.transport.write(data)
            if not self.transport.get_write_buffer_size():
                return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        return future

    def pause_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _fail_waiting(self, exc: Exception | None) -> None:
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.done():
                future.set_exception(StreamClosedError(real_error=exc))
                future.exception()  # retrieved: a dropped write logs nothing


def can_take_over(stream: Any) -> bool:
    """Whether `stream` is a plain-socket IOStream with the parts `take_over` reads."""
    return (type(stream) is IOStream and hasattr(stream, "_read_buffer")
            and hasattr(stream, "_read_buffer_size") and not stream.closed()
            and isinstance(stream.socket, socket.socket)
            and stream.socket.family in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX))


async def detach_socket(stream: IOStream) -> tuple[socket.socket, bytes]:
    """Take the socket from under `stream`, with the bytes tornado read past the handshake.

    tornado has finished the handshake (the protocol's frame loop is starting). `stream`
    is left without its socket: it no longer watches or closes it.
    """
    await stream.write(b"")  # done when everything tornado queued (the 101) is written
    # From here on nothing awaits: no byte can slip into tornado's buffer any more.
    early = bytes(stream._read_buffer[:stream._read_buffer_size])
    sock = stream.socket
    stream.io_loop.remove_handler(sock)
    return socket.socket(fileno=sock.detach()), early
