"""The bytes of one upgraded connection: on a socket taken over, or on tornado's TLS stream.

`ServerConnection` (connection.py) reads and writes through a `Wire`, whichever it is:
- `SocketWire`: the socket, moved from tornado's IOStream to an asyncio transport of ours
  after the handshake (seam.py). The bytes arrive in the transport's read callback, with no
  coroutine, future or failed `recv()` per frame, and a write goes straight to the socket.
- `StreamWire`: tornado's SSLIOStream, which keeps the TLS state (a TLS socket cannot move
  to a plain transport); a loop of partial reads, and tornado's writes.

Both are owned by the event loop that accepted the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Protocol, cast

from tornado.iostream import IOStream, SSLIOStream, StreamClosedError

_READ_BUFFER = 64 * 1024

#: Called with the bytes that arrived (never raises: the caller catches its own bugs).
DataHandler = Callable[[bytes], None]


class Wire(Protocol):
    """What a ServerConnection needs of its connection's bytes."""

    #: Done once the connection is gone (closed by either side, or lost).
    ended: asyncio.Future[None]
    #: Called whenever everything written so far has gone to the socket.
    on_drained: Callable[[], None] | None

    def write(self, data: bytes) -> asyncio.Future[None] | None:
        """Queue `data`: None when it went to the socket at once, else a future done once
        it has (StreamClosedError, already retrieved, if the connection is lost first)."""

    def waiting(self) -> int:
        """Bytes written that have not gone to the socket yet."""

    def closed(self) -> bool:
        """Whether the connection is closing or gone."""

    def close(self) -> None:
        """Close once what is written has gone (dropped if the client stopped reading)."""

    def write_eof(self) -> None:
        """Half-close once what is written has gone: no more writes, but bytes are read
        (and handed over) until the client closes its side, which ends the connection."""

    def abort(self) -> None:
        """Close now, dropping anything not sent."""

    def pause_reading(self) -> None:
        """Stop handing over bytes until resume_reading."""

    def resume_reading(self) -> None:
        """Hand over bytes again."""

    def set_nodelay(self, value: bool) -> None:
        """TCP_NODELAY on the socket (a no-op where it does not apply)."""


def _nodelay(sock: socket.socket | None, value: bool) -> None:
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        # (A connection closed already, by the client or by a failure of its first
        # frames before the handler opened, has no socket to set: nothing to do.)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if value else 0)


def _failed(exc: BaseException | None) -> asyncio.Future[None]:
    """A future failed with StreamClosedError, its exception marked retrieved."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_exception(StreamClosedError(real_error=exc))
    future.exception()
    return future


class SocketWire(asyncio.BufferedProtocol):
    """A socket taken over from tornado, on an asyncio transport (uvloop's too)."""

    def __init__(self, on_data: DataHandler) -> None:
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.on_drained: Callable[[], None] | None = None
        self.transport: asyncio.Transport | None = None
        self._on_data = on_data
        self._buffer = bytearray(_READ_BUFFER)
        self._view = memoryview(self._buffer)
        self._closed = False
        self._waiting: list[asyncio.Future[None]] = []  # writes done when it drains
        self._early = b""  # read by tornado past the handshake

    async def connect(self, sock: socket.socket, early: bytes) -> None:
        """Run on `sock`; `early` (bytes tornado read past the handshake) comes first."""
        self._early = early
        await asyncio.get_running_loop().connect_accepted_socket(lambda: self, sock=sock)

    # -- asyncio's side ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A socket transport (uvloop's is not a subclass of asyncio.Transport).
        self.transport = transport = cast(asyncio.Transport, transport)
        if self._closed:
            transport.abort()
            return
        # Told (pause_writing) as soon as anything waits, and (resume_writing) once all of
        # it has gone: the moment every waiting write is done.
        transport.set_write_buffer_limits(high=0, low=0)
        early, self._early = self._early, b""
        if early:  # before the first read callback: the client's order is kept
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
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.done():
                future.set_exception(StreamClosedError(real_error=exc))
                future.exception()  # retrieved: a dropped write logs nothing
        if not self.ended.done():
            self.ended.set_result(None)

    def pause_writing(self) -> None:
        pass  # the waiting writes are in self._waiting already

    def resume_writing(self) -> None:
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.done():
                future.set_result(None)
        if self.on_drained is not None:
            self.on_drained()

    # -- the Wire ------------------------------------------------------------------------

    def write(self, data: bytes) -> asyncio.Future[None] | None:
        if self.closed() or self.transport is None:
            return _failed(None)
        self.transport.write(data)
        if not self.transport.get_write_buffer_size():
            return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        return future

    def waiting(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def closed(self) -> bool:
        return self._closed or (self.transport is not None and self.transport.is_closing())

    def close(self) -> None:
        # As tornado's IOStream: what a client that stopped reading never took is dropped
        # (a graceful close would wait for it forever).
        if self.transport is not None and self.transport.get_write_buffer_size():
            self.abort()
        elif not self._closed:
            self._closed = True
            if self.transport is not None:
                self.transport.close()

    def write_eof(self) -> None:
        transport = self.transport
        if transport is None or self.closed():
            return
        if transport.can_write_eof():
            transport.write_eof()  # (after the buffered bytes; eof_received then closes)
        else:
            self.close()

    def abort(self) -> None:
        self._closed = True
        if self.transport is not None:
            self.transport.abort()

    def pause_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def set_nodelay(self, value: bool) -> None:
        if self.transport is not None:
            _nodelay(self.transport.get_extra_info("socket"), value)


class StreamWire:
    """tornado's (TLS) IOStream, read with one partial read per arrival."""

    def __init__(self, stream: IOStream, on_data: DataHandler) -> None:
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.on_drained: Callable[[], None] | None = None
        self.stream = stream
        self._on_data = on_data
        self._waiting = 0
        self._last: asyncio.Future[None] | None = None  # the latest write
        self._paused: asyncio.Future[None] | None = None

    async def run(self) -> None:
        """Read until the connection ends (a loop of tornado's partial reads)."""
        try:
            while not self.stream.closed():
                if self._paused is not None:
                    await self._paused
                    continue
                data = await self.stream.read_bytes(_READ_BUFFER, partial=True)
                self._on_data(data)
                # Let other connections run between arrivals of a flooding client.
                await asyncio.sleep(0)
        except StreamClosedError:
            pass
        finally:
            self.stream.close()
            if not self.ended.done():
                self.ended.set_result(None)

    def write(self, data: bytes) -> asyncio.Future[None] | None:
        try:
            future = self.stream.write(data)
        except StreamClosedError as exc:
            return _failed(exc)
        self._waiting += len(data)
        size = len(data)

        def gone(done: asyncio.Future[None]) -> None:
            self._waiting -= size
            if not done.cancelled():
                done.exception()  # retrieved: a dropped write logs nothing
            if not self._waiting and self.on_drained is not None:
                self.on_drained()

        future.add_done_callback(gone)
        self._last = future
        return future

    def waiting(self) -> int:
        return self._waiting

    def closed(self) -> bool:
        return self.stream.closed()

    def close(self) -> None:
        # After what is queued (a close frame) has gone; the connection's close timer
        # aborts a client that never reads it.
        last = self._last
        if last is not None and not last.done():
            last.add_done_callback(lambda _done: self.stream.close())
        else:
            self.stream.close()

    def write_eof(self) -> None:
        # A TLS stream cannot half-close (tornado would not read past it): close it.
        if isinstance(self.stream, SSLIOStream) or self.stream.socket is None:
            self.close()
            return

        def shut(_done: object = None) -> None:
            if self.stream.socket is not None:
                with contextlib.suppress(OSError):
                    self.stream.socket.shutdown(socket.SHUT_WR)

        last = self._last
        if last is not None and not last.done():
            last.add_done_callback(shut)
        else:
            shut()

    def abort(self) -> None:
        self.stream.close()

    def pause_reading(self) -> None:
        if self._paused is None:
            self._paused = asyncio.get_running_loop().create_future()

    def resume_reading(self) -> None:
        paused, self._paused = self._paused, None
        if paused is not None and not paused.done():
            paused.set_result(None)

    def set_nodelay(self, value: bool) -> None:
        self.stream.set_nodelay(value)
