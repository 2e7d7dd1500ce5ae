"""Paging of large Python containers for the debugpy worker: every item reachable.

pydevd answers `variables` without DAP's `start`/`count`: 100 items of a list and a
"more" group, 500 of a dict or set, then a line saying it stopped. The worker pages
instead, with pydevd's own references and values:

- the answers that list variables (`variables`, `evaluate`, `setVariable`,
  `setExpression`) are read on their way to the client: a list, tuple, dict, set, deque,
  NumPy array or pandas object gets `indexedVariables` (its length, learnt with one
  hidden expression per answer, see containers.py), and `start`/`count` are honoured;
- `variables` of such a container with `filter` or `start`/`count` is answered here:
  `indexed` items are read in chunks, each a small list pydevd builds and lists in its
  own style (values, types, references that expand), renamed and given their real
  `evaluateName` (`x[1500]`, `d['key']`); `named` children are pydevd's own listing
  without its items; without a filter the items come first, then the named children;
- `setVariable` of an item read that way assigns to its expression (`setExpression`).

Without `filter`, `start` or `count` a client gets pydevd's listing unchanged. State lives
for one stop: `resumed()` forgets it and sends the answers still waiting for a length
as they are. Owned by the worker's event loop; pydevd is asked through `ask`, which
fails when the program resumes first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ....dap import ChannelClosed, DapRequestError
from ....dap.messages import Message
from ..base import spawn_task
from ..registry import AdapterError, Responder
from .containers import CHUNK, MAX_PAGE, NOT_ITEMS, TYPES, Container, parse_probe, plain, probe

log = logging.getLogger(__name__)

#: Asks pydevd a request of the worker's own; the body, or AdapterError.
Ask = Callable[[str, Message], Awaitable[Any]]
#: The requests whose answers list variables (and `scopes`, for their frames).
READS = frozenset({"scopes", "variables", "evaluate", "setVariable", "setExpression"})
_FAILED = (AdapterError, DapRequestError, ChannelClosed)
RESUMED = "the program resumed before debugpy answered; ask again at the next stop"


class Paging:
    """The containers of the current stop and the answers about them."""

    def __init__(self, ask: Ask, client: Responder) -> None:
        self.ask = ask
        self.client = client
        self.frames: dict[int, int] = {}  # pydevd reference → the frame it belongs to
        self.containers: dict[int, Container] = {}  # pydevd reference → what we page
        # pydevd reference of an item we read → (pydevd's expression of it, ours): its
        # children's expressions name our chunk otherwise.
        self.renames: dict[int, tuple[str, str | None]] = {}
        self.items: dict[tuple[int, str], str | None] = {}  # (container, name) → expression
        self.expressions: dict[tuple[int, str], str] = {}  # (parent, name) → expression
        self.held: dict[object, Callable[[], None]] = {}  # answers waiting for lengths
        self.tasks: set[asyncio.Task[Any]] = set()

    # -- the stop ----------------------------------------------------------------------

    def resumed(self) -> None:
        """The program runs again: pydevd's references are gone; answer what waits."""
        held, self.held = self.held, {}
        for send in held.values():
            send()
        self.frames.clear()
        self.containers.clear()
        self.renames.clear()
        self.items.clear()
        self.expressions.clear()

    # -- requests answered here --------------------------------------------------------

    def takes(self, request: Message) -> bool:
        """Whether this request is answered here rather than by pydevd."""
        arguments = request.get("arguments") or {}
        ref = arguments.get("variablesReference")
        if request["command"] == "variables":
            return ref in self.containers and bool(
                arguments.get("filter") in ("indexed", "named") or arguments.get("start")
                or arguments.get("count"))
        return request["command"] == "setVariable" and (ref, arguments.get("name")) in self.items

    def answer(self, request: Message) -> None:
        """Answer a request `takes` took, in a task."""
        spawn_task(self._answer(request), self.tasks)

    async def _answer(self, request: Message) -> None:
        try:
            if request["command"] == "variables":
                body = await self._variables(**request["arguments"])
            else:
                body = await self._set_item(**request["arguments"])
        except _FAILED as exc:
            message = exc.message if isinstance(exc, DapRequestError) else str(exc)
            self.client.send_response(request, success=False, message=message)
        except Exception as exc:
            log.exception("paging %r failed", request["command"])
            self.client.send_response(request, success=False, message=f"internal error: {exc}")
        else:
            self.client.send_response(request, body=body)

    async def _variables(self, *, variablesReference: int, filter: str | None = None,
                         start: int | None = None, count: int | None = None,
                         format: Any = None, **_rest: Any) -> Message:
        ref, container = variablesReference, self.containers.get(variablesReference)
        if container is None:  # forgotten since `takes`: the program resumed
            raise AdapterError(RESUMED)
        first, many = max(int(start or 0), 0), max(int(count or 0), 0)
        if filter == "named":
            named = await self._named(ref, container, format)
            window = named[first:first + many] if many else named[first:]
        else:
            window = await self._indexed(ref, container, first, many, format)
            ended = first + len(window) >= container.length  # (not cut at MAX_PAGE)
            if filter != "indexed" and ended and (not many or len(window) < many):
                # Without a filter: the items, then the named children.
                named = await self._named(ref, container, format)
                skip = max(first - container.length, 0)
                window += named[skip:skip + many - len(window)] if many else named[skip:]
        await self._lengths(container.frame, window)
        return {"variables": window}

    async def _named(self, ref: int, container: Container, fmt: Any) -> list[Message]:
        """pydevd's own children of a container, without its items."""
        listed = await self.ask("variables", _with_format({"variablesReference": ref}, fmt))
        children = [v for v in listed.get("variables") or [] if isinstance(v, dict)]
        if container.kind == "array":  # its items are under "[0:N] ": read as ours
            named = [v for v in children if not str(v.get("name", "")).startswith("[")
                     and v.get("name") != "Unable to handle:"]
        elif container.kind in ("dataframe", "series"):
            named = children  # pydevd lists their attributes, never their rows
        else:
            named = [v for v in children if v.get("name") in NOT_ITEMS - {
                "Unable to handle:", "more"}]
        self._note_children(ref, named)
        return named

    async def _indexed(self, ref: int, container: Container, first: int, many: int,
                       fmt: Any) -> list[Message]:
        """Items `first`.. (`many` of them, 0: to the end, at most MAX_PAGE)."""
        stop = min(container.length, first + (many or MAX_PAGE), first + MAX_PAGE)
        spans = [(a, min(a + CHUNK, stop)) for a in range(first, stop, CHUNK)]
        parts = await asyncio.gather(*(self._span(ref, container, a, z, fmt)
                                       for a, z in spans))
        return [item for part in parts for item in part]

    async def _span(self, ref: int, container: Container, first: int, stop: int,
                    fmt: Any) -> list[Message]:
        """Items `first`..`stop`, in one chunk unless pydevd lists fewer at once."""
        out: list[Message] = []
        while first + len(out) < stop:
            part = await self._chunk(ref, container, first + len(out), stop, fmt)
            if not part:  # the container is shorter now
                break
            out += part
        return out

    async def _chunk(self, ref: int, container: Container, first: int, stop: int,
                     fmt: Any) -> list[Message]:
        """Items `first`..`stop` as pydevd lists them, named as in the container."""
        expression = container.chunk(first, stop)
        evaluated = await self.ask("evaluate", _with_format({
            "expression": expression, "frameId": container.frame, "context": "watch"}, fmt))
        chunk_ref = evaluated.get("variablesReference")
        if not isinstance(chunk_ref, int) or chunk_ref <= 0:
            return []
        listed = await self.ask("variables", _with_format(
            {"variablesReference": chunk_ref}, fmt))
        items = [v for v in listed.get("variables") or []
                 if isinstance(v, dict) and v.get("name") not in NOT_ITEMS][:stop - first]
        for offset, item in enumerate(items):
            theirs = item.get("evaluateName")
            theirs = theirs if isinstance(theirs, str) else None
            if container.kind == "map":  # the key's name and expression, on the dict
                ours = theirs.replace(expression, container.expression, 1) if theirs else None
            else:
                item["name"] = container.item_name(first + offset)
                ours = container.item_expression(first + offset)
            _set_expression(item, ours)
            self.items[(ref, str(item["name"]))] = ours
            child = item.get("variablesReference")
            if isinstance(child, int) and child > 0:
                self.frames[child] = container.frame
                if theirs is not None:
                    self.renames[child] = (theirs, ours)
        return items

    async def _set_item(self, *, variablesReference: int, name: str, value: str,
                        format: Any = None, **_rest: Any) -> Message:
        """Assign to an item read here, through its expression."""
        if (variablesReference, name) not in self.items:  # the program resumed
            raise AdapterError(RESUMED)
        expression = self.items[(variablesReference, name)]
        container = self.containers.get(variablesReference)
        if expression is None or container is None:
            raise AdapterError(f"item {name} has no expression to assign to (the items of a "
                               "set have none); change the set with an expression instead")
        body = await self.ask("setExpression", _with_format({
            "expression": expression, "value": value, "frameId": container.frame}, fmt=format))
        await self._result_length(container.frame, expression, body)
        return dict(body)

    # -- answers of pydevd's, on their way --------------------------------------------

    def relay(self, request: Message, response: Message) -> None:
        """Send pydevd's `response` to `request` on, with lengths and paging applied."""
        body = response.get("body")
        if not response.get("success") or not isinstance(body, dict):
            self._send(request, response)
            return
        command = request["command"]
        arguments = request.get("arguments") or {}
        work: Coroutine[Any, Any, None] | None = None
        if command == "scopes":
            frame = arguments.get("frameId")
            for scope in body.get("scopes") or []:
                if isinstance(scope, dict) and isinstance(frame, int):
                    self._note_frame(scope.get("variablesReference"), frame)
        elif command == "variables":
            work = self._relay_variables(arguments, body)
        else:  # evaluate, setExpression, setVariable: one value
            parent = int(arguments.get("variablesReference") or 0)
            if command == "setVariable":
                frame = self.frames.get(parent)
                expression = self.expressions.get((parent, str(arguments.get("name"))))
            else:
                frame, expression = arguments.get("frameId"), arguments.get("expression")
            if isinstance(frame, int):
                self._note_frame(body.get("variablesReference"), frame)
                if _candidate(body, expression):
                    work = self._result_length(frame, str(expression), body)
        if work is None:
            self._send(request, response)
        else:
            self._send_after(request, response, work)

    def _relay_variables(self, arguments: Message, body: Message) -> Coroutine[
            Any, Any, None] | None:
        ref = arguments.get("variablesReference")
        listed = [v for v in body.get("variables") or [] if isinstance(v, dict)]
        first, many = arguments.get("start"), arguments.get("count")
        if first or many:  # pydevd ignored them: page its answer here
            first, many = max(int(first or 0), 0), max(int(many or 0), 0)
            listed = listed[first:first + many] if many else listed[first:]
            body["variables"] = listed
        if not isinstance(ref, int):
            return None
        self._note_children(ref, listed)
        frame = self.frames.get(ref)
        if frame is None or not any(_candidate(v, v.get("evaluateName")) for v in listed):
            return None
        return self._lengths(frame, listed)

    def _note_children(self, ref: int, children: list[Message]) -> None:
        """Children of `ref`: their frame, their expressions (ours where we renamed)."""
        frame = self.frames.get(ref)
        rename = self.renames.get(ref)
        for child in children:
            theirs = child.get("evaluateName")
            if rename is not None and isinstance(theirs, str) and rename[0] in theirs:
                ours = None if rename[1] is None else theirs.replace(rename[0], rename[1], 1)
                _set_expression(child, ours)
            else:
                ours = theirs if isinstance(theirs, str) else None
            child_ref = child.get("variablesReference")
            if isinstance(child_ref, int) and child_ref > 0:
                if frame is not None:
                    self.frames[child_ref] = frame
                if rename is not None and isinstance(theirs, str):
                    self.renames[child_ref] = (theirs, ours)
            if ours is not None:
                self.expressions[(ref, str(child.get("name")))] = ours

    def _note_frame(self, ref: Any, frame: int) -> None:
        if isinstance(ref, int) and ref > 0:
            self.frames[ref] = frame

    def _send(self, request: Message, response: Message) -> None:
        self.client.send_response(request, success=bool(response.get("success")),
                                  body=response.get("body"), message=response.get("message"))

    def _send_after(self, request: Message, response: Message,
                    work: Coroutine[Any, Any, None]) -> None:
        """Send the response once `work` has added to it, or at once when the program
        resumes first (as it is then)."""
        key = object()
        self.held[key] = lambda: self._send(request, response)

        async def finish() -> None:
            try:
                await work
            except _FAILED:
                pass  # sent without the lengths
            except Exception:
                log.exception("reading the lengths for %r failed", request["command"])
            finally:
                send = self.held.pop(key, None)
                if send is not None:
                    send()

        spawn_task(finish(), self.tasks)

    # -- lengths -------------------------------------------------------------------------

    async def _lengths(self, frame: int, variables: list[Message]) -> None:
        """Add `indexedVariables` to the containers among `variables` (one hidden
        expression for them all)."""
        found = [(v, str(v["evaluateName"])) for v in variables
                 if _candidate(v, v.get("evaluateName"))]
        if not found:
            return
        kinds = await self._kinds(frame, [expression for _, expression in found])
        for (variable, expression), kind in zip(found, kinds, strict=True):
            self._adopt(variable, frame, expression, kind)

    async def _result_length(self, frame: int, expression: str, body: Message) -> None:
        (kind,) = await self._kinds(frame, [expression])
        self._adopt(body, frame, expression, kind)

    def _adopt(self, variable: Message, frame: int, expression: str,
               kind: tuple[str, int] | None) -> None:
        ref = variable.get("variablesReference")
        if kind is not None and isinstance(ref, int) and ref > 0:
            self.containers[ref] = Container(frame, expression, *kind)
            variable["indexedVariables"] = kind[1]

    async def _kinds(self, frame: int, expressions: list[str]) -> list[tuple[str, int] | None]:
        """The kind and length of each expression's value (None: not paged)."""
        try:
            body = await self.ask("evaluate", {"expression": probe(expressions),
                                               "frameId": frame, "context": "watch"})
        except DapRequestError:
            if len(expressions) == 1:
                return [None]
            # One of them fails to evaluate (a property that raises): each on its own.
            parts = await asyncio.gather(*(self._kinds(frame, [e]) for e in expressions))
            return [part[0] for part in parts]
        return parse_probe(str(body.get("result", "")), len(expressions))


def _candidate(variable: Message, expression: Any) -> bool:
    """Whether a listed value may be a container we page (its length is asked)."""
    ref = variable.get("variablesReference")
    return (isinstance(ref, int) and ref > 0 and variable.get("type") in TYPES
            and isinstance(expression, str) and plain(expression))


def _set_expression(variable: Message, expression: str | None) -> None:
    if expression is None:
        variable.pop("evaluateName", None)
    else:
        variable["evaluateName"] = expression


def _with_format(arguments: Message, fmt: Any) -> Message:
    if isinstance(fmt, dict):
        arguments["format"] = fmt
    return arguments
