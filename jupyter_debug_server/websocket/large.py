"""Large client messages, split off the byte stream before `websockets` holds them whole.

Why: websockets' Sans-I/O parser takes a frame's payload in one piece (buffered, copied
out, unmasked: one call each), and a text message is then decoded into one str. For a
64 MiB frame each of those is tens of milliseconds inside one read callback, during which
no other connection of the server is served. A handler that sets
`large_message_threshold` gets a `FrameSplitter` in front of the parser instead: it
follows the frame headers of the stream (a few operations per frame, so the small frames
of the stepping path pass untouched, as the same bytes object), and takes the payload of
a masked data frame of at least the threshold out of the stream as it arrives, unmasked a
read (64 KiB) at a time by websockets' C speedups.

websockets still sees every frame: in place of one split off it gets a stand-in with the
same first byte (FIN, reserved bits, opcode) and an empty payload, fed once the payload is
complete, so frame order, fragmentation rules and the closing handshake stay its to check.
The connection (connection.py) pairs each stand-in with its payload (`take`, in order:
one entry per empty data frame) and hands a message of at least the threshold to the
handler's `on_large_message` as a `LargeMessage`: the payload's chunks, not joined, not
decoded (UTF-8 is the handler's to check).

What websockets refuses at the header (an unmasked frame, a reserved opcode or bit, a
payload over max_size, a continuation out of place) is never split off: it reaches
websockets as sent, which fails the connection as before. Payload bytes websockets did not
see are counted here, so a fragmented message over max_size still closes with 1009.
"""

from __future__ import annotations

from collections import deque

from websockets.exceptions import PayloadTooBig

try:
    from websockets.speedups import apply_mask
except ImportError:  # no C speedups on this platform: websockets' own fallback
    from websockets.utils import apply_mask

_DATA_OPCODES = 3  # opcodes below this are data frames: continuation, text, binary


class _TooBig(ValueError):
    """A fragmented message grew past max_size in frames websockets did not see whole."""


class LargeMessage:
    """A message of at least the handler's threshold, as its payload's chunks (in order;
    text is not decoded, nor checked to be UTF-8)."""

    __slots__ = ("binary", "chunks", "size")

    def __init__(self, chunks: list[bytes], size: int, binary: bool) -> None:
        self.chunks = chunks
        self.size = size
        self.binary = binary

    def __repr__(self) -> str:
        kind = "binary" if self.binary else "text"
        return f"<LargeMessage {kind}, {self.size} bytes in {len(self.chunks)} chunks>"


class FrameSplitter:
    """Splits the payloads of large data frames off a client's byte stream (see above)."""

    def __init__(self, threshold: int, max_size: int | None) -> None:
        self.threshold = max(threshold, 1)
        self.max_size = max_size
        self._held = b""  # the start of a frame header that has not fully arrived
        self._skip = 0  # bytes still to come of a frame passed through
        # The frame being split off: its payload so far, bytes still to come, masking key
        # (rotated to where the next byte falls), first byte.
        self._payload: list[bytes] | None = None
        self._left = 0
        self._key = b""
        self._head = 0
        # The fragmented message under way: payload bytes, of which websockets did not see.
        self._fragmented = False
        self._total = 0
        self._hidden = 0
        # One entry per empty data frame given to websockets: the payload if a stand-in.
        self._empties: deque[list[bytes] | None] = deque()
        #: Set when a fragmented message grew past max_size in frames websockets did not
        #: see whole: the connection fails with 1009 and these words (websockets' own).
        self.too_big: str | None = None

    def take(self) -> list[bytes] | None:
        """The payload of the empty data frame websockets parsed next: the chunks split
        off in its place, or None for a frame the client sent empty."""
        return self._empties.popleft() if self._empties else None

    def split(self, data: bytes) -> bytes:
        """The bytes websockets should get for `data` (the same object when no frame is
        split off or held back). Once `too_big` is set, the bytes before the frame that
        made the message too big (then nothing more is split)."""
        if self._held:
            data, self._held = self._held + data, b""
        skip = self._skip
        if self._payload is None:
            if skip >= len(data):
                self._skip = skip - len(data)
                return data
            return self._walk(data, skip, [], 0)
        at = self._consume(data, 0)
        if self._left:
            return b""  # all of it was payload
        return self._walk(data, at, [self._stand_in()], at)

    def _walk(self, data: bytes, at: int, out: list[bytes], fed: int) -> bytes:
        """Follow the frames from `at` (a frame's first byte); data[fed:at] and `out` are
        for websockets, in that order after `out`."""
        size = len(data)
        self._skip = 0
        while at < size:
            left = size - at
            if left < 2:
                break  # held back until the header is complete
            second = data[at + 1]
            length = second & 0x7F
            head = 2
            if length >= 126:
                head = 4 if length == 126 else 10
                if left < head:
                    break
                length = int.from_bytes(data[at + 2:at + head], "big")
            if second & 0x80:
                head += 4
            first = data[at]
            if first & 0x0F < _DATA_OPCODES:
                try:
                    splitting = length >= self.threshold and self._splittable(
                        first, second, length)
                    if not splitting:
                        self._count(first, length, hidden=False)
                except _TooBig as exc:
                    self.too_big = str(exc)
                    out.append(data[fed:at])
                    return b"".join(out)
                if splitting:
                    if left < head:
                        break  # (its masking key has not arrived yet)
                    out.append(data[fed:at])
                    self._payload, self._left, self._head = [], length, first
                    self._key = data[at + head - 4:at + head]
                    at = self._consume(data, at + head)
                    if self._left:
                        return b"".join(out)  # the rest of it comes with later reads
                    out.append(self._stand_in())
                    fed = at
                    continue
                if not length:
                    self._empties.append(None)
            at += head + length
        else:
            self._skip = at - size
            if not out and not fed:
                return data
            out.append(data[fed:])
            return b"".join(out)
        self._held = data[at:]
        if not out and not fed:
            return data[:at]
        out.append(data[fed:at])
        return b"".join(out)

    def _splittable(self, first: int, second: int, length: int) -> bool:
        """Whether this data frame's payload is split off (see the module's text); raises
        _TooBig when it makes a message websockets cannot size too big."""
        if not second & 0x80 or first & 0x70:
            return False  # unmasked, or reserved bits: websockets fails it at the header
        continues = not first & 0x0F
        if continues != self._fragmented:
            return False  # out of place: websockets fails it
        before = self._total if continues else 0
        if self.max_size is not None and before + length > self.max_size:
            if self._hidden:
                raise _TooBig(str(PayloadTooBig(length, self.max_size - before,
                                                      before)))
            return False  # websockets has seen all of it: it refuses the frame itself
        return True

    def _count(self, first: int, length: int, *, hidden: bool) -> None:
        """Track a fragmented message's size: websockets counts only what it sees."""
        if first & 0x80 and not self._fragmented:
            return  # a whole message in one frame (the usual case): nothing to track
        if first & 0x0F:  # the first frame of a message
            self._total, self._hidden = length, (length if hidden else 0)
        else:
            self._total += length
            if hidden:
                self._hidden += length
        if self._hidden and self.max_size is not None and self._total > self.max_size:
            before = self._total - length
            raise _TooBig(str(PayloadTooBig(length, self.max_size - before, before)))
        self._fragmented = not first & 0x80
        if not self._fragmented:
            self._total = self._hidden = 0

    def _consume(self, data: bytes, at: int) -> int:
        """Take the split-off payload's bytes from data[at:], unmasked; where they end."""
        assert self._payload is not None
        take = min(self._left, len(data) - at)
        if take:
            key = self._key
            self._payload.append(apply_mask(memoryview(data)[at:at + take], key))
            turn = take % 4
            self._key = key[turn:] + key[:turn]
            self._left -= take
        return at + take

    def _stand_in(self) -> bytes:
        """The split-off frame as websockets gets it: same first byte, empty payload."""
        payload, self._payload = self._payload, None
        assert payload is not None
        self._empties.append(payload)
        self._count(self._head, sum(len(chunk) for chunk in payload), hidden=True)
        return bytes((self._head, 0x80, 0, 0, 0, 0))
