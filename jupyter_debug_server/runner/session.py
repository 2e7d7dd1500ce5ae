"""One debug session on the server: its worker process, DAP channel and state.

Owned by the server's event loop. The session is the only upstream client of
its worker; REST routes and WebSockets go through it. State changes are
persisted through the store (off the loop) and published to subscribers.

`Session` is put together from its state (session_state.py), its worker process
(session_worker.py) and the debugger requests of the REST routes
(session_requests.py); here are the worker's DAP events, tunnel clients and the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

from ..dap import ChannelClosed, DapRequestError, MuxClient
from .processes import parent_pid, process_start_time
from .session_requests import DebuggerRequests
from .session_state import ACTIVE_STATES, FINAL_STATES, Message
from .session_worker import SECRET_ENV, WorkerProcess, worker_environment

__all__ = ["ACTIVE_STATES", "FINAL_STATES", "LIFECYCLE_COMMANDS", "SECRET_ENV", "Session",
           "new_session_id", "worker_environment"]

log = logging.getLogger(__name__)

# The session owns its lifecycle; these would break it if sent raw.
LIFECYCLE_COMMANDS = frozenset(
    {"initialize", "launch", "attach", "configurationDone", "disconnect", "terminate"})


def new_session_id() -> str:
    """A short random id that is safe in a URL path."""
    return uuid.uuid4().hex[:12]


class Session(WorkerProcess, DebuggerRequests):
    """A debug session and its worker."""

    # -- events from the worker ------------------------------------------------

    def _on_event(self, event: Message) -> None:
        name = event["event"]
        body = event.get("body") or {}
        if name == "jupyterDebugServer.target":
            self.pid = body.get("pid")
            self.pid_start_time = body.get("startTime")
            self._spawn(self.store.update_session(
                self.id, pid=self.pid, pid_start_time=self.pid_start_time))
            return  # private to the worker and us
        if name.startswith("jupyterDebugServer."):
            self._on_private_event(name, body)
            return
        # Tunnel clients first, before our own bookkeeping: they are stepping.
        self.mux.broadcast(event)
        if name == "output":
            self.output.append(str(body.get("category", "console")), str(body.get("output", "")))
        elif name == "initialized":
            self._on_initialized()
        elif name == "stopped":
            self._on_stopped(body)
        elif name == "continued":
            self._event_count += 1
            if self.active:
                self._apply({"state": "running", "stopped": None})
        elif name == "exited":
            self.exit_code = body.get("exitCode")
        elif name == "terminated":
            self._spawn(self._on_terminated())
        self._publish({"type": "dap", "event": event})

    def _on_private_event(self, name: str, body: Message) -> None:
        """The worker's own news: a process group it created, or why its debugger died."""
        if name == "jupyterDebugServer.processGroup":
            pid, started = body.get("pid"), body.get("startTime")
            if isinstance(pid, int) and pid > 1 and isinstance(started, (int, float)):
                self._spawn(self._adopt_group(pid, float(started)))
        elif name == "jupyterDebugServer.debuggerExited":
            self.debugger_error = str(body.get("message") or "the debugger exited")

    async def _adopt_group(self, pid: int, started: float) -> None:
        """Record a process group of the worker's, once /proc confirms it is the worker's
        child with that start time: the server will SIGKILL it, so it must be ours."""
        worker = self.worker.pid if self.worker is not None else None
        parent, real_start = await asyncio.get_running_loop().run_in_executor(
            self.blocking, lambda: (parent_pid(pid), process_start_time(pid)))
        if worker is None or parent != worker or real_start != started:
            log.warning("session %s: ignored process group %d announced by the worker (not "
                        "its child, or not started at %s)", self.id, pid, started)
            return
        self.process_groups.append((pid, started))
        await self.store.update_session(
            self.id, process_groups=[list(g) for g in self.process_groups])

    async def _on_terminated(self) -> None:
        await self.output.flush()
        # Ended on request (DELETE, shutdown) or detached: terminated; on its own: exited.
        ended_by_us = self._terminating or (self.spec.request == "attach"
                                            and self.exit_code is None)
        state = "terminated" if ended_by_us else "exited"
        if self.active and self.debugger_error is not None and not self._terminating:
            # The debugger died under the session: that is its cause, not the target's end.
            await self._set(state="failed", stopped=None, exit_code=self.exit_code,
                            error=self.debugger_error)
        elif self.active:
            await self._set(state=state, stopped=None, exit_code=self.exit_code)
        await self.store.add_audit(self.id, "ended", None, {"state": self.state,
                                                            "exit_code": self.exit_code})

    # -- tunnel clients --------------------------------------------------------

    def connect(self, send: Callable[[Message], None], role: str, name: str, *,
                user: str | None = None, token_id: str | None = None) -> MuxClient:
        """Join a DAP client to the session (counted in `clients` until it leaves)."""
        client = self.mux.connect(send, role=role, name=name, user=user, token_id=token_id)
        self.clients += 1
        return client

    def disconnect(self, client: MuxClient) -> None:
        """A DAP client left (idempotent); the session carries on."""
        if not client.closed:
            client.close()
            self.clients -= 1
        if not self.mux.clients and self._location_missing():
            self._spawn(self.ensure_location())  # nobody left to ask for the stack

    def _on_client_end(self, client: MuxClient, command: str) -> None:
        """A control client ended the session (`terminate`, or `disconnect` with
        terminateDebuggee): end it as DELETE does, with the client in the audit record."""
        if not self.active or self._terminating:
            return
        who = {"client": client.name, "role": client.role, "token_id": client.token_id,
               "command": command}
        if self.end_for_client is not None:
            self._spawn(self.end_for_client(client.user, who))
        else:
            self._spawn(self.terminate())

    def _on_client_response(self, request: Message, response: Message) -> None:
        """Learn the stop's location from a tunnel client's stack. (Their breakpoints are
        theirs: the breakpoints route shows the session's own, see dap/breakpoints.py.)"""
        if not response.get("success") or request.get("command") != "stackTrace":
            return
        args = request.get("arguments") or {}
        if (self._location_missing() and self.stopped is not None
                and args.get("threadId") == self.stopped["thread_id"]
                and not args.get("startFrame")):
            self._fill_location((response.get("body") or {}).get("stackFrames") or [])

    # -- end -------------------------------------------------------------------

    async def terminate(self) -> None:
        """End the session: DAP disconnect, then SIGTERM, then SIGKILL (idempotent)."""
        self._terminating = True
        if self.channel is not None and not self.channel.is_closed:
            with contextlib.suppress(DapRequestError, ChannelClosed, asyncio.TimeoutError):
                await asyncio.wait_for(
                    self.channel.request("disconnect", {"terminateDebuggee":
                                                        self.spec.request == "launch"}),
                    self.config.shutdown_timeout)
        await self._stop_worker()
        if self.active:
            await self._set(state="terminated", stopped=None)
