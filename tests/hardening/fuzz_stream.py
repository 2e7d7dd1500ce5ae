"""Hostile Content-Length streams: for `forward --stdio`/`--port` and the worker on stdio.

A `DapStream` writes raw bytes to a DAP peer and reads its Content-Length framed replies.
`stream_campaign` sends batches of well-framed hostile DAP messages (each batch followed
by a `threads` sentinel), then one piece of hostile framing after which the peer must close
(HTTP requests, bad or missing lengths, binary garbage, invalid UTF-8, non-DAP bodies).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from jupyter_debug_server.dap.framing import FrameDecoder, FramingError

from .fuzz_dap import CLOSE, EITHER, dap_message, not_dap
from .fuzz_rounds import TRACKED, Tally, command_of

_SENTINEL_WAIT = 60.0
_CLOSE_WAIT = 15.0
_ANSWER_WAIT = 30.0


def framed(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


class Chunk(NamedTuple):
    kind: str
    data: bytes
    outcome: str
    text: str = ""


def answerable(rng: random.Random, role: str, seq: int) -> Chunk:
    message = dap_message(rng, role, seq)
    return Chunk(message.kind, framed(message.text.encode("utf-8", "surrogatepass")),
                 message.outcome, message.text)


def fatal(rng: random.Random, seq: int) -> Chunk:
    """Bytes after which the peer must close the stream (or may: EITHER)."""
    body = b'{"type":"request","seq":%d,"command":"threads"}' % seq
    pick = rng.randrange(14)
    if pick == 0:  # what a browser's no-cors fetch or form POST sends (issue 11 #1)
        return Chunk("http-request", b"POST /x:y HTTP/1.1\r\nHost: 127.0.0.1:4711\r\n"
                     b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%b"
                     % (len(body), body), CLOSE)
    if pick == 1:
        return Chunk("http-get", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", CLOSE)
    if pick == 2:
        return Chunk("no-content-length", b"Content-Type: x\r\n\r\n" + body, CLOSE)
    if pick == 3:
        return Chunk("bad-length", b"Content-Length: %b\r\n\r\n%b" % (rng.choice(
            (b"-5", b"abc", b"0x10", b"", b"1e3", b"\xff")), body), CLOSE)
    if pick == 4:
        return Chunk("huge-length", b"Content-Length: %d\r\n\r\n" % rng.choice(
            (2**40, 10**30, 64 * 1024 * 1024 + 1)) + body, CLOSE)
    if pick == 5:
        return Chunk("header-overflow", b"Content-Length: 1" + b"0" * 5000, CLOSE)
    if pick == 6:
        garbage = bytes(rng.randrange(256) for _ in range(rng.randint(5000, 9000)))
        return Chunk("binary-garbage", garbage.replace(b"\r\n\r\n", b"\r\n\n"), CLOSE)
    if pick == 7:
        return Chunk("invalid-utf8-body", framed(b'{"type":"request","seq":1,"command":"'
                                                 b'\xff\xfe"}'), CLOSE)
    if pick in (8, 9):
        hostile = not_dap(rng, seq)
        return Chunk(hostile.kind, framed(hostile.text.encode()), hostile.outcome, hostile.text)
    if pick == 10:
        return Chunk("empty-body", framed(b""), CLOSE)
    # Framing a lenient parser takes and a strict one refuses: either is fine.
    header = rng.choice((b"content-length: %d", b"Content-Length:   %d  ", b"Content-Length: 0%d",
                         b"Content-Length: %d\r\nContent-Type: application/json"))
    return Chunk("lenient-header", header % len(body) + b"\r\n\r\n" + body, EITHER)


class DapStream:
    """The client side of a Content-Length DAP stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: Any) -> None:
        self.writer = writer
        self.responses: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._decoder = FrameDecoder()
        self._reader = asyncio.ensure_future(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while chunk := await reader.read(256 * 1024):
                for message in self._decoder.feed(chunk):
                    if message.get("type") == "response":
                        self.responses[message["request_seq"]] = message
                    elif message.get("type") == "event":
                        self.events.append(message)
                self._changed.set()
        except (ConnectionError, OSError, FramingError):
            pass
        finally:
            self.closed.set()
            self._changed.set()

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    async def until(self, done: Callable[[], bool], timeout: float) -> bool:
        async def wait() -> None:
            while not done() and not self.closed.is_set():
                self._changed.clear()
                await self._changed.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(wait(), timeout)
        return bool(done())

    async def request(self, seq: int, command: str, arguments: Any = None,
                      timeout: float = 60) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "request", "seq": seq, "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        self.write(framed(json.dumps(message).encode()))
        if not await self.until(lambda: seq in self.responses, timeout):
            raise AssertionError(f"no response to {command} (closed: {self.closed.is_set()})")
        return self.responses[seq]

    async def abort(self) -> None:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            self.writer.close()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self._reader, 5)


#: Opens a stream (a forward connection or process, a worker) ready for hostile DAP.
Opener = Callable[[], Awaitable[DapStream]]


async def stream_campaign(open_stream: Opener, budget: int, rng: random.Random,
                          label: str, *, fatal_every: int = 1) -> Tally:
    """Send `budget` hostile messages/chunks; a stream ends with a fatal chunk every
    `fatal_every` streams (a stream that ends without one is just closed)."""
    tally = Tally()
    seq = 1000
    while tally.frames < budget:
        stream = await open_stream()
        tally.connections += 1
        try:
            seq = await _batches(stream, budget, rng, label, tally, seq)
            if not stream.closed.is_set() and tally.connections % fatal_every == 0:
                seq = await _last(stream, rng, label, tally, seq)
        finally:
            await stream.abort()
    return tally


async def _batches(stream: DapStream, budget: int, rng: random.Random, label: str,
                   tally: Tally, seq: int) -> int:
    for _ in range(rng.randint(1, 6)):
        chunks, kinds, tracked = [], [], {}
        size = rng.randint(10, 120)
        while len(chunks) < size and tally.frames + len(chunks) < budget:
            seq += 1
            chunk = answerable(rng, "control", seq)
            chunks.append(chunk.data)
            kinds.append(chunk.kind)
            tally.kinds[chunk.kind] += 1
            if chunk.kind in TRACKED:
                tracked[seq] = (chunk.kind, command_of(chunk.text))
        seq += 1
        data = b"".join(chunks) + framed(b'{"type":"request","seq":%d,"command":"threads"}'
                                         % seq)
        for piece in _split(rng, data):  # messages cut anywhere, as a slow pipe does
            stream.write(piece)
        tally.frames += len(chunks)
        sentinel = seq
        if not await stream.until(lambda s=sentinel: s in stream.responses, _SENTINEL_WAIT):
            name = "unexpected_close" if stream.closed.is_set() else "unanswered_sentinel"
            tally.problem(name, f"{label}: after a batch of {sorted(set(kinds))} the peer "
                          f"{'closed' if stream.closed.is_set() else 'did not answer'}")
            return seq
        await stream.until(lambda t=tracked: all(s in stream.responses for s in t),
                           _ANSWER_WAIT)
        for missing, (kind, command) in tracked.items():
            if missing not in stream.responses and not stream.closed.is_set():
                tally.problem("unanswered_requests", f"{label}: {kind} request seq {missing} "
                              f"({command!r:.40}) got no response")
        if tally.frames >= budget:
            break
    return seq


def _split(rng: random.Random, data: bytes) -> list[bytes]:
    if rng.random() < 0.7 or len(data) < 8:
        return [data]
    cuts = sorted(rng.sample(range(1, len(data)), min(6, len(data) - 1)))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


async def _last(stream: DapStream, rng: random.Random, label: str, tally: Tally,
                seq: int) -> int:
    seq += 1
    inside = seq  # the seq of a request inside the hostile bytes (the HTTP body's)
    chunk = fatal(rng, inside)
    tally.kinds[chunk.kind] += 1
    tally.frames += 1
    seq += 1
    sentinel = seq
    probe = framed(b'{"type":"request","seq":%d,"command":"threads"}' % seq)
    stream.write(chunk.data + (b"" if chunk.outcome == CLOSE else probe))
    if chunk.outcome == CLOSE:
        if not await stream.until(lambda: False, _CLOSE_WAIT) and not stream.closed.is_set():
            tally.problem("not_closed", f"{label}: the peer kept the stream open after "
                          f"{chunk.kind!r}")
        elif chunk.kind.startswith("http") and inside in stream.responses:
            tally.problem("http_answered", f"{label}: the peer answered an HTTP request "
                          "with DAP")
    elif not await stream.until(lambda: sentinel in stream.responses, _SENTINEL_WAIT) \
            and not stream.closed.is_set():
        tally.problem("unanswered_sentinel", f"{label}: after {chunk.kind!r} the peer "
                      "neither answered nor closed")
    return seq

