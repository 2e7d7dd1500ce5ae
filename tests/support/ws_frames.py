"""RFC 6455 frames built and read by hand, for tests that must break every rule.

The package's frames are `websockets`' (jupyter_debug_server/websocket/); a test client
that writes an unmasked frame, a lying length or a reserved opcode needs its own code.
"""

from __future__ import annotations

from typing import NamedTuple

from websockets.speedups import apply_mask

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class FrameHead(NamedTuple):
    fin: bool
    rsv: int  # reserved bits (0x70)
    opcode: int
    masked: bool
    length: int  # of the payload
    start: int  # where the masking key (if masked) or the payload starts


def parse_head(data: bytes | bytearray, at: int = 0) -> FrameHead | None:
    """The header of the frame at `data[at:]`, or None while it is incomplete."""
    size = len(data) - at
    if size < 2:
        return None
    b0, b1 = data[at], data[at + 1]
    length, start = b1 & 0x7F, at + 2
    if length == 126:
        if size < 4:
            return None
        length, start = int.from_bytes(data[at + 2:at + 4], "big"), at + 4
    elif length == 127:
        if size < 10:
            return None
        length, start = int.from_bytes(data[at + 2:at + 10], "big"), at + 10
    return FrameHead(bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F, bool(b1 & 0x80), length, start)


def mask(payload: bytes, key: bytes) -> bytes:
    """RFC 6455 §5.3 masking (and unmasking)."""
    return apply_mask(payload, key) if payload else b""


def encode_frame(opcode: int, payload: bytes, key: bytes | None = None) -> bytes:
    """One final frame; masked with `key` (a client's frames must be, RFC 6455 §5.1)."""
    size = len(payload)
    bit = 0x80 if key is not None else 0
    if size < 126:
        head = bytes((0x80 | opcode, bit | size))
    elif size < 1 << 16:
        head = bytes((0x80 | opcode, bit | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, bit | 127)) + size.to_bytes(8, "big")
    return head + payload if key is None else head + key + mask(payload, key)
