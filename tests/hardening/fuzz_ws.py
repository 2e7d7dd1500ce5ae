"""Hostile WebSocket frames written on a plain socket after a real, authenticated handshake.

`RawWebSocket` does the HTTP upgrade itself and then writes whatever bytes it is given, so
frames can break every rule of RFC 6455 (reserved bits, unmasked, fragmented control
frames, lying lengths, invalid UTF-8, bad close codes). It reads the server's frames as they
come, keeps the DAP responses (to check observers are refused and requests answered) and
the close code, and tells whether the server closed the connection.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
import struct
from typing import Any, NamedTuple

from ..support.ws_frames import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    mask,
    parse_head,
)
from .fuzz_dap import ANSWER, EITHER, Hostile, dap_message, not_dap
from .fuzz_dap import CLOSE as MUST_CLOSE


def frame(rng: random.Random, opcode: int, payload: bytes, *, fin: bool = True,
          rsv: int = 0, masked: bool = True, declared: int | None = None) -> bytes:
    """One client frame; `declared` overrides the length field (a lie)."""
    size = len(payload) if declared is None else declared
    first = (0x80 if fin else 0) | rsv | opcode
    bit = 0x80 if masked else 0
    if size < 126 and declared is None:
        head = struct.pack("!BB", first, bit | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", first, bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, bit | 127, min(size, 2**64 - 1))
    if not masked:
        return head + payload
    key = rng.randbytes(4)
    return head + key + mask(payload, key)


class Frames(NamedTuple):
    """Bytes to write, how many frames they are, and what the server must do after them."""

    kind: str
    data: bytes
    count: int
    outcome: str
    text: str = ""  # the JSON text the frames carry, if any


def _text_frames(rng: random.Random, kind: str, text: str, outcome: str) -> Frames:
    """`text` as one frame, or fragmented with pings (and pongs) between the pieces."""
    payload = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.8 or len(payload) < 4:
        return Frames(kind, frame(rng, TEXT, payload), 1, outcome, text)
    cuts = sorted(rng.sample(range(1, len(payload)), min(rng.randint(1, 5), len(payload) - 1)))
    pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    out, count = [], 0
    for index, piece in enumerate(pieces):
        out.append(frame(rng, TEXT if index == 0 else CONTINUATION, piece,
                         fin=index == len(pieces) - 1))
        count += 1
        if index < len(pieces) - 1 and rng.random() < 0.5:
            out.append(frame(rng, rng.choice((PING, PONG)), rng.randbytes(rng.randint(0, 125))))
            count += 1
    return Frames(f"{kind}+fragmented", b"".join(out), count, outcome, text)


#: The largest message both sockets take: the events socket closes a larger one with 1009 by
#: design (its clients only listen; SessionSocket.max_client_frame). The tunnel's large
#: messages are tested in tests/websocket/test_frames.py and tests/websocket/.
ANSWERABLE_MAX = 64 * 1024


def _dap_message(rng: random.Random, role: str, seq: int) -> Hostile:
    """A hostile DAP message that both sockets must take (at most ANSWERABLE_MAX bytes)."""
    while True:
        message = dap_message(rng, role, seq)
        if len(message.text.encode("utf-8", "surrogatepass")) <= ANSWERABLE_MAX:
            return message


def answerable(rng: random.Random, role: str, seq: int) -> Frames:
    """Frames the server must take without closing: hostile DAP, pings, pongs."""
    pick = rng.randrange(100)
    if pick < 8:
        pings = rng.randint(10, 60)
        return Frames("ping-flood", b"".join(
            frame(rng, PING, rng.randbytes(rng.randint(0, 125))) for _ in range(pings)),
            pings, ANSWER)
    if pick < 12:
        return Frames("pong", frame(rng, PONG, rng.randbytes(rng.randint(0, 125))), 1, ANSWER)
    if pick < 14:  # an empty fragment before the rest of a message
        message = _dap_message(rng, role, seq)
        if message.outcome != ANSWER:
            return _text_frames(rng, message.kind, message.text, message.outcome)
        payload = message.text.encode("utf-8", "surrogatepass")
        return Frames(f"{message.kind}+empty-fragments", frame(rng, TEXT, b"", fin=False)
                      + frame(rng, CONTINUATION, b"", fin=False)
                      + frame(rng, CONTINUATION, payload), 3, ANSWER, message.text)
    message = _dap_message(rng, role, seq)
    return _text_frames(rng, message.kind, message.text, message.outcome)


def _close_payload(code: int, reason: bytes) -> bytes:
    return struct.pack("!H", code) + reason


def fatal(rng: random.Random, seq: int, *, dap: bool) -> Frames:
    """Frames after which the server must close the connection (or may, for EITHER)."""
    pick = rng.randrange(22 if dap else 18)
    text = b'{"type":"request","seq":%d,"command":"threads"}' % seq
    if pick == 0:
        return Frames("bad-opcode", frame(rng, rng.choice((3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE,
                                                           0xF)), text), 1, MUST_CLOSE)
    if pick == 1:
        return Frames("reserved-bits", frame(rng, TEXT, text, rsv=rng.choice((0x10, 0x20, 0x40,
                                                                             0x70))),
                      1, MUST_CLOSE)
    if pick == 2:
        return Frames("unmasked", frame(rng, TEXT, text, masked=False), 1, MUST_CLOSE)
    if pick == 3:
        return Frames("fragmented-control", frame(rng, PING, b"a", fin=False)
                      + frame(rng, CONTINUATION, b"b"), 2, MUST_CLOSE)
    if pick == 4:
        return Frames("long-control", frame(rng, rng.choice((PING, PONG, CLOSE)),
                                            b"\x03\xe8" + b"x" * rng.randint(124, 2000)),
                      1, MUST_CLOSE)
    if pick == 5:
        return Frames("continuation-first", frame(rng, CONTINUATION, text), 1, MUST_CLOSE)
    if pick == 6:
        return Frames("text-inside-fragments", frame(rng, TEXT, text[:5], fin=False)
                      + frame(rng, TEXT, text), 2, MUST_CLOSE)
    if pick == 7:
        bad = rng.choice((b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                          b"\xe2\x82", b"\x80"))
        return Frames("invalid-utf8", frame(rng, TEXT, b'{"type":"request","x":"' + bad
                                             + b'"}'), 1, MUST_CLOSE)
    if pick == 8:
        return Frames("huge-length", frame(rng, rng.choice((TEXT, BINARY)), b"x" * 64,
                                           declared=rng.choice((2**63 - 1, 2**40, 2**31))),
                      1, MUST_CLOSE)
    if pick == 9:
        code = rng.choice((0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535))
        return Frames("close-bad-code", frame(rng, CLOSE, _close_payload(code, b"bye")),
                      1, MUST_CLOSE)
    if pick == 10:
        return Frames("close-invalid-utf8", frame(rng, CLOSE, _close_payload(
            1000, rng.choice((b"\xff\xfe", b"ok\xc3", b"\xed\xa0\x80")))), 1, MUST_CLOSE)
    if pick == 11:
        return Frames("close-one-byte", frame(rng, CLOSE, b"\x03"), 1, MUST_CLOSE)
    if pick == 12:
        return Frames("close", frame(rng, CLOSE, _close_payload(
            rng.choice((1000, 1001, 3000, 4999)), "é".encode() * rng.randint(0, 60))),
                      1, MUST_CLOSE)
    if pick == 13:
        return Frames("close-empty", frame(rng, CLOSE, b""), 1, MUST_CLOSE)
    if pick == 14:  # the length in the 8-byte form for a small frame (not minimal)
        return Frames("long-form-length", _long_form(rng, text), 1, EITHER)
    if pick == 15:  # a message never finished, then a close
        return Frames("unfinished-message", frame(rng, TEXT, text[:10], fin=False)
                      + frame(rng, CLOSE, _close_payload(1000, b"")), 2, MUST_CLOSE)
    if pick == 16:  # a message larger than the server's limit, announced honestly
        size = 65 * 1024 * 1024 + 1024 * 1024 + 1
        return Frames("oversized", frame(rng, TEXT, b"", declared=size) + b"\0" * 4096,
                      1, MUST_CLOSE)
    if pick == 17:
        return Frames("binary", frame(rng, BINARY, rng.randbytes(rng.randint(0, 500))), 1,
                      MUST_CLOSE if dap else ANSWER)
    hostile: Hostile = not_dap(rng, seq)  # the tunnel checks every text is DAP
    return _text_frames(rng, hostile.kind, hostile.text, hostile.outcome)


def _long_form(rng: random.Random, payload: bytes) -> bytes:
    key = rng.randbytes(4)
    return struct.pack("!BBQ", 0x80 | TEXT, 0x80 | 127, len(payload)) + key + mask(payload,
                                                                                      key)


class RawWebSocket:
    """A client WebSocket on a plain socket: we write bytes, it reads and sorts replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 leftover: bytes) -> None:
        self.writer = writer
        self.responses: dict[int, dict[str, Any]] = {}
        self.pongs: list[bytes] = []
        self.close_code: int | None = None
        self.close_reason = b""
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._buffer = bytearray(leftover)
        self._reader = asyncio.ensure_future(self._read(reader))

    @classmethod
    async def connect(cls, port: int, path: str, secret: str, *, in_query: bool = False,
                      timeout: float = 30) -> RawWebSocket:
        """Open `path` on 127.0.0.1:`port` with `secret` (Jupyter or session token) in the
        Authorization header, or as a browser does: in the `token` query argument (which
        a log line must never show)."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout)
        key = base64.b64encode(random.randbytes(16)).decode()
        auth = "" if in_query else f"Authorization: token {secret}\r\n"
        if in_query:
            path += f"{'&' if '?' in path else '?'}token={secret}"
        writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"{auth}\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        if not head.startswith(b"HTTP/1.1 101"):
            writer.close()
            raise AssertionError(f"upgrade of {path} refused: {head[:200]!r}")
        return cls(reader, writer, b"")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while chunk := await reader.read(256 * 1024):
                self._buffer += chunk
                self._frames()
                self._changed.set()
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()
            self._changed.set()

    def _frames(self) -> None:
        while (head := parse_head(self._buffer)) is not None:
            end = head.start + head.length
            if len(self._buffer) < end:
                return
            payload = bytes(self._buffer[head.start:end])
            del self._buffer[:end]
            if head.opcode == TEXT:
                self._message(payload)
            elif head.opcode == PONG:
                self.pongs.append(payload)
            elif head.opcode == PING:  # the server's keep-alive
                self.write(frame(random.Random(), PONG, payload))
            elif head.opcode == CLOSE:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 \
                    else 1005
                self.close_reason = payload[2:]

    def _message(self, payload: bytes) -> None:
        if b'"response"' not in payload:
            return  # events: nothing to check
        message = json.loads(payload)
        if message.get("type") == "response" and isinstance(message.get("request_seq"), int):
            self.responses[message["request_seq"]] = message

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    async def drain(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.drain()

    async def until(self, done: Any, timeout: float) -> bool:
        """Wait until `done()` is true or the connection closed; whether `done()` is."""
        async def wait() -> None:
            while not done() and not self.closed.is_set():
                self._changed.clear()
                await self._changed.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(wait(), timeout)
        return bool(done())

    async def wait_closed(self, timeout: float) -> bool:
        """Whether the server closed the connection within `timeout`."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.closed.wait(), timeout)
        return self.closed.is_set()

    async def abort(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await asyncio.wait_for(self.writer.wait_closed(), 5)
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self._reader, 5)
