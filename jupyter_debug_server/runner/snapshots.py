"""The stop history: a snapshot of the program at every stop of a session.

Owned by the server's event loop. Held by `Session` (session.py), which tells it of each
`stopped` event (`on_stopped`) and of everything that runs the program on (`interrupt`:
a `continued` event, the end, and through `Upstream.on_resume` a tunnel client's or a
REST route's continue or step). The StopTracker (stops.py) says when the stop has been
announced (`on_announced`, after the state message with its location): only then does
the snapshot ask the debugger anything.

A snapshot holds where it stopped (thread, reason, description, the top frames), the top
frame's variables (its scopes that are neither expensive nor registers: each variable's
name, type, value and whether it has children, and the children of those one level
deep) and the session's watch expressions evaluated there with `context: "watch"` (a
failing one records its error sentence). It is bounded (`SnapshotLimits`): every string
is cut at `value_chars`, every variable's children at `children`, the whole at about
`max_chars`; whatever was cut makes it `truncated`.

Our requests queue in the debugger ahead of whatever a client sends next (stops.py says
why that matters), so they go out in batches of at most `BATCH`, each answered before
the next is sent, and none once the program is to run on: a client's step waits for one
small batch at most. The snapshot is then stored with what it had, `complete: false`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..dap import DapRequestError
from ..store import iso_time
from .snapshot_log import SnapshotLog
from .watches import parse_watches

if TYPE_CHECKING:
    from .config import RunnerConfig
    from .state import SessionState
    from .stops import StopTracker
    from .upstream import Upstream

log = logging.getLogger(__name__)

#: Requests of ours in the debugger at once, at most: what a client's step may wait for.
BATCH = 4
#: Seconds a snapshot waits before asking anything while tunnel clients are attached.
#: An IDE asks for the stack, scopes and variables the moment it sees a stop, and a user
#: holding "step" sends the next step right after: requests of ours sent first would
#: queue in the debugger ahead of both (measured: +0.25 ms, +25 %, on every step of
#: bench/tunnel_latency.py). Its burst takes a few milliseconds; a human's next step
#: comes later than this; a step sooner keeps the snapshot with the stop's location.
CLIENT_GRACE = 0.05
#: Variables whose children one snapshot asks for (one request each).
MAX_EXPANDED = 16
#: What a variable costs in a snapshot besides its strings: its JSON keys and punctuation.
_ENTRY = 48
#: pydevd's groups of a Python object's members: views of it, not variables of the frame.
_GROUPS = frozenset({"special variables", "function variables", "class variables",
                     "protected variables"})

Spawn = Callable[[Coroutine[Any, Any, None]], None]
Request = tuple[str, dict[str, Any]]


class Interrupted(Exception):
    """The program runs on (or the session ended): ask the debugger nothing more."""


@dataclass(frozen=True)
class SnapshotLimits:
    """How much one snapshot keeps (c.DebugServerApp.snapshot_*)."""

    frames: int = 20
    children: int = 20
    value_chars: int = 1000
    max_chars: int = 64 * 1024

    @classmethod
    def of(cls, config: RunnerConfig) -> SnapshotLimits:
        """The limits the server is configured with."""
        return cls(config.snapshot_frames, config.snapshot_children,
                   config.snapshot_value_chars, config.snapshot_max_chars)


class _Snapshot:
    """One stop's snapshot while it is taken: its JSON and its budget."""

    def __init__(self, seq: int, body: dict[str, Any], limits: SnapshotLimits) -> None:
        self.limits = limits
        self.done = False
        self.announced = False
        self.answered = True  # every request of ours got an answer (no timeout, no end)
        self.full = False  # the size budget is spent: nothing more is asked
        self.generation = 0  # the state's stop generation when it was announced
        self.interrupted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.data: dict[str, Any] = {
            "seq": seq, "time": iso_time(time.time()), "thread_id": body.get("threadId"),
            "reason": body.get("reason"), "description": None, "frames": [],
            "variables": [], "watches": [], "complete": False, "truncated": False}
        self.data["description"] = self.cut(body.get("description"))[0]
        self.size = _ENTRY * 4

    def cut(self, text: Any) -> tuple[Any, bool]:
        """`text` within the per-value limit, and whether it was cut (None stays None)."""
        if text is None:
            return None, False
        text = str(text)
        if len(text) <= self.limits.value_chars:
            return text, False
        self.data["truncated"] = True
        return text[:self.limits.value_chars - 1] + "…", True

    def fits(self, *texts: Any) -> bool:
        """Count an entry of these strings against the budget; False (and `truncated`,
        `full`) once it is spent."""
        cost = _ENTRY + sum(len(t) for t in texts if isinstance(t, str))
        if self.size + cost > self.limits.max_chars:
            self.full = True
            self.data["truncated"] = True
            return False
        self.size += cost
        return True

    def variable(self, item: dict[str, Any]) -> tuple[dict[str, Any] | None, int]:
        """A DAP variable as the snapshot shows it (None when it no longer fits), and its
        reference (0: no children)."""
        ref = item.get("variablesReference") or 0
        ref = ref if isinstance(ref, int) and ref > 0 else 0
        entry: dict[str, Any] = {}
        cut_any = False
        for key in ("name", "type", "value"):
            entry[key], cut = self.cut(item.get(key) or "")
            cut_any = cut_any or cut
        entry["has_children"] = bool(ref)
        if cut_any:
            entry["truncated"] = True
        if not self.fits(entry["name"], entry["type"], entry["value"]):
            return None, 0
        return entry, ref

    def variables(self, items: Sequence[Any], limit: int | None = None) -> tuple[
            list[dict[str, Any]], list[tuple[dict[str, Any], int]], bool]:
        """DAP variables as entries, with the (entry, reference) of those with children,
        and whether some were left out (past `limit`, or past the budget)."""
        entries: list[dict[str, Any]] = []
        expandable: list[tuple[dict[str, Any], int]] = []
        shown = [v for v in items if isinstance(v, dict) and not _is_group(v)]
        left_out = limit is not None and len(shown) > limit
        for item in shown[:limit]:
            entry, ref = self.variable(item)
            if entry is None:
                return entries, expandable, True
            entries.append(entry)
            if ref:
                expandable.append((entry, ref))
        if left_out:
            self.data["truncated"] = True
        return entries, expandable, left_out


def _is_group(item: dict[str, Any]) -> bool:
    return str(item.get("name")) in _GROUPS and not item.get("type")


def _known_children(item: dict[str, Any]) -> int | None:
    counts = [item.get(k) for k in ("indexedVariables", "namedVariables")]
    known = [c for c in counts if isinstance(c, int) and c >= 0]
    return sum(known) if known else None


class Snapshots:
    """Takes, publishes and keeps a snapshot of every stop of one session."""

    def __init__(self, state: SessionState, upstream: Upstream, stops: StopTracker,
                 log_: SnapshotLog, limits: SnapshotLimits, *, enabled: bool,
                 watches: Sequence[str], request_timeout: float, spawn: Spawn) -> None:
        self.state = state
        self.upstream = upstream
        self.stops = stops
        self.log = log_
        self.limits = limits
        self.enabled = enabled
        self.watches: tuple[str, ...] = tuple(watches)
        self.request_timeout = request_timeout
        self.spawn = spawn  # runs a task the session keeps
        self._current: _Snapshot | None = None
        if enabled:
            stops.levels = max(stops.levels, limits.frames)  # one stackTrace for both
        self._finished: list[dict[str, Any]] = []  # to publish and store (`_finish`)
        stops.on_announce = self.on_announced
        upstream.on_resume = self._resuming

    def set_watches(self, value: Any) -> tuple[str, ...]:
        """Replace the watch expressions (from the next stop on); LaunchSpecError (400)
        naming a bad one."""
        self.watches = parse_watches(value, reason="bad-argument")
        return self.watches

    # -- told by the session -------------------------------------------------------

    def on_stopped(self, body: dict[str, Any]) -> None:
        """A `stopped` event: the previous stop's snapshot is finished; this one waits
        for its announcement."""
        self.interrupt()
        if self.enabled:
            self._current = _Snapshot(self.log.next_seq(), body, self.limits)

    def on_announced(self, stopped: dict[str, Any],
                     frames: list[dict[str, Any]] | None) -> None:
        """The stop's state was published: ask the debugger (frames: the ones fetched
        for its location, None if none were)."""
        snapshot = self._current
        if snapshot is None or snapshot.done or snapshot.announced:
            return
        snapshot.announced = True
        snapshot.generation = self.state.stop_generation
        self.spawn(self._take(snapshot, frames))

    def interrupt(self) -> None:
        """The program runs on, or the session ends: keep what the snapshot has."""
        snapshot, self._current = self._current, None
        if snapshot is not None:
            self._finish(snapshot, complete=False)

    def _resuming(self) -> None:
        """A client's or a route's request is about to run the program on: nothing more
        is asked from now, and the snapshot is published and stored once the request is
        on its way (not ahead of it: this is on the path of every step). Whatever the
        program does next comes in a later step of the loop, after it."""
        snapshot, self._current = self._current, None
        if snapshot is not None:
            self._finish(snapshot, complete=False, later=True)

    async def flush(self) -> None:
        """Wait until every finished snapshot is in the store."""
        self._publish()
        await self.log.flush()

    # -- taking one ------------------------------------------------------------------

    def _finish(self, snapshot: _Snapshot, complete: bool, *, later: bool = False) -> None:
        if snapshot.done:
            return
        snapshot.done = True
        snapshot.data["complete"] = complete
        if not snapshot.interrupted.done():
            snapshot.interrupted.set_result(None)
        if self._current is snapshot:
            self._current = None
        self._finished.append(snapshot.data)
        if not later:
            self._publish()
        elif len(self._finished) == 1:
            asyncio.get_running_loop().call_soon(self._publish)

    def _publish(self) -> None:
        """Publish and store the finished snapshots, in order."""
        finished, self._finished = self._finished, []
        for data in finished:
            self.log.add(data)

    async def _take(self, snapshot: _Snapshot, frames: list[dict[str, Any]] | None) -> None:
        try:
            if self.upstream.mux.clients:
                await self._after_clients(snapshot)
            await self._gather(snapshot, frames)
        except Interrupted:
            # Finished (incomplete) by whoever interrupted it; or the channel closed.
            self._finish(snapshot, complete=False)
            return
        except Exception:
            # A bug of ours: the snapshot keeps what it had, the session goes on.
            log.exception("session %s: snapshot %s failed", self.state.id,
                          snapshot.data["seq"])
            self._finish(snapshot, complete=False)
            return
        self._finish(snapshot, complete=snapshot.answered)

    @staticmethod
    async def _after_clients(snapshot: _Snapshot) -> None:
        """Let tunnel clients ask about the stop first (CLIENT_GRACE says why); raises
        Interrupted if one runs the program on meanwhile."""
        await asyncio.wait({snapshot.interrupted}, timeout=CLIENT_GRACE)
        if snapshot.done:
            raise Interrupted

    async def _gather(self, snapshot: _Snapshot, frames: list[dict[str, Any]] | None) -> None:
        data = snapshot.data
        if frames is None:
            frames = await self._frames(snapshot)
        for frame in frames[:self.limits.frames]:
            shown = {"function": snapshot.cut(frame.get("name"))[0],
                     "path": snapshot.cut((frame.get("source") or {}).get("path"))[0],
                     "line": frame.get("line")}
            if not snapshot.fits(shown["function"], shown["path"]):
                break
            data["frames"].append(shown)
        top = frames[0].get("id") if frames else None
        watches = self.watches
        asked: list[Request] = [("scopes", {"frameId": top})] if top is not None else []
        where = {"frameId": top} if top is not None else {}
        asked += [("evaluate", {"expression": w, "context": "watch", **where})
                  for w in watches]
        answers = await self._ask(snapshot, asked)
        scopes = answers.pop(0) if top is not None else {}
        for expression, answer in zip(watches, answers, strict=True):
            data["watches"].append(self._watch(snapshot, expression, answer))
        await self._variables(snapshot, scopes)

    async def _frames(self, snapshot: _Snapshot) -> list[dict[str, Any]]:
        thread = snapshot.data["thread_id"]
        if thread is None:
            return []
        (answer,) = await self._ask(snapshot, [("stackTrace", {
            "threadId": thread, "startFrame": 0, "levels": self.limits.frames})])
        frames = list(answer.get("stackFrames") or []) if isinstance(answer, dict) else []
        # The location too, if nobody asked yet (tunnel clients and no event stream).
        self.stops.offer_frames(snapshot.generation, frames)
        return frames

    async def _variables(self, snapshot: _Snapshot, scopes: Any) -> None:
        items = (scopes.get("scopes") or []) if isinstance(scopes, dict) else []
        wanted = [s for s in items if isinstance(s, dict) and not s.get("expensive")
                  and s.get("presentationHint") != "registers"
                  and isinstance(s.get("variablesReference"), int)
                  and s["variablesReference"] > 0]
        if not wanted or snapshot.full:
            return
        answers = await self._ask(snapshot, [
            ("variables", {"variablesReference": s["variablesReference"]}) for s in wanted])
        expandable: list[tuple[dict[str, Any], int, dict[str, Any]]] = []
        for scope, answer in zip(wanted, answers, strict=True):
            if not isinstance(answer, dict) or snapshot.full:
                continue
            raw = [v for v in answer.get("variables") or [] if isinstance(v, dict)]
            entries, open_, _ = snapshot.variables(raw)
            by_ref = {v.get("variablesReference"): v for v in raw}
            snapshot.data["variables"].append({"scope": str(scope.get("name")),
                                               "variables": entries})
            expandable += [(e, ref, by_ref.get(ref) or {}) for e, ref in open_]
        if self.limits.children and not snapshot.full:
            await self._children(snapshot, expandable[:MAX_EXPANDED])

    async def _children(self, snapshot: _Snapshot,
                        expandable: list[tuple[dict[str, Any], int, dict[str, Any]]]) -> None:
        limit = self.limits.children
        # One more than kept: a debugger that pages (gdb, lldb) then shows there are more.
        answers = await self._ask(snapshot, [
            ("variables", {"variablesReference": ref, "start": 0, "count": limit + 1})
            for _, ref, _ in expandable])
        for (entry, _, item), answer in zip(expandable, answers, strict=True):
            if snapshot.full:
                return
            if not isinstance(answer, dict):
                continue
            children, _, left_out = snapshot.variables(answer.get("variables") or [], limit)
            entry["children"] = children
            known = _known_children(item)
            if left_out or (known is not None and known > len(children)):
                entry["truncated"] = True
                snapshot.data["truncated"] = True

    def _watch(self, snapshot: _Snapshot, expression: str, answer: Any) -> dict[str, Any]:
        shown: dict[str, Any] = {"expression": expression}
        if isinstance(answer, DapRequestError):
            shown["error"] = snapshot.cut(_sentence(answer.message))[0]
        elif isinstance(answer, BaseException):
            shown["error"] = f"no answer from the debugger: {type(answer).__name__}"
        else:
            body = answer if isinstance(answer, dict) else {}
            shown["value"], cut = snapshot.cut(body.get("result", ""))
            if body.get("type"):
                shown["type"] = snapshot.cut(body["type"])[0]
            if cut:
                shown["truncated"] = True
        if not snapshot.fits(expression, shown.get("value"), shown.get("error")):
            shown = {"expression": expression, "error": "left out: the snapshot reached "
                     "its size limit (c.DebugServerApp.snapshot_max_chars)"}
        return shown

    async def _ask(self, snapshot: _Snapshot, requests: list[Request]) -> list[Any]:
        """Send `requests` a batch at a time; each answer is a response body or the
        exception it raised. Raises Interrupted once the program is to run on."""
        answers: list[Any] = []
        for start in range(0, len(requests), BATCH):
            channel = self.upstream.channel
            if snapshot.done or channel is None or channel.is_closed:
                raise Interrupted
            batch = asyncio.gather(*(
                channel.request(command, arguments, timeout=self.request_timeout)
                for command, arguments in requests[start:start + BATCH]),
                return_exceptions=True)
            waits: set[asyncio.Future[Any]] = {batch, snapshot.interrupted}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if snapshot.done or not batch.done():
                # Finished meanwhile: it is published and queued for the store, and must
                # not change any more. (Answers still to come are dropped: gather keeps
                # their errors.)
                raise Interrupted
            results = batch.result()
            if any(isinstance(r, BaseException) and not isinstance(r, DapRequestError)
                   for r in results):
                snapshot.answered = False  # a timeout, or the channel closed
            answers += results
        return answers


def _sentence(message: str) -> str:
    """A debugger's refusal as one line: a Python traceback's exception line, or the
    first line of a compiler's diagnostic (lldb's carets follow it)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "the debugger refused it without saying why"
    if lines[0].startswith("Traceback (most recent call last)"):
        return lines[-1]
    return lines[0]
