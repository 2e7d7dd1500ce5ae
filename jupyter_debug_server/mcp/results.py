"""Keep what a tool answers small enough for an agent's context window, and page output.

A debugger can hand back a 10 MiB string, a list of a million items or a structure nested
a hundred levels deep; an agent that receives one loses its context. Every tool result
goes through `capped`: long strings, long lists or objects and deep nesting are cut, each
cut marked where it happened, and the result says `truncated: true` with a `note` on how
to read the rest (the paging arguments of the tool that gives it). Output is paged by
`output_page`, which cuts after whole chunks so that its cursor skips nothing (only a
single chunk longer than a page is cut, and the answer says so).

Pure functions on JSON values; no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..client import Json

#: The most JSON characters one tool result should take.
MAX_CHARS = 24_000


@dataclass(frozen=True)
class Limits:
    """How much of a value is kept: characters of a string, items of a list or object,
    levels of nesting."""

    string: int = 2_000
    items: int = 100
    depth: int = 6

    def halved(self) -> Limits:
        """Tighter limits, for a value still too large under these."""
        return Limits(max(self.string // 2, 80), max(self.items // 2, 5),
                      max(self.depth - 1, 2))


def cut(value: Any, limits: Limits, depth: int = 0) -> tuple[Any, bool]:
    """`value` within `limits`, and whether anything was cut (marked in place)."""
    if isinstance(value, str):
        if len(value) <= limits.string:
            return value, False
        return f"{value[:limits.string]}… [{len(value) - limits.string} more characters]", True
    if not isinstance(value, dict | list):
        return value, False
    if depth >= limits.depth:
        return ("{…}" if isinstance(value, dict) else "[…]"), bool(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        changed = len(value) > limits.items
        for key in list(value)[:limits.items]:
            out[key], inner = cut(value[key], limits, depth + 1)
            changed |= inner
        if len(value) > limits.items:
            out["…"] = f"{len(value) - limits.items} more keys"
        return out, changed
    items: list[Any] = []
    changed = len(value) > limits.items
    for item in value[:limits.items]:
        kept, inner = cut(item, limits, depth + 1)
        items.append(kept)
        changed |= inner
    if len(value) > limits.items:
        items.append(f"… {len(value) - limits.items} more items")
    return items, changed


def size(value: Any) -> int:
    """Characters of `value` as JSON."""
    return len(json.dumps(value, ensure_ascii=False, default=str))


def capped(result: Json, how_to_page: str, *, budget: int = MAX_CHARS) -> Json:
    """`result` cut to fit `budget` JSON characters; when something was cut, with
    `truncated: true` and a `note` ending in `how_to_page`."""
    limits = Limits()
    value, changed = cut(result, limits)
    while size(value) > budget and limits != limits.halved():
        limits = limits.halved()
        value, changed = cut(result, limits)
    if not changed:
        return result
    value = dict(value)
    value["truncated"] = True
    value["note"] = (f"Cut to fit: strings at {limits.string} characters, lists at "
                     f"{limits.items} items, {limits.depth} levels deep. {how_to_page}")
    return value


#: Characters of output in one answer of the output tool.
OUTPUT_CHARS = 16_000


def output_page(page: Json, since: int, limit: int, budget: int = OUTPUT_CHARS) -> Json:
    """A page of output as text, cut after a whole chunk so that `next` resumes right
    after the last chunk given (a first chunk longer than `budget` is cut itself)."""
    items = page["items"]
    parts: list[str] = []
    used = 0
    cursor = since
    note = None
    for item in items:
        text = str(item["output"])
        if used + len(text) > budget:
            if not parts:  # one huge chunk: its start, and move past it
                parts.append(text[:budget])
                cursor = int(item["seq"])
                note = f"a chunk of {len(text)} characters was cut to {budget}"
            break
        parts.append(text)
        used += len(text)
        cursor = int(item["seq"])
    out: Json = {"text": "".join(parts), "next": cursor, "state": page.get("state"),
                 # a full page, or one cut short, may have more after it
                 "more": len(items) >= limit or cursor < int(page["next"])}
    if note:
        out["note"] = note
    if page.get("truncated"):
        out["retention_note"] = ("the oldest output was dropped by the server's retention "
                                 "(c.DebugServerApp.output_retention_chars)")
    return out
