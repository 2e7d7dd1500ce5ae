"""Write a WebSocket text frame without tornado's per-message Task.

tornado's `write_message` wraps the stream's write future in a coroutine Task (to turn
StreamClosedError into WebSocketClosedError), which costs a task creation and a loop
step for every DAP message a tunnel or a forward relays. This writes the frame the same
way and returns the stream's own future. Without `_write_frame` (another tornado), or
with compression on, it falls back to `write_message`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError


def write_text(protocol: Any, text: str) -> asyncio.Future[None]:
    """Send `text` as one text frame on a tornado WebSocket protocol (server or client).

    Raises WebSocketClosedError if the connection is closing. The returned future's
    exception, if any, is already marked retrieved, so a dropped future logs nothing.
    """
    if protocol is None or protocol.is_closing():
        raise WebSocketClosedError()
    if getattr(protocol, "_compressor", True) is not None or not hasattr(protocol,
                                                                          "_write_frame"):
        future: asyncio.Future[None] = protocol.write_message(text)
    else:
        data = text.encode()
        protocol._message_bytes_out += len(data)
        try:
            future = protocol._write_frame(True, 0x1, data)
        except StreamClosedError:
            raise WebSocketClosedError() from None
    future.add_done_callback(_retrieve)
    return future


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
