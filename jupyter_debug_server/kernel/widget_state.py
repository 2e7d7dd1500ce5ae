"""What the widgets show, as plain JSON: pure functions from the server's models,
snapshots and stack/variables answers to widget trait values, and the bounded output tail.

Nothing here holds a credential: the traits are saved into the notebook (.ipynb), so they
carry the session's name, state, location, frames, variables and output text only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..client import Json

#: Lines of source shown around the current line, on each side.
CONTEXT_LINES = 3
#: Characters of a variable's or watch's value kept in a trait.
VALUE_CHARS = 200
#: Variables shown per scope.
SCOPE_VARIABLES = 50
#: Snapshots listed in the timeline (the newest).
LATEST_SNAPSHOTS = 5
#: Sessions listed by SessionsWidget (the newest).
MAX_SESSIONS = 100
#: Source files larger than this are not read for the context (bytes).
MAX_SOURCE_BYTES = 4 * 1024 * 1024
#: Pydevd's groups of an object's members: views of it, not variables of the frame.
_GROUPS = frozenset({"special variables", "function variables", "class variables",
                     "protected variables"})


def session_summary(model: Json) -> Json:
    """The session fields a widget shows (never the spec's environment or any link)."""
    stopped = model.get("stopped") or {}
    return {key: model.get(key) for key in ("id", "name", "debugger", "state", "pid",
                                            "exit_code", "error", "clients")} | {
        "reason": stopped.get("reason"), "description": stopped.get("description")}


def location_of(model: Json) -> Json:
    """The stop location of a session model: path, line, function name ({} if none)."""
    stopped = model.get("stopped") or {}
    if model.get("state") != "stopped" or not stopped:
        return {}
    return {"path": stopped.get("path"), "line": stopped.get("line"),
            "name": stopped.get("name"), "source": []}


def source_context(path: str | None, line: int | None,
                   around: int = CONTEXT_LINES) -> list[list[Any]]:
    """`[[number, text], …]` around `line` of the file `path` (empty if unreadable).
    Blocking: called in an executor thread."""
    if not path or not isinstance(line, int) or line < 1:
        return []
    try:
        file = Path(path)
        if file.stat().st_size > MAX_SOURCE_BYTES:
            return []
        lines = file.read_text(errors="replace").splitlines()
    except (OSError, ValueError):
        return []
    first = max(1, line - around)
    return [[n, lines[n - 1][:VALUE_CHARS]] for n in range(first, min(len(lines), line + around)
                                                           + 1)]


def _cut(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS - 1] + "…"


def frames_from_snapshot(snapshot: Json) -> list[Json]:
    """A snapshot's frames as the widget's stack."""
    return [{"name": f.get("function"), "path": f.get("path"), "line": f.get("line")}
            for f in snapshot.get("frames") or []]


def frames_from_stack(stack: Json) -> list[Json]:
    """GET …/stack's frames as the widget's stack."""
    return [{"name": f.get("name"), "path": (f.get("source") or {}).get("path"),
             "line": f.get("line")} for f in stack.get("frames") or []]


def _variable(item: Json) -> Json:
    return {"name": _cut(item.get("name")), "type": _cut(item.get("type")),
            "value": _cut(item.get("value"))}


def variables_from_snapshot(snapshot: Json) -> list[Json]:
    """A snapshot's top-frame scopes as `[{scope, variables: [{name, type, value}]}]`."""
    return [{"scope": scope.get("scope"),
             "variables": [_variable(v) for v in (scope.get("variables") or [])
                           [:SCOPE_VARIABLES]]}
            for scope in snapshot.get("variables") or []]


def variables_from_answer(answer: Json) -> list[Json]:
    """GET …/variables' scopes (raw DAP variables) in the widget's shape."""
    scopes = []
    for scope in answer.get("scopes") or []:
        if scope.get("expensive"):
            continue
        shown = [v for v in scope.get("variables") or []
                 if not (v.get("name") in _GROUPS and not v.get("type"))]
        scopes.append({"scope": scope.get("name"),
                       "variables": [_variable(v) for v in shown[:SCOPE_VARIABLES]]})
    return scopes


def watches_from_snapshot(snapshot: Json) -> list[Json]:
    """A snapshot's watch results as `[{expression, value | error}]`."""
    shown = []
    for watch in snapshot.get("watches") or []:
        entry = {"expression": _cut(watch.get("expression"))}
        if watch.get("error") is not None:
            entry["error"] = _cut(watch.get("error"))
        else:
            entry["value"] = _cut(watch.get("value"))
        shown.append(entry)
    return shown


def timeline_entry(snapshot: Json) -> Json:
    """One line of the snapshot timeline: seq, time, reason and where."""
    frames = snapshot.get("frames") or [{}]
    top = frames[0]
    return {"seq": snapshot.get("seq"), "time": snapshot.get("time"),
            "reason": snapshot.get("reason"), "path": top.get("path"),
            "line": top.get("line"), "name": top.get("function")}


def session_row(model: Json) -> Json:
    """One row of SessionsWidget's list."""
    stopped = model.get("stopped") or {}
    return session_summary(model) | {"created": model.get("created"),
                                     "path": stopped.get("path"), "line": stopped.get("line")}


def session_rows(models: dict[str, Json]) -> list[Json]:
    """The newest MAX_SESSIONS sessions, newest first."""
    ordered = sorted(models.values(), key=lambda m: str(m.get("created") or ""), reverse=True)
    return [session_row(m) for m in ordered[:MAX_SESSIONS]]


#: `read(since, limit)`: one page of a paged route (`{"items": [{"seq": …}, …], …}`).
PageReader = Callable[[int, int], Awaitable[Json]]


async def last_seq(read: PageReader) -> int:
    """The highest seq of a paged route, in O(log n) one-item pages (0 if it is empty)."""
    async def after(since: int) -> int | None:
        items = (await read(since, 1))["items"]
        return int(items[0]["seq"]) if items else None

    low = 0  # an item with a seq > low exists... until proven otherwise
    first = await after(0)
    if first is None:
        return 0
    low, high = first, max(2 * first, 1)
    while (found := await after(high)) is not None:
        low, high = found, 2 * found
    # the last seq is in [low, high]: an item with seq low exists, none after high
    while high - low > 1:
        middle = (low + high) // 2
        found = await after(middle)
        if found is None:
            high = middle
        else:
            low = found
    return low if await after(low) is None else high


class OutputTail:
    """The last `size` lines of a session's output and the cursor after them.

    Chunks need not end at line ends: the last line may be partial until more comes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.cursor = 0  # the seq of the last chunk taken
        self.lines: deque[str] = deque(maxlen=size)
        self.partial = ""

    def add(self, text: str) -> None:
        """Append a chunk of output text."""
        parts = (self.partial + text).split("\n")
        self.partial = parts.pop()
        self.lines.extend(parts)

    def text(self) -> str:
        """The tail as text: its whole lines, each with its line end (so that the chunks
        sent after it append to it as they did to the program's output), then the partial
        last line."""
        return "".join(line + "\n" for line in self.lines) + self.partial

    def clear(self) -> None:
        """Forget the lines (output was skipped: what follows is not contiguous)."""
        self.lines.clear()
        self.partial = ""
