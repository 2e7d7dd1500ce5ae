"""Write a server WebSocket's text frame straight to its socket when nothing is queued.

tornado's `write_message` wraps the stream's write in a coroutine Task (to turn
StreamClosedError into WebSocketClosedError), and `IOStream.write` gives every write a
future with a done callback: each costs a loop step per DAP message the tunnel sends,
on top of the Python around them. When the stream has nothing queued (the usual case:
a DAP message is small and the client reads), the frame goes to the socket with one
`send()`, exactly as tornado's `_handle_write` would send it; whatever the socket does
not take, or any frame while something is queued, goes through `IOStream.write` so the
order of bytes never changes. On a connection taken over (websocket_socket.py) the frame
goes to our transport. Without the parts relied on (another tornado), with TLS or with
compression on, it falls back to tornado's own `write_message`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tornado.iostream import IOStream, StreamClosedError
from tornado.websocket import WebSocketClosedError

from .websocket_frames import TEXT, encode_frame
from .websocket_socket import SocketStream


def write_text(protocol: Any, text: str | bytes) -> asyncio.Future[None] | None:
    """Send `text` (str, or bytes already UTF-8) as one text frame on a tornado server
    WebSocket protocol.

    Returns None when the frame went to the socket at once, else the future of the
    write (callbacks on it cost a loop step: add them only when it is not done). Raises
    WebSocketClosedError if the connection is closing. The returned future's exception,
    if any, is already marked retrieved, so a dropped future logs nothing.
    """
    if protocol is None or protocol.is_closing():
        raise WebSocketClosedError()
    stream: Any = getattr(protocol, "stream", None)
    if not isinstance(stream, SocketStream) and (
            getattr(protocol, "_compressor", True) is not None or protocol.mask_outgoing
            or type(stream) is not IOStream or not hasattr(stream, "_write_buffer")
            or not hasattr(protocol, "_wire_bytes_out")):
        future: asyncio.Future[None] = protocol.write_message(text)
        future.add_done_callback(_retrieve)
        return future
    data = text.encode() if isinstance(text, str) else text
    frame = encode_frame(TEXT, data)
    protocol._message_bytes_out += len(data)
    protocol._wire_bytes_out += len(frame)
    if isinstance(stream, SocketStream):  # taken over (websocket_socket.py)
        try:
            return stream.send(frame)
        except StreamClosedError:
            raise WebSocketClosedError() from None
    if stream.closed():
        raise WebSocketClosedError()
    sent = 0
    if not stream._write_buffer and not stream._connecting:
        try:
            sent = stream.socket.send(frame)
        except BlockingIOError:
            pass
        except OSError:
            pass  # tornado's write below meets the error and closes the stream
        if sent == len(frame):
            return None
    try:
        future = stream.write(frame[sent:] if sent else frame)
    except StreamClosedError:
        raise WebSocketClosedError() from None
    if future.done():
        _retrieve(future)
        return None
    future.add_done_callback(_retrieve)
    return future


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
