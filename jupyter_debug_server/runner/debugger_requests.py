"""The debugger requests of a session's REST routes: continue, step, pause, stack,
variables, evaluate and breakpoints, each checked against the session's state first.

Owned by the server's event loop. Held by `Session` (session.py), which answers the
routes with it. Tunnel clients do not come through here: they share the DAP channel
through the session's mux.
"""

from __future__ import annotations

from typing import Any

from ..dap import ChannelClosed, DapChannel, DapRequestError, DapTimeout
from ..dap.breakpoints import requested_breakpoints
from ..dap.policy import RESUMING_COMMANDS
from .config import RunnerConfig
from .debuggers.native.checks import VALUE_FORM
from .errors import DapError, DebuggerTimeout, SessionStateError, without_traceback
from .state import SessionState
from .stops import StopTracker
from .upstream import Upstream

#: Most children of a reference in one answer (the REST route's `count` limit too).
MAX_PAGE = 10_000
_STEP_COMMANDS = {"over": "next", "in": "stepIn", "out": "stepOut", "continue": "continue"}


class DebuggerRequests:
    """The REST-facing debugger requests of one session."""

    def __init__(self, state: SessionState, upstream: Upstream, stops: StopTracker,
                 config: RunnerConfig) -> None:
        self.state = state
        self.upstream = upstream
        self.stops = stops
        self.config = config

    @property
    def id(self) -> str:
        """The session's id (for sentences)."""
        return self.state.id

    def _require_channel(self) -> DapChannel:
        channel = self.upstream.channel
        if channel is None or channel.is_closed or not self.state.active:
            raise SessionStateError(f"session {self.id} is {self.state.state}; it no longer "
                                    "accepts debugger requests")
        return channel

    async def dap(self, command: str, arguments: Any = None) -> Any:
        """Send one DAP request to the debugger and return its response body."""
        channel = self._require_channel()
        if command in RESUMING_COMMANDS:
            self.upstream.on_resume()  # the stop's snapshot asks nothing more from now
        try:
            if command == "setBreakpoints" and isinstance(
                    ((arguments or {}).get("source") or {}).get("path"), str):
                # The session's own breakpoints, kept with every DAP client's.
                return await self.upstream.set_own_breakpoints(
                    arguments["source"]["path"], requested_breakpoints(arguments))
            if command == "setFunctionBreakpoints" and isinstance(
                    (arguments or {}).get("breakpoints"), list):
                return await self.upstream.own_request(command, {"breakpoints": [
                    b for b in arguments["breakpoints"] if isinstance(b, dict)]})
            return await channel.request(command, arguments,
                                         timeout=self.config.request_timeout)
        except DapRequestError as exc:
            # (pydevd answers some failures with its own traceback: the client gets its
            # exception line.)
            raise DapError(f"the debugger refused '{command}': "
                           f"{without_traceback(exc.message)}") from None
        except DapTimeout as exc:
            raise self._timed_out(exc) from None
        except ChannelClosed:
            raise SessionStateError(
                f"session {self.id} ended while '{command}' was pending") from None

    def _timed_out(self, exc: DapTimeout) -> DebuggerTimeout:
        # The request is forgotten; the session goes on (a late answer is dropped).
        return DebuggerTimeout(
            f"the debugger of session {self.id} did not answer '{exc.command}' within "
            f"{exc.timeout:g} s (c.DebugServerApp.request_timeout); the request was "
            "abandoned and the session is still usable")

    def _require_stopped(self, what: str) -> dict[str, Any]:
        state, stopped = self.state.state, self.state.stopped
        if state != "stopped" or stopped is None:
            hint = "pause it first" if state == "running" else "it has ended"
            raise SessionStateError(
                f"cannot {what}: session {self.id} is {state}, not stopped; {hint}")
        return stopped

    async def resume(self, kind: str, thread_id: int | None = None,
                     timeout: float | None = None) -> dict[str, Any]:
        """Continue or step; return once the session stops again or ends (bounded)."""
        command = _STEP_COMMANDS[kind]
        stopped = self._require_stopped("continue" if kind == "continue" else f"step {kind}")
        thread = thread_id if thread_id is not None else stopped["thread_id"]
        generation = self.state.stop_generation
        mux = self.upstream.mux
        stop = mux.stopped
        await self.dap(command, {"threadId": thread})
        if stop is not None:
            # Not every debugger sends `continued` for a request; a newer stop stays.
            mux.forget_stop(stop)
        finished = await self._next_stop(
            generation, self.config.step_timeout if timeout is None else timeout)
        await self.stops.ensure_location()  # the route answers with the new location
        return {"completed": finished}

    async def pause(self, thread_id: int | None = None) -> dict[str, Any]:
        """Pause the target; return once it has stopped (bounded)."""
        if self.state.state == "stopped":
            return {"completed": True}
        self._require_channel()
        generation = self.state.stop_generation
        await self.dap("pause", {"threadId": thread_id if thread_id is not None else 0})
        finished = await self._next_stop(generation, self.config.step_timeout)
        await self.stops.ensure_location()
        return {"completed": finished}

    async def _next_stop(self, generation: int, timeout: float) -> bool:
        """Wait (bounded) for a stop newer than `generation`, or the end."""
        state = self.state
        return await state.wait_for(
            lambda: state.stop_generation != generation or not state.active, timeout)

    async def stack(self, thread_id: int | None, start: int, levels: int) -> dict[str, Any]:
        """The call stack of a thread (the stopped thread by default)."""
        stopped = self._require_stopped("read the stack")
        thread = thread_id if thread_id is not None else stopped["thread_id"]
        body = await self.dap("stackTrace", {"threadId": thread, "startFrame": start,
                                             "levels": levels})
        return {"thread_id": thread, "frames": body.get("stackFrames", []),
                "total": body.get("totalFrames")}

    async def variables(self, frame_id: int | None, reference: int | None, start: int,
                        count: int) -> dict[str, Any]:
        """Variables of one reference, or of every scope of a frame (top frame by default)."""
        self._require_stopped("read variables")
        if reference is not None:
            # "All" of a reference is a page of at most MAX_PAGE: a NumPy array or a C
            # array may have millions of items (a full page says more may follow).
            count = count or MAX_PAGE
            body = await self.dap("variables", {"variablesReference": reference,
                                                "start": start, "count": count})
            return _window(body.get("variables", []), start, count) | {"reference": reference}
        if frame_id is None:
            await self.stops.ensure_location()
        stopped = self._require_stopped("read variables")
        frame = frame_id if frame_id is not None else stopped["frame_id"]
        if frame is None:
            raise SessionStateError("the stopped thread has no frame to read variables from")
        scopes = (await self.dap("scopes", {"frameId": frame})).get("scopes", [])
        out = []
        for scope in scopes:
            ref = scope.get("variablesReference", 0)
            variables = (await self.dap("variables", {"variablesReference": ref})).get(
                "variables", []) if ref else []
            out.append({"name": scope.get("name"), "reference": ref,
                        "expensive": scope.get("expensive", False)}
                       | _page(variables, start, count))
        return {"frame_id": frame, "scopes": out}

    async def evaluate(self, expression: str, frame_id: int | None,
                       context: str) -> dict[str, Any]:
        """Evaluate an expression in a frame (the top frame of the stopped thread by default)."""
        # Evaluating while running would run in the debugger's own thread, not the program's.
        self._require_stopped("evaluate")
        args: dict[str, Any] = {"expression": expression, "context": context}
        if context == "repl":
            args[VALUE_FORM] = True  # scripts and agents read the value, as from a watch
        if frame_id is None:
            await self.stops.ensure_location()
        if frame_id is None and self.state.stopped is not None:
            frame_id = self.state.stopped.get("frame_id")
        if frame_id is not None:
            args["frameId"] = frame_id
        channel = self._require_channel()
        try:
            return dict(await channel.request("evaluate", args,
                                              timeout=self.config.request_timeout))
        except DapRequestError as exc:
            raise DapError(f"evaluating {expression!r} failed: {_last_line(exc.message)}",
                           reason="evaluation-failed") from None
        except DapTimeout as exc:
            raise self._timed_out(exc) from None
        except ChannelClosed:
            raise SessionStateError(f"session {self.id} ended during evaluate") from None

    async def set_breakpoints(self, path: str, breakpoints: list[dict[str, Any]]) -> list[
            dict[str, Any]]:
        """Replace the session's own breakpoints of one source file (DAP clients keep
        theirs: the debugger gets the union)."""
        await self.dap("setBreakpoints", {"source": {"path": path},
                                          "breakpoints": breakpoints})
        return self.upstream.breakpoints.get(path, [])


def _last_line(message: str) -> str:
    """The exception line of a Python traceback (the rest is the debugger's frames)."""
    lines = [line for line in message.strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("Traceback (most recent call last)"):
        return lines[-1].strip()
    return message.strip()


def _page(items: list[dict[str, Any]], start: int, count: int) -> dict[str, Any]:
    """One page of a scope's variables (asked for whole: a scope is never long)."""
    window = items[start:start + count] if count else items[start:]
    return {"variables": window, "start": start, "total": len(items)}


def _window(items: list[dict[str, Any]], start: int, count: int) -> dict[str, Any]:
    """The page of a reference's children the debugger answered `start`/`count` (> 0)
    with.

    Every worker pages (gdb and lldb-dap themselves, debugpy's worker for pydevd), so the
    answer is the page. A debugger that ignored paging answers more than `count`: paged
    here. `total` is known when the page reached the end; a full page may have more after
    it (null: the parent's `indexedVariables` and `namedVariables` say how many)."""
    if len(items) > count:
        return _page(items, start, count)
    ended = len(items) < count
    return {"variables": items, "start": start,
            "total": start + len(items) if ended and (items or not start) else None}
