"""Content-Length framing of DAP messages, independent of any transport."""

from __future__ import annotations

import json
from typing import Any

#: Largest DAP message accepted from a peer, in bytes (a variables reply of a
#: big object is a few MiB; anything far larger is a bug or an attack).
DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024

_HEADER_END = b"\r\n\r\n"
_MAX_HEADER = 4096


class FramingError(ValueError):
    """The byte stream is not valid DAP framing; the connection must be dropped."""


def encode(message: dict[str, Any]) -> bytes:
    """Serialize one message with its Content-Length header, in a single buffer.

    One buffer means one send(): writing header and body separately is what
    makes stock pydevd stall on Nagle's algorithm.
    """
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


class FrameDecoder:
    """Incremental decoder: feed bytes, get whole messages back."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self._buf = bytearray()
        self._need: int | None = None
        self._max = max_message

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Add bytes and return every message they complete, in order."""
        return [decode_body(body) for body in self.feed_bodies(data)]

    def feed_bodies(self, data: bytes) -> list[bytes]:
        """Add bytes and return the bodies of every message they complete, unparsed (for
        a relay whose far end checks them)."""
        self._buf += data
        out: list[bytes] = []
        while True:
            if self._need is None:
                end = self._buf.find(_HEADER_END)
                if end < 0:
                    if len(self._buf) > _MAX_HEADER:
                        raise FramingError("DAP header exceeds 4096 bytes without a blank line")
                    return out
                self._need = self._parse_header(bytes(self._buf[:end]))
                del self._buf[: end + len(_HEADER_END)]
            if len(self._buf) < self._need:
                return out
            body = bytes(self._buf[: self._need])
            del self._buf[: self._need]
            self._need = None
            out.append(body)

    def _parse_header(self, header: bytes) -> int:
        length: int | None = None
        for line in header.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if not sep:
                raise FramingError(f"malformed DAP header line {line[:80]!r}")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise FramingError(
                        f"Content-Length {value.strip()[:40]!r} is not a number") from None
        if length is None:
            raise FramingError("DAP header has no Content-Length")
        if length < 0 or length > self._max:
            raise FramingError(
                f"DAP message of {length} bytes exceeds the limit of {self._max} bytes"
            )
        return length


def decode_body(body: bytes) -> dict[str, Any]:
    """Parse one message body and check it is a DAP message object."""
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FramingError(f"DAP message body is not valid JSON: {exc}") from None
    check_message(message)
    return message  # type: ignore[no-any-return]


def check_message(message: object) -> None:
    """Raise FramingError unless `message` has the shape every DAP message has."""
    if not isinstance(message, dict):
        raise FramingError("a DAP message must be a JSON object")
    kind = message.get("type")
    if kind not in ("request", "response", "event"):
        raise FramingError(f"DAP message type {kind!r} is not request, response or event")
    if not isinstance(message.get("seq", 0), int):
        raise FramingError("DAP message seq must be an integer")
    if kind == "request" and not isinstance(message.get("command"), str):
        raise FramingError("a DAP request needs a string 'command'")
    if kind == "event" and not isinstance(message.get("event"), str):
        raise FramingError("a DAP event needs a string 'event'")
    if kind == "response" and not isinstance(message.get("request_seq"), int):
        raise FramingError("a DAP response needs an integer 'request_seq'")
