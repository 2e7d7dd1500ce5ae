"""Read a server WebSocket's frames with one read per arrival, for the DAP tunnel.

tornado's `WebSocketProtocol13` reads a frame in three or four `read_bytes` calls. The
first takes the 2-byte header and leaves the rest of the frame in the stream's buffer,
so after every frame the stream drops its fd from the selector and adds it back (two
`epoll_ctl` calls, a failed `recv` and the Python around them), for every DAP request
a stepping client sends. `BatchReadingProtocol` takes whatever has arrived with one
partial read and handles every whole frame in it, each exactly as tornado would (its
own `_handle_message`: text, close, ping and pong). It is used only where tornado's
protocol has the parts it relies on and compression is off; otherwise tornado's loop
runs unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketProtocol13

from .websocket_frames import CLOSE, CONTINUATION, mask, parse_head

_CHUNK = 64 * 1024
# Yield to the loop after this many bytes handled without waiting (as tornado does), so
# a client that floods frames cannot starve the other connections.
_YIELD_AFTER = 256 * 1024


def _missing(pending: bytes) -> int:
    """How many more bytes complete the frame that `pending` starts (0: not known yet)."""
    head = parse_head(pending)
    if head is None:
        return 0
    return max(head.start + (4 if head.masked else 0) + head.length - len(pending), 0)


class BatchReadingProtocol(WebSocketProtocol13):
    """tornado's server protocol, reading frames in batches (see the module's text)."""

    _message_opcode = 0x1  # of the fragmented message being read

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
                pending = await self._handle_frames(pending + data if pending else data)
                since_yield += len(data)
                if since_yield >= _YIELD_AFTER:
                    since_yield = 0
                    await asyncio.sleep(0)
        except StreamClosedError:
            self._abort()
        finally:
            self.handler.on_ws_connection_close(self.close_code, self.close_reason)

    async def _handle_frames(self, data: bytes) -> bytes:
        """Handle every whole frame in `data`; return the incomplete tail (b"" once the
        connection is being torn down)."""
        at = 0
        while not self.client_terminated and (head := parse_head(data, at)) is not None:
            control = head.opcode & 0x8
            if head.rsv or (control and (head.length >= 126 or not head.fin)):
                self._abort()  # an extension we did not offer; a malformed control frame
                return b""
            buffered = self._fragmented_message_buffer
            if head.length + (len(buffered) if buffered is not None else 0) > \
                    self.params.max_message_size:
                self.close(1009, "message too big")
                self._abort()
                return b""
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
                        self._abort()
                        return b""
                    buffered.extend(payload)
                    if not head.fin:
                        continue
                    opcode, payload = self._message_opcode, bytes(buffered)
                    self._fragmented_message_buffer = None
                elif buffered is not None:
                    self._abort()  # a new message before the fragmented one ended
                    return b""
                elif not head.fin:
                    self._message_opcode = opcode
                    self._fragmented_message_buffer = bytearray(payload)
                    continue
            handled = self._handle_message(opcode, payload)
            if handled is not None:
                await handled
            if opcode == CLOSE:
                return b""
        return data[at:]
