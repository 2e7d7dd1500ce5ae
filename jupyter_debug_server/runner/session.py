"""One debug session on the server: its worker process, DAP channel and state.

Owned by the server's event loop. The session is the only upstream client of
its worker; REST routes and WebSockets go through it. State changes are
persisted through the store (off the loop) and published to subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from ..dap import ChannelClosed, DapChannel, DapMux, DapRequestError, MuxClient
from ..store import iso_time
from .debuggers.target import kill_group, process_start_time
from .errors import DapError, SessionStateError
from .launch_spec import LaunchSpec
from .output import OutputLog

if TYPE_CHECKING:
    from ..store import Store
    from .manager import RunnerConfig

log = logging.getLogger(__name__)

Message = dict[str, Any]
Listener = Callable[[Message], None]

ACTIVE_STATES = frozenset({"starting", "running", "stopped"})
_STEPPING_FIELDS = frozenset({"state", "stopped", "updated"})
FINAL_STATES = frozenset({"exited", "terminated", "failed", "lost"})
# The session owns its lifecycle; these would break it if sent raw.
LIFECYCLE_COMMANDS = frozenset(
    {"initialize", "launch", "attach", "configurationDone", "disconnect"})
_STEP_COMMANDS = {"over": "next", "in": "stepIn", "out": "stepOut", "continue": "continue"}
_STDERR_TAIL = 4000


def new_session_id() -> str:
    """A short random id that is safe in a URL path."""
    return uuid.uuid4().hex[:12]


class Session:
    """A debug session and its worker."""

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
                          on_response=self._on_client_response)
        self.worker: asyncio.subprocess.Process | None = None
        self._listeners: set[Listener] = set()  # event streams: they show every stop's place
        self._end_hooks: list[Callable[[Session], None]] = []
        # Futures of wait_for() callers, resolved on every state change.
        self._waiters: set[asyncio.Future[None]] = set()
        self._event_count = 0  # stops and resumes seen: a late location fetch is stale
        self._stop_generation = 0
        self._generation_seq = itertools.count(1)
        self._terminating = False
        self._ended = asyncio.get_running_loop().create_future()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._worker_stderr = ""
        self._dirty: dict[str, Any] = {}
        # The stop whose location has been asked for (found or not): asked once per stop.
        self._located: dict[str, Any] | None = None
        self._writing: asyncio.Future[None] | None = None

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

    def when_ended(self, hook: Callable[[Session], None]) -> Callable[[], None]:
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

    def _apply(self, fields: dict[str, Any]) -> bool:
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

    # -- start -----------------------------------------------------------------

    async def start(self, worker_module: str, worker_args: Sequence[str] = ()) -> None:
        """Spawn the worker, run the DAP start sequence; failures end in state 'failed'."""
        try:
            await asyncio.wait_for(self._start(worker_module, worker_args),
                                   self.config.launch_timeout)
        except asyncio.TimeoutError:
            await self._fail(f"the debugger did not start within {self.config.launch_timeout:g} s")
        except (DapRequestError, ChannelClosed) as exc:
            await self._fail(self._explain(str(exc)))
        except OSError as exc:
            await self._fail(f"could not start the worker: {exc}")

    def _explain(self, message: str) -> str:
        tail = self._worker_stderr.strip()
        return message if not tail else f"{message}\nworker log:\n{tail[-1500:]}"

    async def _fail(self, why: str) -> None:
        log.warning("session %s failed: %s", self.id, why)
        await self._set(state="failed", error=why, stopped=None)
        await self._stop_worker()

    async def _start(self, worker_module: str, worker_args: Sequence[str]) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", worker_module, "--session", self.id, *worker_args,
                "--channel-fd", str(theirs.fileno()),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,  # Ctrl-C of the server reaches us, not the worker
                cwd=self.spec.cwd,
                env=worker_environment(),
            )
        finally:
            theirs.close()
        worker_started = await asyncio.get_running_loop().run_in_executor(
            self.blocking, process_start_time, self.worker.pid)
        await self.store.update_session(self.id, worker_pid=self.worker.pid,
                                        worker_start_time=worker_started)
        self._spawn(self._pump_worker_log())
        self._spawn(self._watch_worker())
        self.channel = await DapChannel.from_socket(
            ours, name=f"worker[{self.id}]", on_event=self._on_event,
            max_message=self.config.max_dap_message,
        )
        self.channel.start()
        self.mux.upstream = self.channel
        initialized = asyncio.get_running_loop().create_future()

        def on_initialized() -> None:
            if not initialized.done():
                initialized.set_result(None)

        self._on_initialized = on_initialized
        self.capabilities = await self.channel.request(
            "initialize",
            {"clientID": "jupyter-debug-server", "adapterID": self.spec.debugger,
             "linesStartAt1": True, "columnsStartAt1": True, "pathFormat": "path",
             "supportsVariableType": True, "supportsRunInTerminalRequest": False},
        ) or {}
        started = asyncio.ensure_future(
            self.channel.request(self.spec.request, self.spec.dap_arguments())
        )
        # Until configurationDone, `launch` only answers if it fails.
        done, _ = await asyncio.wait({started, initialized}, return_when=asyncio.FIRST_COMPLETED)
        if started in done:
            started.result()
        await self._configure()
        await self.channel.request("configurationDone")
        await started
        if self.state == "starting":
            await self._set(state="running")

    async def _configure(self) -> None:
        assert self.channel is not None
        by_path: dict[str, list[dict[str, Any]]] = {}
        for bp in self.spec.breakpoints:
            by_path.setdefault(bp.path, []).append(bp.to_dap())
        for path, bps in by_path.items():
            body = await self.channel.request(
                "setBreakpoints", {"source": {"path": path}, "breakpoints": bps})
            self.breakpoints[path] = _describe_breakpoints(bps, body.get("breakpoints", []))
        if self.spec.function_breakpoints:
            await self.channel.request("setFunctionBreakpoints", {
                "breakpoints": [{"name": n} for n in self.spec.function_breakpoints]})
        if any(f.get("default") for f in self.capabilities.get("exceptionBreakpointFilters", [])):
            await self.channel.request("setExceptionBreakpoints", {"filters": [
                f["filter"] for f in self.capabilities["exceptionBreakpointFilters"]
                if f.get("default")]})

    # -- events from the worker ------------------------------------------------

    _on_initialized: Callable[[], Any] = staticmethod(lambda: None)

    def _on_event(self, event: Message) -> None:
        name = event["event"]
        body = event.get("body") or {}
        if name == "output":
            self.output.append(str(body.get("category", "console")), str(body.get("output", "")))
        elif name == "initialized":
            self._on_initialized()
        elif name == "jupyterDebugServer.target":
            self.pid = body.get("pid")
            self.pid_start_time = body.get("startTime")
            self._spawn(self.store.update_session(
                self.id, pid=self.pid, pid_start_time=self.pid_start_time))
            return  # private to the worker and us
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
        self.mux.broadcast(event)  # tunnel clients first: they are stepping
        self._publish({"type": "dap", "event": event})

    def _on_stopped(self, body: dict[str, Any]) -> None:
        self._event_count += 1
        stopped: dict[str, Any] = {
            "thread_id": body.get("threadId"), "reason": body.get("reason"),
            "description": body.get("description"), "text": body.get("text"),
            "hit_breakpoint_ids": body.get("hitBreakpointIds"),
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
                "stackTrace", {"threadId": thread_id, "startFrame": 0, "levels": 1}
            )).get("stackFrames", []))
        except (DapRequestError, ChannelClosed):
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

    def _notify(self) -> None:
        """Wake every wait_for() caller to re-check its predicate."""
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _on_terminated(self) -> None:
        await self.output.flush()
        # Ended on request (DELETE, shutdown) or detached: terminated; on its own: exited.
        ended_by_us = self._terminating or (self.spec.request == "attach"
                                            and self.exit_code is None)
        state = "terminated" if ended_by_us else "exited"
        if self.active:
            await self._set(state=state, stopped=None, exit_code=self.exit_code)
        await self.store.add_audit(self.id, "ended", None, {"state": self.state,
                                                            "exit_code": self.exit_code})

    async def _pump_worker_log(self) -> None:
        assert self.worker is not None and self.worker.stderr is not None
        async for raw in self.worker.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._worker_stderr = (self._worker_stderr + line + "\n")[-_STDERR_TAIL:]
            log.info("worker %s: %s", self.id, line)

    async def _watch_worker(self) -> None:
        assert self.worker is not None
        code = await self.worker.wait()
        if self.channel is not None:
            self.channel.close("worker exited")
        await self._reap_target()
        await self.output.flush()
        if self.active:
            if self._terminating:
                await self._set(state="terminated", stopped=None)
            else:
                await self._set(state="failed", stopped=None, error=self._explain(
                    f"the worker process exited unexpectedly with code {code}"))
        if not self._ended.done():
            self._ended.set_result(None)

    async def _reap_target(self) -> None:
        """Kill what is left of the target's process group, if it is still ours."""
        if self.pid is None or self.spec.request == "attach" or self.pid_start_time is None:
            return
        pid, started = self.pid, self.pid_start_time

        def reap() -> None:
            # Same pid *and* start time: never signal an unrelated process that reused it.
            if process_start_time(pid) == started:
                kill_group(pid, signal.SIGKILL)

        await asyncio.get_running_loop().run_in_executor(self.blocking, reap)

    # -- tunnel clients ----------------------------------------------------------

    def connect(self, send: Callable[[Message], None], role: str, name: str) -> MuxClient:
        """Join a DAP client to the session (counted in `clients` until it leaves)."""
        client = self.mux.connect(send, role=role, name=name)
        self.clients += 1
        return client

    def disconnect(self, client: MuxClient) -> None:
        """A DAP client left (idempotent); the session carries on."""
        if not client.closed:
            client.close()
            self.clients -= 1
        if not self.mux.clients and self._location_missing():
            self._spawn(self.ensure_location())  # nobody left to ask for the stack

    def _on_client_response(self, request: Message, response: Message) -> None:
        """Learn from tunnel clients' answers: the stop's location from their stack, the
        breakpoints route's state from the breakpoints they set."""
        if not response.get("success"):
            return
        if request.get("command") == "stackTrace":
            args = request.get("arguments") or {}
            if (self._location_missing() and self.stopped is not None
                    and args.get("threadId") == self.stopped["thread_id"]
                    and not args.get("startFrame")):
                self._fill_location((response.get("body") or {}).get("stackFrames") or [])
            return
        if request.get("command") != "setBreakpoints":
            return
        args = request.get("arguments") or {}
        path = (args.get("source") or {}).get("path")
        if not isinstance(path, str):
            return
        requested = [b for b in args.get("breakpoints") or [] if isinstance(b, dict)]
        answered = (response.get("body") or {}).get("breakpoints", [])
        if requested:
            self.breakpoints[path] = _describe_breakpoints(requested, answered)
        else:
            self.breakpoints.pop(path, None)

    # -- requests --------------------------------------------------------------

    def _require_channel(self) -> DapChannel:
        if self.channel is None or self.channel.is_closed or not self.active:
            raise SessionStateError(
                f"session {self.id} is {self.state}; it no longer accepts debugger requests")
        return self.channel

    async def dap(self, command: str, arguments: Any = None) -> Any:
        """Send one DAP request to the debugger and return its response body."""
        channel = self._require_channel()
        try:
            return await channel.request(command, arguments)
        except DapRequestError as exc:
            raise DapError(f"the debugger refused '{command}': {exc.message}") from None
        except ChannelClosed:
            raise SessionStateError(
                f"session {self.id} ended while '{command}' was pending") from None

    def _require_stopped(self, what: str) -> dict[str, Any]:
        if self.state != "stopped" or self.stopped is None:
            hint = "pause it first" if self.state == "running" else "it has ended"
            raise SessionStateError(
                f"cannot {what}: session {self.id} is {self.state}, not stopped; {hint}")
        return self.stopped

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

    async def resume(self, kind: str, thread_id: int | None = None,
                     timeout: float | None = None) -> dict[str, Any]:
        """Continue or step; return once the session stops again or ends (bounded)."""
        command = _STEP_COMMANDS[kind]
        stopped = self._require_stopped("continue" if kind == "continue" else f"step {kind}")
        thread = thread_id if thread_id is not None else stopped["thread_id"]
        generation = self._stop_generation
        stop = self.mux.stopped
        await self.dap(command, {"threadId": thread})
        if stop is not None:
            # Not every debugger sends `continued` for a request; a newer stop stays.
            self.mux.forget_stop(stop)
        finished = await self.wait_for(
            lambda: self._stop_generation != generation or not self.active,
            self.config.step_timeout if timeout is None else timeout)
        await self.ensure_location()  # the route answers with the new location
        return {"completed": finished}

    async def pause(self, thread_id: int | None = None) -> dict[str, Any]:
        """Pause the target; return once it has stopped (bounded)."""
        if self.state == "stopped":
            return {"completed": True}
        self._require_channel()
        generation = self._stop_generation
        await self.dap("pause", {"threadId": thread_id if thread_id is not None else 0})
        finished = await self.wait_for(
            lambda: self._stop_generation != generation or not self.active,
            self.config.step_timeout)
        await self.ensure_location()
        return {"completed": finished}

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
            body = await self.dap("variables", {"variablesReference": reference,
                                                "start": start, "count": count})
            return _page(body.get("variables", []), start, count) | {"reference": reference}
        if frame_id is None:
            await self.ensure_location()
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
        if frame_id is None:
            await self.ensure_location()
        if frame_id is None and self.stopped is not None:
            frame_id = self.stopped.get("frame_id")
        if frame_id is not None:
            args["frameId"] = frame_id
        channel = self._require_channel()
        try:
            return dict(await channel.request("evaluate", args))
        except DapRequestError as exc:
            raise DapError(f"evaluating {expression!r} failed: {_last_line(exc.message)}",
                           reason="evaluation-failed") from None
        except ChannelClosed:
            raise SessionStateError(f"session {self.id} ended during evaluate") from None

    async def set_breakpoints(self, path: str, breakpoints: list[dict[str, Any]]) -> list[
            dict[str, Any]]:
        """Replace the breakpoints of one source file."""
        body = await self.dap("setBreakpoints", {"source": {"path": path},
                                                 "breakpoints": breakpoints})
        self.breakpoints[path] = _describe_breakpoints(breakpoints, body.get("breakpoints", []))
        if not breakpoints:
            self.breakpoints.pop(path, None)
        return self.breakpoints.get(path, [])

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

    async def _stop_worker(self) -> None:
        if self.channel is not None:
            self.channel.close("session ended")  # the worker sees EOF and cleans up
        worker = self.worker
        if worker is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if worker.returncode is not None:
                break
            try:
                await asyncio.wait_for(asyncio.shield(worker.wait()), self.config.shutdown_timeout)
                break
            except asyncio.TimeoutError:
                kill_group(worker.pid, sig)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._ended), self.config.shutdown_timeout)
        await self._reap_target()
        await self.output.flush()


def _last_line(message: str) -> str:
    """The exception line of a Python traceback (the rest is the debugger's frames)."""
    lines = [line for line in message.strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("Traceback (most recent call last)"):
        return lines[-1].strip()
    return message.strip()


def _page(items: list[dict[str, Any]], start: int, count: int) -> dict[str, Any]:
    # debugpy ignores DAP paging: page on our side so every debugger behaves alike.
    window = items[start:start + count] if count else items[start:]
    return {"variables": window, "start": start, "total": len(items)}


def _describe_breakpoints(requested: list[dict[str, Any]],
                          answered: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


#: Credentials of the Jupyter server (and JupyterHub) that a debuggee must never see.
SECRET_ENV = frozenset({"JUPYTER_TOKEN", "JUPYTER_PASSWORD", "JPY_API_TOKEN",
                        "JUPYTERHUB_API_TOKEN", "JPY_SESSION_NAME"})


def worker_environment() -> dict[str, str]:
    """The server's environment minus its credentials: what workers and targets inherit."""
    return {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
