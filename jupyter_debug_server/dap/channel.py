"""An asyncio DAP connection: framing over a stream pair, request/response matching.

A channel is owned by one event loop. Responses and events are dispatched
synchronously as bytes arrive, in arrival order, so a relay that forwards them in
its callbacks never reorders a response and the events that follow it. Channels on
sockets and stdio are fed by an asyncio Protocol straight from the loop's read
callback (no task wake-up per read: every hop of a step passes here); channels on
a StreamReader (a subprocess's pipes) by a read task.

A request whose arguments are a client's own JSON bytes (large.py, `send_raw_request`)
is written a piece at a time as the peer reads it, at most 1 MiB per step of the event
loop, so no single write of it takes long; whatever is sent meanwhile waits behind it,
in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import sys
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from .framing import DEFAULT_MAX_MESSAGE, FrameDecoder, FramingError, encode, to_json
from .messages import Data, Message

log = logging.getLogger(__name__)

Handler = Callable[[Message], None]

_READ_CHUNK = 256 * 1024
_RAW_BATCH = 1024 * 1024  # bytes of a raw request written in one step of the event loop


class ChannelClosed(ConnectionError):
    """The channel closed before the answer arrived."""


class DapTimeout(asyncio.TimeoutError):
    """The peer did not answer a request in time; the request is forgotten."""

    def __init__(self, command: str, timeout: float) -> None:
        super().__init__(f"the debugger did not answer '{command}' within {timeout:g} s")
        self.command = command
        self.timeout = timeout
        self.message = str(self)


class DapRequestError(Exception):
    """The peer answered a request with `success: false`."""

    def __init__(self, command: str, message: str, response: Message | None = None) -> None:
        super().__init__(message)
        self.command = command
        self.message = message
        self.response = response or {}


def set_nodelay(sock: socket.socket | None) -> None:
    """Turn Nagle's algorithm off on a TCP socket; a no-op for other sockets."""
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class DapChannel:
    """One DAP peer: send requests, responses and events; receive them in order."""

    def __init__(
        self,
        reader: asyncio.StreamReader | None,
        writer: asyncio.StreamWriter,
        *,
        name: str,
        on_request: Handler | None = None,
        on_event: Handler | None = None,
        max_message: int = DEFAULT_MAX_MESSAGE,
    ) -> None:
        self.name = name
        self.on_request = on_request
        self.on_event = on_event
        self._reader = reader
        self._writer = writer
        self._decoder = FrameDecoder(max_message)
        self._seq = itertools.count(1)
        self._pending: dict[int, tuple[str, Handler]] = {}
        self._task: asyncio.Task[None] | None = None
        self._feeder: _Feeder | None = None  # set when a Protocol feeds this channel
        self._started = False
        # While a raw request is being written: what is still to write, in order.
        self._backlog: deque[Data] | None = None
        self._pump: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        set_nodelay(writer.get_extra_info("socket"))

    @classmethod
    async def from_socket(cls, sock: socket.socket, **kwargs: Any) -> DapChannel:
        """Wrap a connected socket (Unix or TCP) in a channel."""
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        transport, feeder = await loop.connect_accepted_socket(_Feeder, sock=sock)
        return cls._fed_by(transport, feeder, kwargs)

    @classmethod
    async def from_stdio(cls, **kwargs: Any) -> DapChannel:
        """Wrap this process's stdin/stdout (the standalone adapter mode)."""
        return await cls.from_pipes(sys.stdin, sys.stdout, **kwargs)

    @classmethod
    async def from_pipes(cls, reading: Any, writing: Any, **kwargs: Any) -> DapChannel:
        """Wrap a pair of pipes (file objects): ours to read, and the peer's to write."""
        loop = asyncio.get_running_loop()
        _, feeder = await loop.connect_read_pipe(_Feeder, reading)
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, writing
        )
        channel = cls._fed_by(transport, protocol, kwargs)
        channel._feeder = feeder
        feeder.channel = channel
        return channel

    @classmethod
    def _fed_by(cls, transport: Any, protocol: Any, kwargs: dict[str, Any]) -> DapChannel:
        writer = asyncio.StreamWriter(transport, protocol, None, asyncio.get_running_loop())
        channel = cls(None, writer, **kwargs)
        if isinstance(protocol, _Feeder):
            channel._feeder = protocol
            protocol.channel = channel
        return channel

    # -- receiving -------------------------------------------------------------

    def start(self) -> None:
        """Start receiving (idempotent): until then, the peer's bytes wait."""
        if self._started or self.is_closed:
            return
        self._started = True
        if self._feeder is not None:
            self._feeder.start()
        else:
            self._task = asyncio.get_running_loop().create_task(
                self._read_loop(), name=f"dap-read-{self.name}"
            )

    def _feed(self, data: bytes) -> None:
        """Dispatch every message `data` completes; a framing error drops the connection."""
        try:
            messages = self._decoder.feed(data)
        except FramingError as exc:
            log.warning("Dropping DAP connection %s: %s", self.name, exc)
            self.close(f"{self.name}: {exc}")
            return
        for message in messages:
            self._dispatch(message)

    async def _read_loop(self) -> None:
        assert self._reader is not None
        why = f"{self.name}: peer closed the connection"
        try:
            while not self.is_closed:
                data = await self._reader.read(_READ_CHUNK)
                if not data:
                    break
                self._feed(data)
        except (ConnectionError, OSError) as exc:
            why = f"{self.name}: {exc}"
        except asyncio.CancelledError:
            why = f"{self.name}: closed"
        self.close(why)

    def _dispatch(self, message: Message) -> None:
        kind = message["type"]
        try:
            if kind == "response":
                entry = self._pending.pop(message["request_seq"], None)
                if entry is None:
                    log.debug("%s: response to unknown request %s", self.name,
                              message["request_seq"])
                    return
                entry[1](message)
            elif kind == "event":
                if self.on_event is not None:
                    self.on_event(message)
            elif self.on_request is not None:
                self.on_request(message)
            else:
                self.send_response(message, success=False, message="requests are not accepted here")
        except Exception:
            # A handler bug must not kill the connection that every client shares.
            log.exception("%s: error while handling DAP %s", self.name, kind)

    # -- sending ---------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """Whether the channel has closed (no more messages either way)."""
        return self.closed.done()

    def send(self, message: Message) -> int:
        """Number and write one message; returns its seq (nothing is written if it
        cannot be encoded: the encoder's TypeError or ValueError propagates)."""
        if self.is_closed:
            raise ChannelClosed(self.closed.result())
        seq = next(self._seq)
        message["seq"] = seq
        if self._backlog is None:
            self._writer.write(encode(message))
        else:
            self._backlog.append(encode(message))
        return seq

    def send_raw_request(self, command: str, arguments: Sequence[Data],
                         on_response: Handler) -> int:
        """Send a request whose `arguments` are JSON text already, in pieces (a client's
        own bytes: they are not parsed or copied here). As send_request otherwise."""
        if self.is_closed:
            raise ChannelClosed(self.closed.result())
        seq = next(self._seq)
        head = b'{"type":"request","command":%b,"seq":%d,"arguments":' % (
            to_json(command).encode(), seq)
        size = len(head) + sum(len(piece) for piece in arguments) + 1
        items = [b"Content-Length: %d\r\n\r\n%b" % (size, head), *arguments, b"}"]
        if self._backlog is None:
            self._backlog = deque(items)
            self._pump = asyncio.get_running_loop().create_task(
                self._write_backlog(), name=f"dap-write-{self.name}")
        else:
            self._backlog.extend(items)
        self._pending[seq] = (command, on_response)
        return seq

    async def _write_backlog(self) -> None:
        """Write the backlog, a piece whenever the peer has taken what was written (so
        the transport's buffer, which a write may copy whole, stays small), and at most
        _RAW_BATCH bytes before the loop serves others."""
        try:
            batch = 0
            while self._backlog and not self.is_closed:
                item = self._backlog.popleft()
                self._writer.write(item)
                batch += len(item)
                if batch >= _RAW_BATCH:
                    batch = 0
                    await asyncio.sleep(0)
                await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            self.close(f"{self.name}: {exc}")
        finally:
            self._backlog = None
            self._pump = None

    def send_request(self, command: str, arguments: Any, on_response: Handler) -> int:
        """Send a request; `on_response` runs in the read loop when its answer arrives."""
        message: Message = {"type": "request", "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        seq = self.send(message)
        self._pending[seq] = (command, on_response)
        return seq

    async def request(self, command: str, arguments: Any = None, *,
                      timeout: float | None = None) -> Any:
        """Send a request and return the body of its successful response.

        With a `timeout` (seconds), DapTimeout if no answer came by then: the request is
        forgotten (a late answer is dropped) and the channel stays usable.
        """
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

        def done(response: Message) -> None:
            if not future.done():
                future.set_result(response)

        seq = self.send_request(command, arguments, done)
        if timeout is None:
            response = await future
        else:
            try:
                response = await asyncio.wait_for(future, timeout)
            except asyncio.TimeoutError:
                self._pending.pop(seq, None)
                raise DapTimeout(command, timeout) from None
        if response.get("closed"):
            raise ChannelClosed(response.get("message", "connection closed"))
        if not response.get("success", False):
            raise DapRequestError(
                command, response.get("message") or f"{command} failed", response
            )
        return response.get("body", {})

    def send_response(
        self,
        request: Message,
        *,
        success: bool = True,
        body: Any = None,
        message: str | None = None,
    ) -> None:
        """Answer a request the peer sent us.

        A body that cannot be written as JSON (a bug of whoever made it) still gets the
        requester an answer: an error response that says so, never silence.
        """
        response: Message = {
            "type": "response",
            "request_seq": request.get("seq", 0),
            "command": request.get("command", ""),
            "success": success,
        }
        if body is not None:
            response["body"] = body
        if message is not None:
            response["message"] = message
        if self.is_closed:
            return
        try:
            self.send(response)
        except (TypeError, ValueError, RecursionError) as exc:
            log.warning("%s: the response to %r could not be encoded: %s", self.name,
                        response["command"], type(exc).__name__)
            self.send({"type": "response", "request_seq": response["request_seq"],
                       "command": response["command"], "success": False,
                       "message": f"the response to '{str(response['command'])[:80]}' could "
                                  f"not be encoded as JSON ({type(exc).__name__})"})

    def send_event(self, event: str, body: Any = None) -> None:
        """Send an event, silently dropped once the channel has closed."""
        message: Message = {"type": "event", "event": event}
        if body is not None:
            message["body"] = body
        if not self.is_closed:
            self.send(message)

    def pause_reading(self) -> None:
        """Stop reading from the peer (its writes then block): back-pressure."""
        with contextlib.suppress(AttributeError, RuntimeError):
            self._writer.transport.pause_reading()  # type: ignore[attr-defined]

    def resume_reading(self) -> None:
        """Undo pause_reading()."""
        with contextlib.suppress(AttributeError, RuntimeError):
            self._writer.transport.resume_reading()  # type: ignore[attr-defined]

    async def drain(self) -> None:
        """Wait until the write buffer is below its high-water mark."""
        if not self.is_closed:
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()

    def close(self, why: str = "closed") -> None:
        """Close the connection and fail every unanswered request (idempotent)."""
        if self.closed.done():
            return
        self.closed.set_result(why)
        pending, self._pending = self._pending, {}
        for command, handler in pending.values():
            with contextlib.suppress(Exception):
                handler(
                    {
                        "type": "response",
                        "command": command,
                        "success": False,
                        "message": f"connection closed: {why}",
                        "closed": True,
                    }
                )
        with contextlib.suppress(Exception):
            self._writer.close()
        if self._feeder is not None:
            self._feeder.close()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        if self._pump is not None and self._pump is not asyncio.current_task():
            self._pump.cancel()

    async def wait_closed(self) -> str:
        """Wait for the channel to close; return why."""
        return await asyncio.shield(self.closed)


# What one read of a socket may return. asyncio's plain Protocol path allocates a fresh
# 256 KiB bytes object for every recv(), which costs tens of µs per read where the kernel
# hands out fresh pages; a BufferedProtocol reads into this one reused buffer instead.
_READ_BUFFER = 64 * 1024


class _Feeder(asyncio.streams.FlowControlMixin, asyncio.BufferedProtocol):
    """Feeds a channel from the loop's read callback; writes flow-controlled (drain).

    Sockets fill a reused buffer (get_buffer/buffer_updated); pipe transports, which
    know no BufferedProtocol, call data_received.
    """

    channel: DapChannel | None = None

    def __init__(self) -> None:
        super().__init__()
        self._buffer = bytearray(_READ_BUFFER)
        self._view = memoryview(self._buffer)
        self.transport: asyncio.BaseTransport | None = None
        self._early: list[bytes] = []  # bytes before the channel started
        self._eof: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        with contextlib.suppress(AttributeError, RuntimeError):
            transport.pause_reading()  # type: ignore[attr-defined]  # until start()

    def start(self) -> None:
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)
        if self._eof is not None and self.channel is not None:
            self.channel.close(self._eof)
            return
        with contextlib.suppress(AttributeError, RuntimeError):
            self.transport.resume_reading()  # type: ignore[union-attr]

    def get_buffer(self, sizehint: int) -> bytearray:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._view[:nbytes]))

    def data_received(self, data: bytes) -> None:
        channel = self.channel
        if channel is None or not channel._started:
            self._early.append(data)
        elif not channel.is_closed:
            channel._feed(data)

    def eof_received(self) -> bool:
        self._end("peer closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._end(str(exc) if exc else "peer closed the connection")

    def _end(self, why: str) -> None:
        channel = self.channel
        if channel is None or not channel._started:
            self._eof = self._eof or f"{channel.name if channel else 'dap'}: {why}"
        else:
            channel.close(f"{channel.name}: {why}")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
