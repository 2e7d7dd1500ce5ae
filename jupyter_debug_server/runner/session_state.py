"""The state of a debug session: its fields, their persistence and publication, and
where the target stopped.

Owned by the server's event loop. State changes are persisted through the store (off
the loop) and published to subscribers and wait_for() callers. `Session` (session.py)
builds on this class with the worker process (session_worker.py) and the debugger
requests of the REST routes (session_requests.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from ..dap import ChannelClosed, DapChannel, DapMux, DapRequestError, DapTimeout, MuxClient
from ..store import iso_time
from .launch_spec import LaunchSpec
from .output import OutputLog

if TYPE_CHECKING:
    from typing import Self

    from ..store import Store
    from .config import RunnerConfig

# One logger for the whole session, as before its parts were split into modules.
log = logging.getLogger("jupyter_debug_server.runner.session")

Message = dict[str, Any]
Listener = Callable[[Message], None]

#: The REST routes (and the launch spec's breakpoints) are one client of the mux's
#: breakpoint book: the session's own. Its breakpoints stay when DAP clients come and go.
REST_OWNER = "rest"

ACTIVE_STATES = frozenset({"starting", "running", "stopped"})
_STEPPING_FIELDS = frozenset({"state", "stopped", "updated"})
FINAL_STATES = frozenset({"exited", "terminated", "failed", "lost"})


class SessionState:
    """A debug session's state; `Session` adds its worker and requests."""

    def __init__(self, session_id: str, spec: LaunchSpec, owner: str, *, store: Store,
                 config: RunnerConfig, blocking: Executor) -> None:
        self.id = session_id
        self.spec = spec
        self.owner = owner
        self.store = store
        self.config = config
        self.blocking = blocking  # the manager's executor for /proc reads and the like
        self.state = "starting"
        self._updated_at = time.time()
        self.created = iso_time(self._updated_at)
        self.pid: int | None = None
        self.pid_start_time: float | None = None
        self.exit_code: int | None = None
        self.stopped: dict[str, Any] | None = None
        self.error: str | None = None
        self.capabilities: dict[str, Any] = {}
        self.breakpoints: dict[str, list[dict[str, Any]]] = {}
        self.clients = 0
        self.output = OutputLog(session_id, store, config.output_retention_chars,
                                pressure=self._output_pressure)
        self.channel: DapChannel | None = None
        # Tunnel clients share the channel through the mux; REST requests use it directly.
        self.mux = DapMux(session_id, capabilities=lambda: self.capabilities,
                          on_response=self._on_client_response, on_end=self._on_client_end)
        # Set by the manager: end the session for a DAP client, `(user, who)` with `who`
        # the client's name, role and token id for the audit record and the event.
        self.end_for_client: Callable[[str | None, dict[str, Any]], Awaitable[Any]] | None = None
        self.worker: asyncio.subprocess.Process | None = None
        self._listeners: set[Listener] = set()  # event streams: they show every stop's place
        self._end_hooks: list[Callable[[Self], None]] = []
        # Futures of wait_for() callers, resolved on every state change.
        self._waiters: set[asyncio.Future[None]] = set()
        self._event_count = 0  # stops and resumes seen: a late location fetch is stale
        self._stop_generation = 0
        self._generation_seq = itertools.count(1)
        self._terminating = False
        # Process groups the worker started besides the target's: [(pid, start time)].
        self.process_groups: list[tuple[int, float]] = []
        # Why the debugger ended the session on its own (the worker's private event).
        self.debugger_error: str | None = None
        self._ended = asyncio.get_running_loop().create_future()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._worker_stderr = ""
        self._dirty: dict[str, Any] = {}
        # The stop whose location has been asked for (found or not): asked once per stop.
        self._located: dict[str, Any] | None = None
        self._writing: asyncio.Future[None] | None = None

    if TYPE_CHECKING:
        def _on_client_response(self, request: Message, response: Message) -> None:
            """Learn from a tunnel client's answer (defined by `Session`)."""

        def _on_client_end(self, client: MuxClient, command: str) -> None:
            """A control client ended the session (defined by `Session`)."""

    # -- the model -------------------------------------------------------------

    def model(self, base_url: str | None = None) -> dict[str, Any]:
        """The session model of the REST API."""
        base = self.config.base_url if base_url is None else base_url
        root = f"{base.rstrip('/')}/api/debug/sessions/{self.id}"
        return {
            "id": self.id,
            "name": self.spec.name,
            "debugger": self.spec.debugger,
            "request": self.spec.request,
            "state": self.state,
            "pid": self.pid,
            "exit_code": self.exit_code,
            "created": self.created,
            "updated": self.updated,
            "owner": self.owner,
            "stopped": self.stopped,
            "error": self.error,
            "clients": self.clients,
            "spec": self.spec.public(),
            "links": {name: f"{root}{suffix}" for name, suffix in (
                ("self", ""), ("dap", "/dap"), ("events", "/events"), ("output", "/output"),
                ("stack", "/stack"), ("variables", "/variables"), ("evaluate", "/evaluate"),
                ("breakpoints", "/breakpoints"), ("continue", "/continue"),
                ("pause", "/pause"), ("step", "/step"),
            )},
        }

    def record(self) -> dict[str, Any]:
        """The row stored for this session."""
        return {
            "id": self.id, "name": self.spec.name, "debugger": self.spec.debugger,
            "request": self.spec.request, "state": self.state, "owner": self.owner,
            "spec": self.spec.public(), "created": self.created, "updated": self.updated,
        }

    @property
    def active(self) -> bool:
        """Whether the session has not ended yet."""
        return self.state in ACTIVE_STATES

    def when_ended(self, hook: Callable[[Self], None]) -> Callable[[], None]:
        """Call `hook` once the session reaches a final state (after its subscribers);
        returns the function that cancels it."""
        self._end_hooks.append(hook)
        return lambda: self._end_hooks.remove(hook) if hook in self._end_hooks else None

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every session event; returns the unsubscribe function."""
        self._listeners.add(listener)
        if self._location_missing():
            self._spawn(self.ensure_location())  # event clients show where it stopped
        return lambda: self._listeners.discard(listener)

    def _publish(self, event: Message) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("session %s: event listener failed", self.id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _set(self, **fields: Any) -> None:
        """Change state fields, persist them, tell subscribers and waiters."""
        if self._apply(fields):
            await self._persist(fields)

    def _apply(self: Self, fields: dict[str, Any]) -> bool:
        """Change state fields and tell subscribers and waiters; whether to persist them.

        Running and stopped flip twice per step and live only in this server (after a
        restart an active session is `lost` whichever it was): they are not written, which
        keeps the store thread (and its GIL) off the stepping path, and need no task.
        """
        for key, value in fields.items():
            setattr(self, key, value)
        stepping = set(fields) <= _STEPPING_FIELDS and fields.get("state") in (
            "running", "stopped")
        self._updated_at = time.time()
        if not stepping:
            fields["updated"] = self.updated
        if "stopped" in fields and fields["stopped"] is not None:
            self._stop_generation = next(self._generation_seq)
        if self._listeners:
            self._publish({"type": "state", "session": self.model()})
        if self.state in FINAL_STATES:
            hooks, self._end_hooks = self._end_hooks, []
            for hook in hooks:
                hook(self)
        self._notify()
        return not stepping

    @property
    def updated(self) -> str:
        """When the state last changed (ISO 8601, UTC), formatted only when asked."""
        return iso_time(self._updated_at)

    async def _persist(self, fields: dict[str, Any]) -> None:
        """Write changed fields; while a write is under way, later changes coalesce.

        Stepping flips running/stopped twice per step: coalescing keeps the store
        thread (and its GIL hold) off the stepping path. Returns once `fields`
        (and everything changed before them) is on disk.
        """
        self._dirty.update(fields)
        while self._dirty:
            if self._writing is not None and not self._writing.done():
                # (A done future would not yield: checking done() avoids a busy loop.)
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._writing)
                continue
            batch, self._dirty = self._dirty, {}
            writing = self._writing = asyncio.ensure_future(
                self.store.update_session(self.id, **batch))
            try:
                await asyncio.shield(writing)
            except Exception:
                log.exception("session %s: could not persist %s", self.id, sorted(batch))
            finally:
                if self._writing is writing:
                    self._writing = None

    def _output_pressure(self, high: bool) -> None:
        """The store is behind: stop (or resume) reading the worker, so memory stays bounded."""
        if self.channel is not None:
            if high:
                self.channel.pause_reading()
            else:
                self.channel.resume_reading()

    # -- waiting for a state ---------------------------------------------------

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds (re-checked on every state change)."""
        async def waiter() -> None:
            while not predicate():
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.add(waiter)
                try:
                    await waiter
                finally:
                    self._waiters.discard(waiter)
        try:
            await asyncio.wait_for(waiter(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def _notify(self) -> None:
        """Wake every wait_for() caller to re-check its predicate."""
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- breakpoints -------------------------------------------------------------

    async def _set_own_breakpoints(self, path: str, breakpoints: list[dict[str, Any]]
                                   ) -> dict[str, Any]:
        """Replace the session's own breakpoints of one source (REST, the launch spec):
        the debugger gets them with every DAP client's (dap/breakpoints.py). Returns the
        response body; DapRequestError, DapTimeout or ChannelClosed as a request does."""
        body = await self._own_request("setBreakpoints", {"source": {"path": path},
                                                          "breakpoints": breakpoints})
        self.breakpoints[path] = describe_breakpoints(breakpoints, body.get("breakpoints", []))
        if not breakpoints:
            self.breakpoints.pop(path, None)
        return body

    async def _own_request(self, command: str, arguments: Message) -> dict[str, Any]:
        """setBreakpoints or setFunctionBreakpoints of the session's own, through the
        mux's breakpoint book; the response body."""
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

        def done(response: Message) -> None:
            if not future.done():
                future.set_result(response)

        if not self.mux.set_breakpoints(REST_OWNER, arguments, done, command):
            raise ChannelClosed(f"session {self.id} has no debugger to talk to")
        timeout = self.config.request_timeout
        try:
            response = await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            raise DapTimeout(command, timeout) from None
        if response.get("closed"):
            raise ChannelClosed(f"session {self.id} ended during {command}")
        if not response.get("success"):
            raise DapRequestError(command, str(response.get("message") or
                                               f"{command} failed"), response)
        return dict(response.get("body") or {})

    # -- where it stopped ------------------------------------------------------

    def _on_stopped(self, body: dict[str, Any]) -> None:
        self._event_count += 1
        stopped: dict[str, Any] = {
            "thread_id": body.get("threadId"), "reason": body.get("reason"),
            "description": body.get("description"), "text": body.get("text"),
            # (the session's own, in the ids its breakpoints route shows)
            "hit_breakpoint_ids": self.mux.hits_of(REST_OWNER) or None,
            "path": None, "line": None, "name": None, "frame_id": None,
        }
        # REST and event clients are shown where it stopped with the stop itself. Tunnel
        # clients ask for the stack on their own: a request of ours would queue in the
        # debugger ahead of their next step, so the location is then learnt from their
        # answer, or fetched when a route needs it (ensure_location).
        if self._listeners or not self.mux.clients:
            self._spawn(self._locate_then_stop(stopped))
        elif self.active:
            self._apply({"state": "stopped", "stopped": stopped})

    async def _locate_then_stop(self, stopped: dict[str, Any]) -> None:
        seen = self._event_count
        frames = await self._top_frames(stopped["thread_id"])
        if seen != self._event_count or not self.active:
            return  # it ran (or stopped) again meanwhile: this stop is history
        self._locate(stopped, frames)
        self._located = stopped
        self._apply({"state": "stopped", "stopped": stopped})

    async def _top_frames(self, thread_id: Any) -> list[dict[str, Any]]:
        if thread_id is None or self.channel is None:
            return []
        try:
            return list((await self.channel.request(
                "stackTrace", {"threadId": thread_id, "startFrame": 0, "levels": 1},
                timeout=self.config.request_timeout,
            )).get("stackFrames", []))
        except (DapRequestError, ChannelClosed):
            return []
        except DapTimeout as exc:
            log.warning("session %s: %s; the stop's location stays unknown", self.id, exc)
            return []

    def _locate(self, stopped: dict[str, Any], frames: list[dict[str, Any]]) -> None:
        """Fill a stop's location from the top of its thread's stack."""
        if frames:
            top = frames[0]
            stopped.update(path=(top.get("source") or {}).get("path"), line=top.get("line"),
                           name=top.get("name"), frame_id=top.get("id"))

    def _location_missing(self) -> bool:
        return (self.state == "stopped" and self.stopped is not None
                and self.stopped is not self._located
                and self.stopped.get("thread_id") is not None)

    async def ensure_location(self) -> None:
        """Learn where the current stop is, if nobody has asked the debugger yet."""
        if not self._location_missing():
            return
        generation = self._stop_generation
        frames = await self._top_frames(self.stopped["thread_id"] if self.stopped else None)
        if generation == self._stop_generation and self._location_missing():
            self._fill_location(frames)

    def _fill_location(self, frames: list[dict[str, Any]]) -> None:
        """Complete the current stop's location (the same stop: no new generation)."""
        assert self.stopped is not None
        located = dict(self.stopped)
        self._locate(located, frames)
        self.stopped = self._located = located
        if self._listeners:
            self._publish({"type": "state", "session": self.model()})
        self._notify()  # (not persisted: see _apply on stepping fields)


def describe_breakpoints(requested: list[dict[str, Any]],
                         answered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair one file's requested breakpoints with the debugger's answers, as the
    breakpoints route shows them."""
    out = []
    for i, req in enumerate(requested):
        ans = answered[i] if i < len(answered) else {}
        out.append({
            "line": ans.get("line", req.get("line")),
            "requested_line": req.get("line"),
            "verified": bool(ans.get("verified")),
            "message": ans.get("message"),
            "id": ans.get("id"),
            "condition": req.get("condition"),
            "hit_condition": req.get("hitCondition"),
            "log_message": req.get("logMessage"),
        })
    return out
