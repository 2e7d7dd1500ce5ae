"""REST request bodies: keep no more than the limit, accept only JSON a route can use.

Hostile JSON is refused here with a sentence naming where it is, so nothing after this
point meets it: nesting deep enough to exhaust the stack of any later repr or encoder,
integers no DAP peer can represent (and Python refuses to print past 4300 digits),
`NaN`/`Infinity`, and lone surrogates (`"\\ud800"`: not text, and not encodable as UTF-8
for a debugger, a file name or a log line).
"""

from __future__ import annotations

import json
import re
from typing import Any

from tornado import web

#: Containers nested deeper than this are refused: far beyond any launch spec or DAP
#: request, far below Python's recursion limit.
MAX_NESTING = 64
#: The largest integer a JSON number carries exactly in every DAP client (2**53 - 1).
MAX_INT = 2**53 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
Location = tuple[str | int, ...]


class BodyBuffer:
    """The chunks of a streamed request body, kept while the total is within `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._chunks: list[bytes] = []

    def add(self, chunk: bytes) -> None:
        """Keep `chunk`, or drop everything once the body is over the limit."""
        self.size += len(chunk)
        if self.size > self.limit:
            self._chunks.clear()
        else:
            self._chunks.append(chunk)

    @property
    def over_limit(self) -> bool:
        """Whether more than `limit` bytes arrived (the body is then not kept)."""
        return self.size > self.limit

    def data(self) -> bytes:
        """The whole body (only when within the limit)."""
        return b"".join(self._chunks)


def too_large(limit: int, size: int | None) -> web.HTTPError:
    """The 413 for a body over `limit` (`size` None: a body of unannounced length)."""
    has = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return web.HTTPError(413, f"the request body has {has}; the limit is {limit} bytes "
                         "(c.DebugServerApp.max_request_body)", reason="body-too-large")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (empty: {}), or a 400 naming what is wrong and where."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body, parse_int=_bounded_int, parse_constant=_no_constant,
                           parse_float=_finite_float)
    except RecursionError:
        raise _bad(f"the request body nests JSON deeper than {MAX_NESTING} levels") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(f"the request body is not valid JSON: {exc}") from None
    except ValueError as exc:  # from the hooks: their message is a sentence
        raise _bad(str(exc)) from None
    if not isinstance(value, dict):
        raise _bad(f"the request body must be a JSON object, not {type(value).__name__}")
    _check_tree(value)
    return value


def _bad(message: str) -> web.HTTPError:
    return web.HTTPError(400, message, reason="bad-json")


def _bounded_int(digits: str) -> int:
    # Checked on the digits: int() itself refuses more than 4300 of them, with advice
    # meant for the server's operator.
    if len(digits.lstrip("-")) > 16 or abs(int(digits)) > MAX_INT:
        shown = digits if len(digits) <= 40 else f"{digits[:20]}…({len(digits)} digits)"
        raise ValueError(f"the number {shown} in the request body is out of range: JSON "
                         f"integers here must lie within ±{MAX_INT}")
    return int(digits)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} in the request body is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        shown = text if len(text) <= 40 else f"{text[:20]}…"
        raise ValueError(f"the number {shown} in the request body is out of range (it "
                         "overflows a double)")
    return number


def _check_tree(root: dict[str, Any]) -> None:
    """Refuse nesting beyond MAX_NESTING and strings (keys too) with lone surrogates."""
    stack: list[tuple[Any, Location]] = [(root, ())]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            _check_text(value, where)
            continue
        if not isinstance(value, dict | list):
            continue
        if len(where) >= MAX_NESTING:
            raise _bad(f"the request body nests JSON deeper than {MAX_NESTING} levels (at "
                       f"{_show_location(where)})")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, (*where, key))
                stack.append((item, (*where, key)))
        else:
            stack.extend((item, (*where, i)) for i, item in enumerate(value))


def _check_text(text: str, where: Location) -> None:
    match = _SURROGATE.search(text)
    if match is not None:
        shown = repr(text) if len(text) <= 60 else repr(text[:60]) + "…"
        raise _bad(f"{_show_location(where)} holds {shown}, which contains a lone surrogate "
                   f"(U+{ord(match.group()):04X}) and is not valid Unicode; send text as "
                   "UTF-8 (characters outside the BMP as one escaped surrogate pair)")


def _show_location(where: Location) -> str:
    if not where:
        return "the request body"
    out = ""
    for step in where:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _IDENTIFIER.match(step):
            out += f".{step}" if out else step
        else:
            out += f"[{step[:40]!r}]"
    return f"'{out}'"
