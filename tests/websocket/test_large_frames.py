"""Large client messages split off the byte stream before websockets holds them whole
(websocket/large.py): the same frames, checks and close codes as websockets alone, the
payload handed over as chunks; on a real tornado server on loopback (connection.py)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import tornado.web
import tornado.websocket
from websockets.frames import Opcode
from websockets.protocol import Protocol, Side, State

from jupyter_debug_server.websocket import LargeMessage, ServerConnection, connection
from jupyter_debug_server.websocket.large import FrameSplitter

from ..support.local_app import serving
from ..support.ws_frames import BINARY, CLOSE, CONTINUATION, PING, TEXT, encode_frame, parse_head

pytestmark = pytest.mark.timeout(60)
THRESHOLD = 100_000
MAX_SIZE = 1_000_000


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True,
          rsv: int = 0) -> bytes:
    data = encode_frame(opcode, payload, os.urandom(4) if masked else None)
    return bytes((data[0] & (0xFF if fin else 0x7F) | rsv,)) + data[1:]


# -- the splitter against websockets alone ------------------------------------------------

def _parse(stream: bytes, reads: list[int], splitter: FrameSplitter | None) -> tuple[
        list[Any], State, int | None]:
    """What websockets makes of `stream` arriving in `reads`, with or without the
    splitter in front: messages (data joined), control frames, its state, the close code
    it sent."""
    protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=MAX_SIZE)
    got: list[Any] = []
    parts: list[bytes] = []
    at = 0
    for size in reads:
        data = stream[at:at + size]
        at += size
        if splitter is not None and protocol.state is State.OPEN:
            data = splitter.split(data)
            protocol.receive_data(data)
            if splitter.too_big is not None and protocol.state is State.OPEN:
                protocol.fail(1009, splitter.too_big)  # as connection.py does
        else:
            protocol.receive_data(data)
        for event in protocol.events_received():
            payload = bytes(event.data)
            if event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                chunks = splitter.take() if splitter is not None and not payload else None
                if chunks is not None:
                    assert all(len(chunk) <= max(reads) for chunk in chunks)  # as it came
                    payload = b"".join(chunks)
                parts.append(payload)
                if event.fin:
                    got.append(b"".join(parts))
                    parts = []
            else:
                got.append((event.opcode, payload))
    sent = protocol.close_sent
    return got, protocol.state, None if sent is None else sent.code


def _stream(rnd: random.Random) -> bytes:
    frames = []
    for _ in range(rnd.randint(1, 6)):
        kind = rnd.random()
        sizes = [0, 1, 125, 126, 65535, 65536, THRESHOLD - 1, THRESHOLD, 300_000]
        if kind < 0.15:
            frames.append(frame(PING, b"ping"))
        elif kind < 0.45:  # a fragmented message, maybe with a ping inside
            pieces = [os.urandom(rnd.choice(sizes)) for _ in range(rnd.randint(2, 4))]
            for index, piece in enumerate(pieces):
                frames.append(frame(TEXT if index == 0 else CONTINUATION, piece,
                                    fin=index == len(pieces) - 1))
                if rnd.random() < 0.2:
                    frames.append(frame(PING, b"inside"))
        else:
            frames.append(frame(rnd.choice((TEXT, BINARY)), os.urandom(rnd.choice(sizes))))
    return b"".join(frames)


def _reads(rnd: random.Random, size: int) -> list[int]:
    reads = []
    while size:
        read = min(size, rnd.choice([1, 2, 3, 9, 14, 100, 4096, 65536, 65536]))
        reads.append(read)
        size -= read
    return reads


def test_valid_streams_come_out_as_websockets_alone_reads_them() -> None:
    rnd = random.Random(13)
    for _ in range(150):
        stream = _stream(rnd)
        reads = _reads(rnd, len(stream))
        expected = _parse(stream, reads, None)
        assert expected[1] is State.OPEN
        assert _parse(stream, reads, FrameSplitter(THRESHOLD, MAX_SIZE)) == expected


@pytest.mark.parametrize(("bad", "code"), [
    (frame(TEXT, b"x" * THRESHOLD, masked=False), 1002),  # a client's frame is masked
    (frame(TEXT, b"x" * THRESHOLD, rsv=0x40), 1002),  # no extension: no reserved bit
    (frame(0x3, b"x" * THRESHOLD), 1002),  # a reserved opcode
    (frame(CONTINUATION, b"x" * THRESHOLD), 1002),  # nothing to continue
    (frame(TEXT, b"a", fin=False) + frame(TEXT, b"x" * THRESHOLD), 1002),  # unfinished
    (frame(BINARY, b"x" * (MAX_SIZE + 1)), 1009),  # over the limit in one frame
    # over it in fragments, websockets seeing all of them ...
    (frame(TEXT, b"x" * (MAX_SIZE - 10), fin=False) + frame(CONTINUATION, b"y" * 11), 1009),
    # ... or not: the splitter counts what it took
    (frame(TEXT, b"x" * 600_000, fin=False) + frame(CONTINUATION, b"y" * 600_000), 1009),
    (frame(TEXT, b"x" * 600_000, fin=False) + frame(CONTINUATION, b"y" * 300_000, fin=False)
     + frame(CONTINUATION, b"z" * 100_001), 1009),
])
def test_what_websockets_refuses_is_refused_with_its_close_code(bad: bytes, code: int) -> None:
    rnd = random.Random(7)
    stream = frame(TEXT, b"before") + bad + frame(TEXT, b"after")
    for reads in ([len(stream)], _reads(rnd, len(stream)), [1] * 20 + [len(stream) - 20]):
        got, state, sent = _parse(stream, reads, FrameSplitter(THRESHOLD, MAX_SIZE))
        assert (state, sent) == (State.CLOSING, code), reads[:5]
        assert got[:1] == [b"before"] and b"after" not in got


def test_small_frames_pass_as_the_same_bytes_object() -> None:
    splitter = FrameSplitter(THRESHOLD, MAX_SIZE)
    data = frame(TEXT, b'{"command":"next"}') + frame(PING, b"") + frame(BINARY, b"x" * 70_000)
    assert splitter.split(data) is data
    # A frame cut mid-payload and mid-header: whole frames' bytes pass, the header waits.
    first, second = data[:100], data[100:]
    assert splitter.split(first) is first
    assert splitter.split(second) is second
    cut = frame(TEXT, b"x" * 300)
    assert splitter.split(cut[:3]) == b""  # 126: two more length bytes to come
    assert splitter.split(cut[3:]) == cut


# -- on a real server ---------------------------------------------------------------------

class LargeAware(tornado.websocket.WebSocketHandler):
    """Records its messages; a large one waits for `seen["release"]` if set (then records
    "handled")."""

    large_message_threshold = THRESHOLD
    seen: dict[str, Any]

    def initialize(self, seen: dict[str, Any]) -> None:
        self.seen = seen

    @property
    def max_message_size(self) -> int:
        return MAX_SIZE

    def get_websocket_protocol(self) -> Any:
        return ServerConnection(self)

    def on_message(self, message: str | bytes) -> None:
        self._record(message)

    async def on_large_message(self, message: LargeMessage) -> None:
        self._record(message)
        if "release" in self.seen:
            await self.seen["release"].wait()
            self._record("handled")

    def _record(self, message: Any) -> None:
        self.seen["messages"].append(message)
        self.seen["changed"].set()

    def on_close(self) -> None:
        self.seen["closed"].set_result((self.close_code, self.close_reason))


@contextlib.asynccontextmanager
async def large_aware(take_over: bool) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    loop = asyncio.get_running_loop()
    seen: dict[str, Any] = {"messages": [], "changed": asyncio.Event(),
                            "closed": loop.create_future()}
    app = tornado.web.Application([(r"/ws", LargeAware, {"seen": seen})])
    before, connection.TAKE_OVER = connection.TAKE_OVER, take_over
    try:
        with serving(app) as port:
            yield port, seen
    finally:
        connection.TAKE_OVER = before


async def _upgrade(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                  f"Sec-WebSocket-Key: {key}\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def _messages(seen: dict[str, Any], count: int) -> list[Any]:
    async def wait() -> list[Any]:
        while len(seen["messages"]) < count:
            seen["changed"].clear()
            await seen["changed"].wait()
        return list(seen["messages"])
    return await asyncio.wait_for(wait(), 30)


@pytest.mark.parametrize("take_over", [True, False], ids=["socket", "tornado-stream"])
async def test_large_messages_come_as_chunks_in_order_with_the_small_ones(
        take_over: bool) -> None:
    async with large_aware(take_over) as (port, seen):
        _reader, writer = await _upgrade(port)
        big = os.urandom(700_000)
        parts = [b"p" * 50_000, b"q" * 60_000, b"r" * 200_000]
        writer.write(frame(TEXT, b"small") + frame(BINARY, big)
                     + b"".join(frame(TEXT if i == 0 else CONTINUATION, part,
                                      fin=i == len(parts) - 1)
                                for i, part in enumerate(parts))
                     + frame(TEXT, b"x" * (THRESHOLD - 1)) + frame(TEXT, "é".encode()))
        got = await _messages(seen, 5)
        assert got[0] == "small" and got[3] == "x" * (THRESHOLD - 1) and got[4] == "é"
        for message, payload, binary in ((got[1], big, True), (got[2], b"".join(parts),
                                                                False)):
            assert isinstance(message, LargeMessage)
            assert (message.binary, message.size) == (binary, len(payload))
            assert b"".join(message.chunks) == payload
            # Handed over as the bytes arrived (a read at a time), never joined whole.
            assert max(len(chunk) for chunk in message.chunks) <= 256 * 1024
        writer.close()


async def test_the_large_message_handler_is_awaited_before_the_next_message() -> None:
    async with large_aware(True) as (port, seen):
        seen["release"] = asyncio.Event()
        _reader, writer = await _upgrade(port)
        writer.write(frame(TEXT, b"y" * 200_000) + frame(TEXT, b"next"))
        first = await _messages(seen, 1)
        assert isinstance(first[0], LargeMessage)
        seen["release"].set()
        got = await _messages(seen, 3)
        assert got[1:] == ["handled", "next"]
        writer.close()


async def test_a_fragmented_message_over_the_limit_closes_1009() -> None:
    async with large_aware(True) as (port, seen):
        reader, writer = await _upgrade(port)
        writer.write(frame(TEXT, b"a" * 600_000, fin=False)
                     + frame(CONTINUATION, b"b" * 600_000))
        data = await asyncio.wait_for(reader.read(1024), 10)
        head = parse_head(data)
        assert head is not None and head.opcode == CLOSE
        assert int.from_bytes(data[head.start:head.start + 2], "big") == 1009
        assert b"exceeds limit" in data[head.start + 2:head.start + head.length]
        code, _reason = await asyncio.wait_for(seen["closed"], 10)
        assert code is None or code == 1009
        assert seen["messages"] == []
        writer.close()
