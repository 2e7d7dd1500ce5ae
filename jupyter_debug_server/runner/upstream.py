"""The session's end of its worker's DAP channel: the channel, the mux that shares it
with tunnel clients, the debugger's capabilities and the session's own breakpoints.

Owned by the server's event loop. Held by `Session` (session.py); it holds no
session state, so the REST requests (debugger_requests.py) and the stop tracking
(stops.py) reach the debugger through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..dap import ChannelClosed, DapChannel, DapMux, DapRequestError, DapTimeout, MuxClient
from ..dap.breakpoints import SESSION_OWNER
from ..dap.messages import Message
from .breakpoints import describe_breakpoints

#: The REST routes (and the launch spec's breakpoints) are one client of the mux's
#: breakpoint book: the session's own. Its breakpoints stay when DAP clients come and go.
REST_OWNER = SESSION_OWNER


class Upstream:
    """One session's DAP connection to its worker, shared through a mux."""

    def __init__(self, session_id: str, *, request_timeout: float,
                 on_response: Callable[[Message, Message], None],
                 on_end: Callable[[MuxClient, str], None]) -> None:
        self.session_id = session_id
        self.request_timeout = request_timeout
        self.channel: DapChannel | None = None  # set once the worker runs
        self.capabilities: dict[str, Any] = {}
        # The session's own breakpoints per source, as the breakpoints route shows them.
        self.breakpoints: dict[str, list[dict[str, Any]]] = {}
        # Told (synchronously) when a client asks the program to run on: a tunnel
        # client's continue or step (through the mux) or a REST route's; the session's
        # snapshot of the stop stops asking the debugger (snapshots.py).
        self.on_resume: Callable[[], None] = lambda: None
        # Tunnel clients share the channel through the mux; REST requests use it directly.
        self.mux = DapMux(session_id, capabilities=lambda: self.capabilities,
                          on_response=on_response, on_end=on_end,
                          on_resume=self._resumes)

    def _resumes(self) -> None:
        self.on_resume()  # (looked up now: the session sets it after the mux is built)

    def attach(self, channel: DapChannel) -> None:
        """Talk to the debugger over `channel` (the worker's, once it started)."""
        self.channel = channel
        self.mux.upstream = channel

    @property
    def usable(self) -> bool:
        """Whether there is an open channel to the debugger."""
        return self.channel is not None and not self.channel.is_closed

    def close(self, why: str) -> None:
        """Close the channel (idempotent): pending requests fail with ChannelClosed."""
        if self.channel is not None:
            self.channel.close(why)

    def output_pressure(self, high: bool) -> None:
        """The store is behind: stop (or resume) reading the worker, so memory stays bounded."""
        if self.channel is not None:
            if high:
                self.channel.pause_reading()
            else:
                self.channel.resume_reading()

    async def top_frames(self, thread_id: Any, levels: int = 1) -> list[dict[str, Any]]:
        """The top `levels` frames of a thread's stack ([] if there is none to ask for);
        raises DapTimeout when the debugger does not answer in time."""
        if thread_id is None or self.channel is None:
            return []
        try:
            return list((await self.channel.request(
                "stackTrace", {"threadId": thread_id, "startFrame": 0, "levels": levels},
                timeout=self.request_timeout,
            )).get("stackFrames", []))
        except (DapRequestError, ChannelClosed):
            return []

    # -- the session's own breakpoints -------------------------------------------

    async def set_own_breakpoints(self, path: str, breakpoints: list[dict[str, Any]]
                                  ) -> dict[str, Any]:
        """Replace the session's own breakpoints of one source (REST, the launch spec):
        the debugger gets them with every DAP client's (dap/breakpoints.py). Returns the
        response body; DapRequestError, DapTimeout or ChannelClosed as a request does."""
        body = await self.own_request("setBreakpoints", {"source": {"path": path},
                                                         "breakpoints": breakpoints})
        self.breakpoints[path] = describe_breakpoints(breakpoints, body.get("breakpoints", []))
        if not breakpoints:
            self.breakpoints.pop(path, None)
        return body

    async def own_request(self, command: str, arguments: Message) -> dict[str, Any]:
        """setBreakpoints or setFunctionBreakpoints of the session's own, through the
        mux's breakpoint book; the response body."""
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

        def done(response: Message) -> None:
            if not future.done():
                future.set_result(response)

        if not self.mux.set_breakpoints(REST_OWNER, arguments, done, command):
            raise ChannelClosed(f"session {self.session_id} has no debugger to talk to")
        try:
            response = await asyncio.wait_for(asyncio.shield(future), self.request_timeout)
        except asyncio.TimeoutError:
            raise DapTimeout(command, self.request_timeout) from None
        if response.get("closed"):
            raise ChannelClosed(f"session {self.session_id} ended during {command}")
        if not response.get("success"):
            raise DapRequestError(command, str(response.get("message") or
                                               f"{command} failed"), response)
        return dict(response.get("body") or {})

    def own_hits(self) -> list[int] | None:
        """The current stop's hitBreakpointIds that are the session's own (its ids)."""
        return self.mux.hits_of(REST_OWNER) or None
