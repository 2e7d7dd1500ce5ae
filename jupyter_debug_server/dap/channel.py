"""An asyncio DAP connection: framing over a stream pair, request/response matching.

A channel is owned by one event loop. Responses and events are dispatched
synchronously from the read loop, in arrival order, so a relay that forwards
them in its callbacks never reorders a response and the events that follow it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

from .framing import DEFAULT_MAX_MESSAGE, FrameDecoder, FramingError, encode

log = logging.getLogger(__name__)

Message = dict[str, Any]
Handler = Callable[[Message], None]

_READ_CHUNK = 256 * 1024


class ChannelClosed(ConnectionError):
    """The channel closed before the answer arrived."""


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
        reader: asyncio.StreamReader,
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
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        set_nodelay(writer.get_extra_info("socket"))

    @classmethod
    async def from_socket(cls, sock: socket.socket, **kwargs: Any) -> DapChannel:
        """Wrap a connected socket (Unix or TCP) in a channel."""
        sock.setblocking(False)
        if sock.family == socket.AF_UNIX:
            reader, writer = await asyncio.open_unix_connection(sock=sock, limit=_READ_CHUNK)
        else:
            reader, writer = await asyncio.open_connection(sock=sock, limit=_READ_CHUNK)
        return cls(reader, writer, **kwargs)

    @classmethod
    async def from_stdio(cls, **kwargs: Any) -> DapChannel:
        """Wrap this process's stdin/stdout (the standalone adapter mode)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_READ_CHUNK)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, sys.stdout
        )
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        return cls(reader, writer, **kwargs)

    # -- receiving -------------------------------------------------------------

    def start(self) -> None:
        """Start the read loop (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._read_loop(), name=f"dap-read-{self.name}"
            )

    async def _read_loop(self) -> None:
        why = f"{self.name}: peer closed the connection"
        try:
            while True:
                data = await self._reader.read(_READ_CHUNK)
                if not data:
                    break
                for message in self._decoder.feed(data):
                    self._dispatch(message)
        except FramingError as exc:
            why = f"{self.name}: {exc}"
            log.warning("Dropping DAP connection %s: %s", self.name, exc)
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
        """Number and write one message; returns its seq."""
        if self.is_closed:
            raise ChannelClosed(self.closed.result())
        seq = next(self._seq)
        message["seq"] = seq
        self._writer.write(encode(message))
        return seq

    def send_request(self, command: str, arguments: Any, on_response: Handler) -> int:
        """Send a request; `on_response` runs in the read loop when its answer arrives."""
        message: Message = {"type": "request", "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        seq = self.send(message)
        self._pending[seq] = (command, on_response)
        return seq

    async def request(self, command: str, arguments: Any = None) -> Any:
        """Send a request and return the body of its successful response."""
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

        def done(response: Message) -> None:
            if not future.done():
                future.set_result(response)

        self.send_request(command, arguments, done)
        response = await future
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
        """Answer a request the peer sent us."""
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
        if not self.is_closed:
            self.send(response)

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
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

    async def wait_closed(self) -> str:
        """Wait for the channel to close; return why."""
        return await asyncio.shield(self.closed)
