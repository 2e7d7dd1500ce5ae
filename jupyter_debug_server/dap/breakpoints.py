"""The breakpoints of many clients on one debugger (DapMux's `setBreakpoints`).

DAP's `setBreakpoints` replaces a source's breakpoints, in debugpy, gdb and lldb alike.
With several clients on one debugger, each client's call would remove the others'. So
the book keeps each owner's breakpoints per source (an owner is a MuxClient, or the
session's own REST route), sends the debugger the union, and answers each owner with its
own breakpoints only, in its request order (the debugger answers in the order of the
union, and a verified breakpoint may have moved lines: answers are mapped by position,
never by line).

Ids are the book's own: one per breakpoint of an owner, stable while that owner keeps a
breakpoint at that requested line (debugpy numbers a source's breakpoints afresh on every
`setBreakpoints`, so the debugger's ids would change under a client's feet). Every other
client is told about an owner's changes with `breakpoint` events (`new`, `changed`,
`removed`), and `hitBreakpointIds` of a stop are translated into the book's ids.

Owned by the mux's event loop; nothing here blocks or does I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from .messages import Message

Owner = Hashable
#: The owner of the session's own breakpoints (its launch spec's and its REST route's,
#: which the CLI and JupyterLab's editors use): not a DAP client.
SESSION_OWNER: Owner = "session"
#: `notify(skip, body)`: send a `breakpoint` event with `body` to every client but `skip`.
Notify = Callable[[Owner | None, Message], None]

#: What makes two owners' breakpoints the same debugger breakpoint.
_SPEC_FIELDS = ("line", "column", "name", "condition", "hitCondition", "logMessage", "mode")
#: What a client sees of a breakpoint (a change in any of these is a `changed` event).
_SHOWN_FIELDS = ("verified", "line", "column", "endLine", "endColumn", "message", "reason")
#: What a client needs of another owner's request to show that breakpoint as it is.
_REQUESTED_FIELDS = ("condition", "hitCondition", "logMessage")


@dataclass
class _Breakpoint:
    """One breakpoint of one owner."""

    id: int
    spec: Message
    answer: Message = field(default_factory=lambda: {"verified": False})

    def shown(self, path: str | None) -> Message:
        """The breakpoint as clients see it (DAP `Breakpoint`); `path` None for a
        function breakpoint (its source and line are the debugger's answer, if any)."""
        out = {k: self.answer[k] for k in _SHOWN_FIELDS if k in self.answer}
        out.setdefault("verified", False)
        if path is None:
            source = self.answer.get("source")
            return {**out, "id": self.id} | ({"source": source} if source else {})
        out.setdefault("line", self.spec.get("line"))
        return {**out, "id": self.id, "source": {"path": path}}


@dataclass
class _Source:
    """One source's breakpoints: each owner's, in the order the owners first set some.
    `path` None: the function breakpoints (setFunctionBreakpoints replaces them all)."""

    path: str | None
    owners: dict[Owner, list[_Breakpoint]] = field(default_factory=dict)
    upstream_ids: dict[int, int] = field(default_factory=dict)  # our id -> debugger's id


#: One request's union: the debugger's breakpoints and, for each of ours, its index there.
Layout = list[tuple[_Breakpoint, int]]


class BreakpointBook:
    """Every owner's breakpoints per source; see the module docstring."""

    def __init__(self, notify: Notify) -> None:
        self._notify = notify
        self._sources: dict[str, _Source] = {}
        self._functions = _Source(None)
        self._ids = itertools.count(1)

    # -- setting ---------------------------------------------------------------

    def replace(self, owner: Owner, arguments: Message) -> tuple[Message, Callable[
            [Message], Message]]:
        """`owner` replaces its breakpoints of one source (`arguments` of setBreakpoints,
        with `source.path`): the arguments to send the debugger, and the function that
        turns the debugger's response into this owner's."""
        path = str(arguments["source"]["path"])
        return self._replace(owner, self._sources.setdefault(path, _Source(path)),
                             requested_breakpoints(arguments), arguments)

    def replace_functions(self, owner: Owner, arguments: Message) -> tuple[Message, Callable[
            [Message], Message]]:
        """`owner` replaces its function breakpoints (`arguments` of
        setFunctionBreakpoints), as `replace` does a source's."""
        specs = [dict(b) for b in arguments.get("breakpoints") or []]
        return self._replace(owner, self._functions, specs, arguments)

    def _replace(self, owner: Owner, source: _Source, specs: list[Message],
                 arguments: Message) -> tuple[Message, Callable[[Message], Message]]:
        path = source.path
        old = source.owners.get(owner, [])
        new = self._keep_ids(old, specs, "line" if path is not None else "name")
        if new:
            source.owners[owner] = new
        else:
            source.owners.pop(owner, None)
        upstream, layout = self._union(source, arguments)

        def answer(response: Message) -> Message:
            if not response.get("success"):
                # What the debugger holds is unknown; keep what the owner asked for and
                # tell it the debugger's refusal.
                return response
            self._answered(source, layout, response, owner=owner, old=old)
            body = {"breakpoints": [bp.shown(path) for bp in new]}
            return {**response, "body": body}

        return upstream, answer

    def drop(self, owner: Owner) -> list[tuple[str, Message, Callable[[Message], None]]]:
        """`owner` left: the requests (command, arguments) that remove its breakpoints
        from the debugger, each with the handler of its response (the others are told)."""
        out: list[tuple[str, Message, Callable[[Message], None]]] = []
        for source in [*self._sources.values(), self._functions]:
            gone = source.owners.pop(owner, None)
            if not gone:
                continue
            upstream, layout = self._union(
                source, {} if source.path is None else {"source": {"path": source.path}})

            def handle(response: Message, source: _Source = source, layout: Layout = layout,
                       gone: list[_Breakpoint] = gone) -> None:
                if response.get("success"):
                    self._answered(source, layout, response, owner=owner, old=gone)

            command = "setBreakpoints" if source.path is not None else "setFunctionBreakpoints"
            out.append((command, upstream, handle))
        return out

    def _keep_ids(self, old: list[_Breakpoint], specs: list[Message],
                  by: str) -> list[_Breakpoint]:
        """The owner's new breakpoints: one at a line (function `name`) it had keeps that
        breakpoint's id."""
        unused = list(old)
        out = []
        for spec in specs:
            match = next((bp for bp in unused if bp.spec.get(by) == spec.get(by)), None)
            if match is not None:
                unused.remove(match)
                out.append(_Breakpoint(match.id, spec, dict(match.answer)))
            else:
                out.append(_Breakpoint(next(self._ids), spec))
        return out

    @staticmethod
    def _union(source: _Source, arguments: Message) -> tuple[Message, Layout]:
        """The debugger's request for `source`: every owner's breakpoints, the same one
        (all of `_SPEC_FIELDS` equal) sent once."""
        specs: list[Message] = []
        index: dict[tuple[Any, ...], int] = {}
        layout: Layout = []
        for breakpoints in source.owners.values():
            for bp in breakpoints:
                key = tuple(repr(bp.spec.get(k)) for k in _SPEC_FIELDS)
                if key not in index:
                    index[key] = len(specs)
                    specs.append(bp.spec)
                layout.append((bp, index[key]))
        upstream = {k: v for k, v in arguments.items() if k not in ("lines", "breakpoints")}
        upstream["breakpoints"] = specs
        return upstream, layout

    def _answered(self, source: _Source, layout: Layout, response: Message, *,
                  owner: Owner, old: list[_Breakpoint]) -> None:
        """Take the debugger's answers for `layout`, and tell the clients what changed."""
        body = response.get("body")
        answers = body.get("breakpoints") if isinstance(body, dict) else None
        if not isinstance(answers, list):
            answers = []  # (a debugger's odd answer: each breakpoint shows unverified)
        current = {bp.id for bps in source.owners.values() for bp in bps}
        before = {bp.id: bp.shown(source.path) for bp in old}
        source.upstream_ids = {}
        for bp, index in layout:
            if bp.id not in current:
                continue  # replaced by a later request of its owner meanwhile
            answer = answers[index] if index < len(answers) else {}
            was = before.get(bp.id, bp.shown(source.path))
            bp.answer = answer if isinstance(answer, dict) else {}
            if isinstance(bp.answer.get("id"), int):
                source.upstream_ids[bp.id] = bp.answer["id"]
            now = bp.shown(source.path)
            mine = bp in source.owners.get(owner, [])
            if mine and bp.id not in before:
                self._notify(owner, {"reason": "new", "breakpoint": now})
            elif now != was:
                # The owner's own change is in its response; a side effect on another
                # owner's breakpoint (it moved, it got verified) goes to everyone.
                self._notify(owner if mine else None, {"reason": "changed", "breakpoint": now})
        for bp_id, shown in before.items():
            if bp_id not in current:
                self._notify(owner, {"reason": "removed", "breakpoint": shown})

    # -- reading -----------------------------------------------------------------

    def ids_of(self, owner: Owner) -> set[int]:
        """The ids of `owner`'s breakpoints (every source)."""
        return {bp.id for s in [*self._sources.values(), self._functions]
                for bp in s.owners.get(owner, [])}

    def from_upstream(self, upstream_ids: Any) -> list[int]:
        """Our ids of the debugger's breakpoint ids (unknown ones are left out)."""
        if not isinstance(upstream_ids, list):
            return []
        wanted = set(upstream_ids)
        return [ours for s in [*self._sources.values(), self._functions]
                for ours, theirs in s.upstream_ids.items() if theirs in wanted]

    def update_from_upstream(self, breakpoint: Message) -> list[Message]:
        """The debugger changed one of its breakpoints (a `breakpoint` event): update
        ours behind it; returns them as clients now see them."""
        upstream_id = breakpoint.get("id")
        out: list[Message] = []
        for source in [*self._sources.values(), self._functions]:
            for bps in source.owners.values():
                for bp in bps:
                    if upstream_id is not None and source.upstream_ids.get(bp.id) == upstream_id:
                        bp.answer = {**bp.answer, **breakpoint}
                        out.append(bp.shown(source.path))
        return out

    def owned(self, owner: Owner, path: str) -> list[Message]:
        """`owner`'s breakpoints of one source as clients see them."""
        source = self._sources.get(path)
        return [] if source is None else [bp.shown(path) for bp in source.owners.get(owner, [])]

    def listing(self, owner: Owner) -> list[Message]:
        """Every owner's source breakpoints, grouped by source (Jupyter's `debugInfo`):
        each as clients see it, with the condition, hit condition and log message asked
        for, `mine`: whether it is `owner`'s, and `owner`: "you" (`owner`'s), "session"
        (SESSION_OWNER's) or "client" (another DAP client's). Function breakpoints are
        left out."""
        out: list[Message] = []
        for path, source in self._sources.items():
            shown = [{**bp.shown(path),
                      **{k: bp.spec[k] for k in _REQUESTED_FIELDS if bp.spec.get(k)},
                      "mine": who == owner, "owner": _whose(who, owner)}
                     for who, bps in source.owners.items() for bp in bps]
            if shown:
                out.append({"source": path, "breakpoints": shown})
        return out


def _whose(who: Owner, asking: Owner) -> str:
    """`listing`'s `owner` of a breakpoint of `who`, as `asking` sees it."""
    if who == asking:
        return "you"
    return "session" if who == SESSION_OWNER else "client"


def requested_breakpoints(arguments: Message) -> list[Message]:
    """A setBreakpoints request's breakpoints (`breakpoints`, or the old `lines`), as
    copies; items of the wrong type are left out (a client's were checked already by
    arguments.py, the REST route's raw request was not)."""
    if isinstance(arguments.get("breakpoints"), list):
        return [dict(b) for b in arguments["breakpoints"] if isinstance(b, dict)]
    lines = arguments.get("lines")
    return [{"line": line} for line in lines or [] if isinstance(line, int)] if isinstance(
        lines, list) else []
