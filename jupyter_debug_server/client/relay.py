"""The relay of one IDE's DAP byte stream to a session's tunnel, for client/forward.py.

`Relay` moves DAP between the IDE's Content-Length framing and the tunnel's text frames in
callbacks (no Task, future or JSON work per message); `IdeSide` is the IDE's end (a TCP
connection, or stdin or stdout); `finish` leaves the session and closes both ends. Owned by
the forward's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from ..dap.framing import FrameDecoder, FramingError, encode, from_json
from .websocket_client import WebSocketClient, WebSocketClosed

# Bytes that may wait for an IDE that does not read before it is cut off.
_MAX_IDE_BACKLOG = 32 * 1024 * 1024
#: After the session ends, how long open IDE connections may take to disconnect on their
#: own (they have been sent `terminated`) before the forward closes them and exits; also
#: how long what is left for an IDE may take to be written once the relay ended.
END_GRACE = 5.0


def _is_disconnect_response(body: bytes) -> bool:
    if b'"disconnect"' not in body:  # cheap test first: almost every frame is something else
        return False
    with contextlib.suppress(ValueError):
        message = json.loads(body)
        return bool(message.get("type") == "response" and message.get("command") == "disconnect")
    return False


def _check_greeting(body: bytes) -> None:
    """Raise FramingError unless `body` is an `initialize` request (the IDE's first
    message). The error never quotes the body."""
    try:
        message = from_json(body)
    except ValueError:
        message = None
    if not (isinstance(message, dict) and message.get("type") == "request"
            and message.get("command") == "initialize"):
        raise FramingError("its first DAP message is not an 'initialize' request")


def _last_seq(body: bytes) -> int:
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        return int(json.loads(body).get("seq") or 0)
    return 0


class Relay:
    """DAP between one IDE's byte stream and the tunnel, moved in callbacks.

    A message from either side is relayed from the `data_received` that completes it, in
    the same loop step, with no Task, future or JSON work per message (the server checks
    what an IDE sends; what the server sends is DAP already). Only the IDE's first
    message is parsed here: until it has shown itself an `initialize` request the relay
    has no tunnel (`greeted` is then set, reading pauses, and whoever opens the tunnel
    calls `join`). Ends after the IDE's `disconnect` is answered (the IDE is done; the
    session carries on), when either side closes, when the IDE sends something that is
    not strict DAP (`refused` says why when nothing was relayed yet), or when an IDE
    that stopped reading has _MAX_IDE_BACKLOG bytes waiting for it (bounded memory).
    """

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.tunnel: WebSocketClient | None = None
        self.ended: asyncio.Future[str] = loop.create_future()
        self.greeted: asyncio.Future[None] = loop.create_future()
        self.refused: str | None = None
        self.server_closed = False
        self.last = b""  # the server's last message: our closing events are numbered after it
        self._decoder = FrameDecoder(strict=True)
        self._early: list[bytes] = []  # checked messages waiting for the tunnel
        self._ide_in: asyncio.ReadTransport | None = None
        self._ide_out: asyncio.WriteTransport | None = None

    def attach(self, ide_in: asyncio.ReadTransport, ide_out: asyncio.WriteTransport) -> None:
        """Take the IDE's streams: what `ide_in` brings is checked (and kept until
        `join`); `ide_out` gets the server's messages once there is a tunnel."""
        self._ide_in, self._ide_out = ide_in, ide_out
        if ide_in.is_closing():
            self.end("the IDE closed the connection")
        elif self.greeted.done() and self.tunnel is None:
            ide_in.pause_reading()  # (stdin is read from the moment its pipe connects)

    def join(self, tunnel: WebSocketClient) -> None:
        """Relay through `tunnel` from now on, beginning with the IDE's kept messages;
        `ide_in` stops being read while the tunnel cannot take more."""
        self.tunnel = tunnel
        tunnel.on_flow = self._tunnel_full
        tunnel.on_message(self.to_ide)
        early, self._early = self._early, []
        self._send(early)
        if self._ide_in is not None and not self._ide_in.is_closing():
            self._ide_in.resume_reading()

    async def first_message(self, timeout: float | None = None) -> None:
        """Wait until the IDE's first message checked out, the relay ended, or
        `timeout` seconds passed."""
        waits: list[asyncio.Future[Any]] = [self.greeted, self.ended]
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)

    def end(self, why: str) -> None:
        if not self.ended.done():
            self.ended.set_result(why)

    def _tunnel_full(self, full: bool) -> None:
        if self._ide_in is not None and not self._ide_in.is_closing():
            if full:
                self._ide_in.pause_reading()
            else:
                self._ide_in.resume_reading()

    def from_ide(self, data: bytes) -> None:
        """Bytes from the IDE: each message they complete goes to the tunnel (or waits
        for it)."""
        if self.ended.done():
            return
        try:
            bodies = self._decoder.feed_bodies(data)
            for body in bodies:
                body.decode("utf-8")  # a text frame must be UTF-8; say so here, not there
            if bodies and not self.greeted.done():
                _check_greeting(bodies[0])
                self.greeted.set_result(None)
        except UnicodeDecodeError:
            self._not_dap("a DAP message body is not UTF-8")
            return
        except FramingError as exc:
            self._not_dap(str(exc))
            return
        if self.tunnel is None:
            self._early += bodies
            if self.greeted.done() and self._ide_in is not None:
                self._ide_in.pause_reading()  # the rest waits until the tunnel is open
            return
        self._send(bodies)

    def _not_dap(self, what: str) -> None:
        why = f"the IDE sent something that is not DAP: {what}"
        if self.tunnel is None:
            self.refused = why  # nothing of it went anywhere
        self.end(why)

    def _send(self, bodies: list[bytes]) -> None:
        assert self.tunnel is not None
        try:
            for body in bodies:
                self.tunnel.send_text(body)
        except WebSocketClosed:
            self.end(f"the server closed the tunnel: {self.tunnel.why_closed}")

    def ide_closed(self, exc: Exception | None) -> None:
        self.end(f"the IDE connection failed: {exc}" if exc else
                 "the IDE closed the connection")

    def to_ide(self, body: bytes | None) -> None:
        """A message from the server (None: the tunnel closed), written to the IDE."""
        if self.ended.done():
            return
        if body is None:
            self.server_closed = True
            why = self.tunnel.why_closed if self.tunnel is not None else "closed"
            self.end(f"the server closed the tunnel: {why}")
            return
        out = self._ide_out
        if out is None or out.is_closing():
            self.end("the IDE closed the connection")
            return
        out.write(b"Content-Length: %d\r\n\r\n%b" % (len(body), body))
        self.last = body
        if _is_disconnect_response(body):
            self.end("the IDE disconnected (the session carries on)")
        elif out.get_write_buffer_size() > _MAX_IDE_BACKLOG:
            self.end(f"the IDE stopped reading ({_MAX_IDE_BACKLOG} bytes waited for it)")

    async def run(self) -> str:
        """Wait until the relay ends; why. When the server closed the tunnel first, the
        IDE is told why with an `output` event and `terminated`, so it shows the end
        instead of hanging."""
        why = await self.ended
        out = self._ide_out
        if self.server_closed and out is not None and not out.is_closing():
            seq = _last_seq(self.last)
            output: dict[str, Any] = {"type": "event", "event": "output", "seq": seq + 1,
                               "body": {"category": "console",
                                        "output": f"jupyter-debug-server forward: {why}\n"}}
            ended: dict[str, Any] = {"type": "event", "event": "terminated", "seq": seq + 2}
            out.write(encode(output) + encode(ended))
        return why


class IdeSide(asyncio.Protocol):
    """An IDE's end of a relay: a TCP connection, or stdin or stdout."""

    def __init__(self, relay: Relay | None = None) -> None:
        self.relay = relay
        self.transport: Any = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.relay is not None:
            self.relay.from_ide(data)

    def eof_received(self) -> bool | None:
        return None  # the IDE is done sending: close, which ends the relay

    def connection_lost(self, exc: Exception | None) -> None:
        if self.relay is not None:
            self.relay.ide_closed(exc)
        if not self.lost.done():
            self.lost.set_result(None)

    # An IDE that does not read is cut off by the relay (see _MAX_IDE_BACKLOG).
    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass


async def finish(tunnel: WebSocketClient | None, *ide: IdeSide) -> None:
    """Leave the session's multiplexer (never ends the session), write what is left for
    the IDE, and close its streams; an IDE that does not read is dropped after
    END_GRACE seconds."""
    if tunnel is not None:
        tunnel.close()
    for side in ide:
        if side.transport is not None:
            side.transport.close()
    waits = [*(side.lost for side in ide if side.transport is not None)]
    if tunnel is not None:
        waits.append(tunnel.closed)
    if not waits:
        return
    _, late = await asyncio.wait(waits, timeout=END_GRACE)
    if late:
        for side in ide:
            if side.transport is not None and not side.lost.done():
                side.transport.abort()
        await asyncio.wait(late, timeout=END_GRACE)
