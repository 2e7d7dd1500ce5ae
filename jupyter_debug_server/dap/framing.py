"""Content-Length framing of DAP messages, independent of any transport."""

from __future__ import annotations

import json
import re
from typing import Any

#: Largest DAP message accepted from a peer, in bytes (a variables reply of a
#: big object is a few MiB; anything far larger is a bug or an attack).
DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024

_HEADER_END = b"\r\n\r\n"
_USUAL_HEADER = b"Content-Length: "  # what every peer we know sends, alone
_MAX_HEADER = 4096
#: Strict framing: at most this many digits of Content-Length (64 MiB has 8).
_STRICT_DIGITS = 10
# What may follow the digits of a strict header that has not fully arrived yet.
_STRICT_TAILS = (b"", b"\r", b"\r\n", b"\r\n\r")


#: Why JSON nested too deeply to parse is refused (from_json's ValueError).
TOO_DEEP = "the JSON text is nested too deeply to parse"


class FramingError(ValueError):
    """The byte stream is not valid DAP framing; the connection must be dropped."""


# One encoder per flavour and one decoder, built once: `json.dumps` with arguments builds
# a JSONEncoder per call. No circular check (DAP messages come from JSON), compact
# separators, allow_nan False: NaN and Infinity are not JSON, and a peer that gets them
# may drop its connection (pydevd does), so such a message cannot be sent (ValueError).
# Only the public API: calling CPython's C encoder and scanner directly saved about
# 0.5 µs per message, under 1 % of a step (bench/json_codec.py, bench/README.md).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                            check_circular=False)
_ENCODER_ASCII = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True,
                                  allow_nan=False, check_circular=False)


def _refuse_constant(name: str) -> Any:
    """Refuse NaN, Infinity and -Infinity: Python's json reads them, JSON has none."""
    raise ValueError(f"{name} is not a JSON value (JSON numbers are finite)")


def _finite_float(text: str) -> float:
    """Read a JSON number with a fraction or exponent, refusing one that overflows to
    infinity (1e400): it could never be written back as JSON."""
    value = float(text)
    if value in (_INF, -_INF):
        raise ValueError(f"the number {text[:40]} is too large for a double")
    return value


_INF = float("inf")
#: Reads like json.loads, without NaN/Infinity and overflowing numbers (see above).
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _to_text(message: Any) -> str:
    """Compact JSON with non-ASCII characters kept (lone surrogates too)."""
    return _ENCODER.encode(message)


def _to_ascii(message: Any) -> str:
    """Compact JSON with every non-ASCII character escaped (`\\udc80` for a lone
    surrogate): text that always encodes to UTF-8."""
    return _ENCODER_ASCII.encode(message)


def to_json(message: Any) -> str:
    """`message` as compact JSON text that always encodes to UTF-8.

    Non-ASCII characters are kept, not escaped, unless a string holds a lone surrogate
    (a file name decoded with surrogateescape, a thread's name): such text cannot be
    UTF-8, so the whole message is then written with JSON escapes. ASCII text (the
    usual case) is known valid from a flag CPython keeps on every string: no scan.
    """
    text = _to_text(message)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _to_ascii(message)
    return text


def from_json(text: str | bytes) -> Any:
    """Parse JSON text (bytes are UTF-8); raises ValueError as `json.loads` does, also
    for NaN/Infinity, a number that overflows a double, and nesting too deep to parse."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # UnicodeDecodeError is a ValueError
    try:
        return _parse(text)
    except RecursionError:
        # The parsers recurse once per level: ~1000 levels end the stack. Not a bug of
        # ours, a hostile message: it gets the ValueError path like any other bad JSON.
        raise ValueError(TOO_DEEP) from None


def _parse(text: str) -> Any:
    # raw_decode skips decode()'s two whitespace scans: a message is one bare value.
    try:
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        pass  # the decoder below says what is wrong (or skips leading blanks)
    else:
        if end == len(text):
            return value
    return _DECODER.decode(text)  # blanks around the value, or an error worth its message


def encode(message: dict[str, Any]) -> bytes:
    """Serialize one message with its Content-Length header, in a single buffer.

    One buffer means one send(): writing header and body separately is what
    makes stock pydevd stall on Nagle's algorithm. A lone surrogate (see to_json)
    is written as a JSON escape; the happy path encodes once, as before.
    """
    try:
        body = _to_text(message).encode("utf-8")
    except UnicodeEncodeError:
        body = _to_ascii(message).encode("ascii")
    return b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


class FrameDecoder:
    """Incremental decoder: feed bytes, get whole messages back.

    `strict=True` is for endpoints that anything on the host can reach (the forward's
    port, where a same-user browser can POST): every header must be exactly
    `Content-Length: N` (N of at most ten decimal digits) and a blank line, so an HTTP
    request (its request line has a colon too) fails at its first bytes, before a whole
    message exists. Strict errors never quote the peer's bytes: an HTTP request carries
    cookies, and the message may end up in a log. The lenient default takes any header
    lines DAP allows, as long as one is Content-Length (the worker's channel).
    """

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE, *,
                 strict: bool = False) -> None:
        self._buf = bytearray()
        self._need: int | None = None
        self._max = max_message
        self._strict = strict
        # A header longer than this is not taken by the fast path of _parse_header.
        self._longest = len(_USUAL_HEADER) + (_STRICT_DIGITS if strict else _MAX_HEADER)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Add bytes and return every message they complete, in order."""
        return [decode_body(body) for body in self.feed_bodies(data)]

    def feed_bodies(self, data: bytes) -> list[bytes]:
        """Add bytes and return the bodies of every message they complete, unparsed (for
        a relay whose far end checks them)."""
        if self._buf or self._need is not None:
            self._buf += data
            return self._drain()
        # Nothing held back (the usual case: a read ends where a message ends): cut the
        # messages out of `data` itself, without copying it through the buffer first.
        out: list[bytes] = []
        at, size = 0, len(data)
        while at < size:
            end = data.find(_HEADER_END, at)
            if end < 0 or end - at > _MAX_HEADER:
                break  # an incomplete (or oversized) header: the buffer's path decides
            need = self._parse_header(data[at:end])
            start = end + len(_HEADER_END)
            if size - start < need:
                self._need, at = need, start
                break
            out.append(data[start:start + need])
            at = start + need
        if at < size:
            self._buf += data[at:]
            out.extend(self._drain())
        return out

    def _drain(self) -> list[bytes]:
        """Take every whole message out of the buffer."""
        out: list[bytes] = []
        while True:
            if self._need is None:
                end = self._buf.find(_HEADER_END)
                if end < 0:
                    if self._strict:
                        _check_strict_start(bytes(self._buf))
                    elif len(self._buf) > _MAX_HEADER:
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
        if (header.startswith(_USUAL_HEADER) and header[len(_USUAL_HEADER):].isdigit()
                and len(header) <= self._longest):
            length = int(header[len(_USUAL_HEADER):])  # (isdigit: no line break, no sign)
        elif self._strict:
            _check_strict_start(header)  # says what is wrong with its first bytes
            raise FramingError(_NOT_STRICT)  # a valid start, and more than one line
        else:
            length = self._parse_header_lines(header)
        if length < 0 or length > self._max:
            raise FramingError(
                f"DAP message of {length} bytes exceeds the limit of {self._max} bytes"
            )
        return length

    @staticmethod
    def _parse_header_lines(header: bytes) -> int:
        length: int | None = None
        for line in header.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if not sep or not _FIELD_NAME.fullmatch(name):
                # (a field name is an HTTP token: "POST /x:y HTTP/1.1" is not a header)
                raise FramingError(f"malformed DAP header line {line[:80]!r}")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise FramingError(
                        f"Content-Length {value.strip()[:40]!r} is not a number") from None
        if length is None:
            raise FramingError("DAP header has no Content-Length")
        return length


#: A header field's name (RFC 9110's token).
_FIELD_NAME = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_NOT_STRICT = ("the DAP header is not exactly 'Content-Length: N' and a blank line "
               "(strict framing: no other header line, nothing like an HTTP request)")


def _check_strict_start(start: bytes) -> None:
    """Raise FramingError unless `start` can still become a strict DAP header (it holds
    no complete header): `Content-Length: `, up to ten digits, then part of the blank
    line. The error names what is wrong, never the bytes."""
    prefix = start[:len(_USUAL_HEADER)]
    if not _USUAL_HEADER.startswith(prefix):
        raise FramingError(_NOT_STRICT)
    rest = start[len(_USUAL_HEADER):]
    digits = rest.rstrip(b"\r\n")
    if (digits and not digits.isdigit()) or rest[len(digits):] not in _STRICT_TAILS:
        raise FramingError(_NOT_STRICT)
    if rest[len(digits):] and not digits:
        raise FramingError("the DAP header's Content-Length has no digits")
    if len(digits) > _STRICT_DIGITS:
        raise FramingError(
            f"the DAP header's Content-Length has more than {_STRICT_DIGITS} digits")


def decode_body(body: bytes) -> dict[str, Any]:
    """Parse one message body and check it is a DAP message object."""
    try:
        message = from_json(body)
    except ValueError as exc:
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
