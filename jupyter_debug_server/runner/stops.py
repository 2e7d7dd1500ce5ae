"""Where a session's target stopped: the `stopped` field of its state, and when to ask
the debugger for the location.

Owned by the server's event loop. Held by `Session` (session.py), which feeds it the
debugger's `stopped` and `continued` events and its tunnel clients' stack answers.
REST and event clients are shown where it stopped with the stop itself. Tunnel clients
ask for the stack on their own: a request of ours would queue in the debugger ahead of
their next step, so the location is then learnt from their answer, or fetched when a
route needs it (`ensure_location`), or offered by the stop's snapshot (whose requests go
in small batches and stop once a client resumes: snapshots.py).

Once a stop is announced (its `stopped` state applied), `on_announce(stopped, frames)`
is called: the session's snapshot of the stop (snapshots.py) starts from there, with the
frames fetched for the location (`levels` of them), or None when none were.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ..dap import DapTimeout
from ..dap.messages import Message
from .state import SessionState
from .upstream import Upstream

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None]], None]
Announce = Callable[[dict[str, Any], "list[dict[str, Any]] | None"], None]


class StopTracker:
    """Learns and publishes the location of each stop of one session."""

    def __init__(self, state: SessionState, upstream: Upstream, spawn: Spawn) -> None:
        self.state = state
        self.upstream = upstream
        self.spawn = spawn  # runs a task the session keeps (and awaits nothing of)
        self.event_count = 0  # stops and resumes seen: a late location fetch is stale
        # The stop whose location has been asked for (found or not): asked once per stop.
        self._located: dict[str, Any] | None = None
        self.levels = 1  # frames asked for a stop's location (a snapshot wants more)
        self.on_announce: Announce = lambda stopped, frames: None

    def on_stopped(self, body: Message) -> None:
        """The debugger's `stopped` event (after tunnel clients got it)."""
        self.event_count += 1
        stopped: dict[str, Any] = {
            "thread_id": body.get("threadId"), "reason": body.get("reason"),
            "description": body.get("description"), "text": body.get("text"),
            # (the session's own, in the ids its breakpoints route shows)
            "hit_breakpoint_ids": self.upstream.own_hits(),
            "path": None, "line": None, "name": None, "frame_id": None,
        }
        if self.state.listeners or not self.upstream.mux.clients:
            self.spawn(self._locate_then_stop(stopped))
        elif self.state.active:
            self.state.apply({"state": "stopped", "stopped": stopped})
            self.on_announce(stopped, None)

    def on_continued(self) -> None:
        """The debugger's `continued` event: the program runs again."""
        self.event_count += 1
        if self.state.active:
            self.state.apply({"state": "running", "stopped": None})

    async def _locate_then_stop(self, stopped: dict[str, Any]) -> None:
        seen = self.event_count
        frames = await self._top_frames(stopped["thread_id"], self.levels)
        if seen != self.event_count or not self.state.active:
            return  # it ran (or stopped) again meanwhile: this stop is history
        _locate(stopped, frames)
        self._located = stopped
        self.state.apply({"state": "stopped", "stopped": stopped})
        self.on_announce(stopped, frames)

    async def _top_frames(self, thread_id: Any, levels: int = 1) -> list[dict[str, Any]]:
        try:
            return await self.upstream.top_frames(thread_id, levels)
        except DapTimeout as exc:
            log.warning("session %s: %s; the stop's location stays unknown",
                        self.state.id, exc)
            return []

    def location_missing(self) -> bool:
        """Whether the current stop's location has not been asked for yet."""
        stopped = self.state.stopped
        return (self.state.state == "stopped" and stopped is not None
                and stopped is not self._located and stopped.get("thread_id") is not None)

    async def ensure_location(self) -> None:
        """Learn where the current stop is, if nobody has asked the debugger yet."""
        if not self.location_missing():
            return
        generation = self.state.stop_generation
        stopped = self.state.stopped
        frames = await self._top_frames(stopped["thread_id"] if stopped else None)
        if generation == self.state.stop_generation and self.location_missing():
            self._fill_location(frames)

    def on_client_stack(self, arguments: Message, response: Message) -> None:
        """A tunnel client's successful stackTrace: the stop's location, if it is the
        stopped thread's top."""
        stopped = self.state.stopped
        if (self.location_missing() and stopped is not None
                and arguments.get("threadId") == stopped["thread_id"]
                and not arguments.get("startFrame")):
            self._fill_location((response.get("body") or {}).get("stackFrames") or [])

    def offer_frames(self, generation: int, frames: list[dict[str, Any]]) -> None:
        """Frames a snapshot of stop `generation` fetched: the location, if still missing."""
        if frames and generation == self.state.stop_generation and self.location_missing():
            self._fill_location(frames)

    def _fill_location(self, frames: list[dict[str, Any]]) -> None:
        """Complete the current stop's location (the same stop: no new generation)."""
        assert self.state.stopped is not None
        located = dict(self.state.stopped)
        _locate(located, frames)
        self.state.stopped = self._located = located
        self.state.publish_model()
        self.state.notify()  # (not persisted: see SessionState.apply on stepping fields)


def _locate(stopped: dict[str, Any], frames: list[dict[str, Any]]) -> None:
    """Fill a stop's location from the top of its thread's stack."""
    if frames:
        top = frames[0]
        stopped.update(path=(top.get("source") or {}).get("path"), line=top.get("line"),
                       name=top.get("name"), frame_id=top.get("id"))
