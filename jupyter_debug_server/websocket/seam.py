"""Everything the WebSocket layer needs of tornado beyond its documented surface, in one place.

tornado authenticates and answers the upgrade (our handlers' `prepare` and `get`); from the
`101` on, the connection is ours (connection.py). Three things are taken from tornado here,
all through public names: the stream, by `RequestHandler.detach()` (documented "for
implementing protocols like websockets"); the bytes its HTTP parser read past the request
head, by one partial `read_bytes` that is satisfied from its buffer; and the socket itself,
unregistered with `IOLoop.remove_handler`. No private tornado name is used.

What is checked against which tornado: `TORNADO_CHECKED`. `check_tornado()` says whether the
installed one is in it; tests/websocket/test_take_over.py fails on any other, so an upgrade
is a decision (re-run those tests, widen the range, and pyproject.toml's pin), never a
silent change of the path every DAP message takes.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, cast

import tornado
from tornado.iostream import IOStream, StreamClosedError
from tornado.web import RequestHandler

#: tornado versions the take-over is checked against: [first, last) as (major, minor).
TORNADO_CHECKED = ((6, 6), (6, 7))

# What tornado's own WebSocketHandler disables on a handler whose stream it took (writing an
# HTTP response on an upgraded connection would corrupt its frames).
_HTTP_ONLY = ("write", "redirect", "set_header", "set_cookie", "set_status", "flush", "finish")


class TakeOverError(RuntimeError):
    """The socket could not be taken from tornado (a tornado this layer does not know)."""


def check_tornado(version: tuple[int, ...] | None = None) -> None:
    """Raise TakeOverError unless tornado (or `version`) is one the take-over is checked
    against."""
    found = tuple(version or tornado.version_info[:2])[:2]
    first, last = TORNADO_CHECKED
    if not first <= found < last:
        raise TakeOverError(
            f"tornado {'.'.join(map(str, found))} is not one the WebSocket take-over is "
            f"checked against ({first[0]}.{first[1]} up to, not including, "
            f"{last[0]}.{last[1]}); run tests/websocket and widen TORNADO_CHECKED in "
            "jupyter_debug_server/websocket/seam.py")


def detach(handler: RequestHandler) -> IOStream:
    """Take the upgraded connection's stream from `handler` (after its `101` is queued)."""
    stream = handler.detach()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("an upgraded WebSocket has no HTTP response to write to")

    for name in _HTTP_ONLY:
        setattr(handler, name, refuse)
    return stream


def is_plain(stream: IOStream) -> bool:
    """Whether `stream` is on a plain socket that can move to a transport of ours (TLS
    connections cannot: their state lives in tornado's SSLIOStream)."""
    sock = stream.socket
    return (type(stream) is IOStream and isinstance(sock, socket.socket)
            and sock.family in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX))


async def take_socket(stream: IOStream) -> tuple[socket.socket, bytes]:
    """The socket under `stream`, and the bytes tornado read past the handshake.

    `stream` is left without its socket: it no longer watches or closes it. Raises
    StreamClosedError if the client is gone already, TakeOverError if tornado is reading.
    """
    await stream.write(b"")  # done once everything queued (the 101) has gone
    # From here on nothing awaits, so no byte can reach tornado's buffer unseen. A partial
    # read is answered from the buffer (or one non-blocking recv) in this call when there
    # is anything; otherwise it leaves a read pending, which unregistering the socket ends.
    try:
        # (all of it: tornado never buffers more than max_buffer_size)
        pending = cast("asyncio.Future[bytes]",
                       stream.read_bytes(max(stream.max_buffer_size, 1), partial=True))
    except AssertionError:  # tornado's "Already reading": not the stream we know
        raise TakeOverError("tornado is reading the upgraded stream; it cannot be taken "
                            "over") from None
    early = pending.result() if pending.done() else b""  # (or its StreamClosedError)
    sock = stream.socket
    if sock is None:
        raise StreamClosedError()
    stream.io_loop.remove_handler(sock)
    return socket.socket(fileno=sock.detach()), early
