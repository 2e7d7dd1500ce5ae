"""The state of a debug session: its fields, their persistence and their publication.

Owned by the server's event loop. A `SessionState` is held by its `Session`
(session.py), never inherited: it knows nothing of the worker, the channel or the
debugger. Changes are persisted through the store (off the loop) and published to
subscribers and to wait_for() callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..dap.messages import Message
from ..store import iso_time

if TYPE_CHECKING:
    from ..store import Store
    from .launch_spec import LaunchSpec

log = logging.getLogger(__name__)

Listener = Callable[[Message], None]

ACTIVE_STATES = frozenset({"starting", "running", "stopped"})
FINAL_STATES = frozenset({"exited", "terminated", "failed", "lost"})
_STEPPING_FIELDS = frozenset({"state", "stopped", "updated"})
#: The routes of a session, as its model links them.
_LINKS = (("self", ""), ("dap", "/dap"), ("events", "/events"), ("output", "/output"),
          ("stack", "/stack"), ("variables", "/variables"), ("evaluate", "/evaluate"),
          ("breakpoints", "/breakpoints"), ("continue", "/continue"), ("pause", "/pause"),
          ("step", "/step"), ("snapshots", "/snapshots"), ("watches", "/watches"))


class SessionState:
    """A debug session's fields (`state`, `pid`, `stopped`, …), persisted and published."""

    def __init__(self, session_id: str, spec: LaunchSpec, owner: str, *, store: Store,
                 base_url: str) -> None:
        self.id = session_id
        self.spec = spec
        self.owner = owner
        self.store = store
        self.base_url = base_url
        self.state = "starting"
        self._updated_at = time.time()
        self.created = iso_time(self._updated_at)
        self.pid: int | None = None
        self.pid_start_time: float | None = None
        self.exit_code: int | None = None
        self.stopped: dict[str, Any] | None = None
        self.error: str | None = None
        self.clients = 0
        self.listeners: set[Listener] = set()  # event streams: they show every stop's place
        self._end_hooks: list[Callable[[], None]] = []
        # Futures of wait_for() callers, resolved on every state change.
        self._waiters: set[asyncio.Future[None]] = set()
        self.stop_generation = 0  # a new number for every new stop
        self._generation_seq = itertools.count(1)
        self._dirty: dict[str, Any] = {}
        self._writing: asyncio.Future[None] | None = None

    # -- the model -------------------------------------------------------------

    def model(self, base_url: str | None = None) -> dict[str, Any]:
        """The session model of the REST API."""
        base = self.base_url if base_url is None else base_url
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
            "links": {name: f"{root}{suffix}" for name, suffix in _LINKS},
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

    @property
    def updated(self) -> str:
        """When the state last changed (ISO 8601, UTC), formatted only when asked."""
        return iso_time(self._updated_at)

    # -- subscribers -------------------------------------------------------------

    def when_ended(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Call `hook` once the session reaches a final state (after its subscribers);
        returns the function that cancels it."""
        self._end_hooks.append(hook)
        return lambda: self._end_hooks.remove(hook) if hook in self._end_hooks else None

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every session event; returns the unsubscribe function."""
        self.listeners.add(listener)
        return lambda: self.listeners.discard(listener)

    def publish(self, event: Message) -> None:
        """Hand `event` to every subscriber (a failing one is logged, the others go on)."""
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                log.exception("session %s: event listener failed", self.id)

    def publish_model(self) -> None:
        """Tell subscribers the session's model changed (if anyone listens)."""
        if self.listeners:
            self.publish({"type": "state", "session": self.model()})

    # -- changing fields -----------------------------------------------------------

    async def set(self, **fields: Any) -> None:
        """Change state fields, persist them, tell subscribers and waiters."""
        if self.apply(fields):
            await self._persist(fields)

    def apply(self, fields: dict[str, Any]) -> bool:
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
            self.stop_generation = next(self._generation_seq)
        self.publish_model()
        if self.state in FINAL_STATES:
            hooks, self._end_hooks = self._end_hooks, []
            for hook in hooks:
                hook()
        self.notify()
        return not stepping

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

    def notify(self) -> None:
        """Wake every wait_for() caller to re-check its predicate."""
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
