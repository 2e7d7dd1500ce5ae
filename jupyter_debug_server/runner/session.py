"""One debug session on the server: the composition root of its parts.

Owned by the server's event loop. A `Session` holds (never inherits) its parts and
wires them together:

- `SessionState` (state.py): the fields, their persistence and publication;
- `WorkerProcess` (worker_process.py): the worker, with Popen-like verbs and no
  session state;
- `Upstream` (upstream.py): the DAP channel, the mux that shares it with tunnel
  clients, the debugger's capabilities and the session's own breakpoints;
- `StopTracker` (stops.py): where the target stopped;
- `DebuggerRequests` (debugger_requests.py): the REST routes' debugger requests;
- `OutputLog` (output.py): the target's captured output;
- `Snapshots` (snapshots.py): the stop history, a snapshot of every stop.

Here are the start (its DAP sequence is startup.py), the worker's DAP events, tunnel
clients and the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from ..dap import ChannelClosed, DapRequestError, MuxClient
from ..dap.messages import Message, Send
from .debugger_requests import DebuggerRequests
from .errors import without_traceback
from .output import OutputLog
from .processes import parent_pid, process_start_time
from .snapshot_log import SnapshotLog
from .snapshots import SnapshotLimits, Snapshots
from .startup import start_debugger
from .state import ACTIVE_STATES, FINAL_STATES, SessionState
from .stops import StopTracker
from .upstream import Upstream
from .worker_process import SECRET_ENV, WorkerProcess, reap_groups, worker_environment

if TYPE_CHECKING:
    from ..dap import DapChannel, DapMux
    from ..store import Store
    from .config import RunnerConfig
    from .launch_spec import LaunchSpec

__all__ = ["ACTIVE_STATES", "FINAL_STATES", "LIFECYCLE_COMMANDS", "SECRET_ENV", "Session",
           "new_session_id", "worker_environment"]

log = logging.getLogger(__name__)

# The session owns its lifecycle; these would break it if sent raw.
LIFECYCLE_COMMANDS = frozenset(
    {"initialize", "launch", "attach", "configurationDone", "disconnect", "terminate"})


def new_session_id() -> str:
    """A short random id that is safe in a URL path."""
    return uuid.uuid4().hex[:12]


class Session:
    """A debug session and its worker; see the module docstring."""

    def __init__(self, session_id: str, spec: LaunchSpec, owner: str, *, store: Store,
                 config: RunnerConfig, blocking: Executor) -> None:
        self.id = session_id
        self.spec = spec
        self.owner = owner
        self.store = store
        self.config = config
        self.blocking = blocking  # the manager's executor for /proc reads and the like
        # The state (state, pid, stopped, …): held, and read through the properties below.
        self.fields = SessionState(session_id, spec, owner, store=store,
                                   base_url=config.base_url)
        self.upstream = Upstream(session_id, request_timeout=config.request_timeout,
                                 on_response=self._on_client_response,
                                 on_end=self._on_client_end)
        self.output = OutputLog(session_id, store, config.output_retention_chars,
                                pressure=self.upstream.output_pressure)
        self.stops = StopTracker(self.fields, self.upstream, self._spawn)
        self.requests = DebuggerRequests(self.fields, self.upstream, self.stops, config)
        self.snapshots = Snapshots(
            self.fields, self.upstream, self.stops,
            SnapshotLog(self.fields, store, config.snapshot_retention),
            SnapshotLimits.of(config), enabled=config.snapshots and spec.snapshots,
            watches=spec.watches, request_timeout=config.request_timeout, spawn=self._spawn)
        self.worker_process = WorkerProcess(blocking=blocking,
                                            max_dap_message=config.max_dap_message,
                                            on_stderr=self._log_worker_line)
        # Set by the manager: end the session for a DAP client, `(user, who)` with `who`
        # the client's name, role and token id for the audit record and the event.
        self.end_for_client: Callable[[str | None, dict[str, Any]], Coroutine[
            Any, Any, Any]] | None = None
        # Process groups the worker started besides the target's: [(pid, start time)].
        self.process_groups: list[tuple[int, float]] = []
        # Why the debugger ended the session on its own (the worker's private event).
        self.debugger_error: str | None = None
        self._terminating = False
        self._initialized: asyncio.Future[None] | None = None  # during the start sequence
        self._ended = asyncio.get_running_loop().create_future()  # the worker was reaped
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- the state's fields, as the API and the manager read them ------------------

    @property
    def state(self) -> str:
        """starting, running, stopped, exited, terminated, failed or lost."""
        return self.fields.state

    @property
    def pid(self) -> int | None:
        """The target's pid, once the worker has told it."""
        return self.fields.pid

    @property
    def pid_start_time(self) -> float | None:
        """The target's start time, as /proc shows it."""
        return self.fields.pid_start_time

    @property
    def exit_code(self) -> int | None:
        """The target's exit code, once it exited."""
        return self.fields.exit_code

    @property
    def stopped(self) -> dict[str, Any] | None:
        """Where the target stopped, or None while it runs."""
        return self.fields.stopped

    @property
    def error(self) -> str | None:
        """Why the session failed, as a sentence."""
        return self.fields.error

    @property
    def created(self) -> str:
        """When the session was created (ISO 8601, UTC)."""
        return self.fields.created

    @property
    def updated(self) -> str:
        """When its state last changed (ISO 8601, UTC)."""
        return self.fields.updated

    @property
    def active(self) -> bool:
        """Whether the session has not ended yet."""
        return self.fields.active

    @property
    def clients(self) -> int:
        """The DAP and event clients connected now (shown in the model)."""
        return self.fields.clients

    @clients.setter
    def clients(self, value: int) -> None:
        self.fields.clients = value
        self.fields.notify()  # (a wait_for on the count re-checks it)

    @property
    def channel(self) -> DapChannel | None:
        """The DAP channel to the worker, once it runs."""
        return self.upstream.channel

    @property
    def mux(self) -> DapMux:
        """The mux that shares the channel with tunnel clients."""
        return self.upstream.mux

    @property
    def capabilities(self) -> dict[str, Any]:
        """The debugger's answer to `initialize`."""
        return self.upstream.capabilities

    @property
    def breakpoints(self) -> dict[str, list[dict[str, Any]]]:
        """The session's own breakpoints per source (the REST route's)."""
        return self.upstream.breakpoints

    @property
    def worker(self) -> asyncio.subprocess.Process | None:
        """The worker's process, once spawned."""
        return self.worker_process.process

    @property
    def _worker_stderr(self) -> str:
        """The tail of the worker's stderr (tests check no secret is in it)."""
        return self.worker_process.stderr_tail

    def model(self, base_url: str | None = None) -> dict[str, Any]:
        """The session model of the REST API."""
        return self.fields.model(base_url)

    def record(self) -> dict[str, Any]:
        """The row stored for this session."""
        return self.fields.record()

    def when_ended(self, hook: Callable[[Session], None]) -> Callable[[], None]:
        """Call `hook(session)` once the session reaches a final state (after its
        subscribers); returns the function that cancels it."""
        return self.fields.when_ended(lambda: hook(self))

    def subscribe(self, listener: Send) -> Callable[[], None]:
        """Call `listener` with every session event; returns the unsubscribe function."""
        unsubscribe = self.fields.subscribe(listener)
        if self.stops.location_missing():
            self._spawn(self.stops.ensure_location())  # event clients show where it stopped
        return unsubscribe

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds (re-checked on every state change)."""
        return await self.fields.wait_for(predicate, timeout)

    async def ensure_location(self) -> None:
        """Learn where the current stop is, if nobody has asked the debugger yet."""
        await self.stops.ensure_location()

    # -- the REST routes' requests (debugger_requests.py) -------------------------

    async def dap(self, command: str, arguments: Any = None) -> Any:
        """Send one DAP request to the debugger and return its response body."""
        return await self.requests.dap(command, arguments)

    async def resume(self, kind: str, thread_id: int | None = None,
                     timeout: float | None = None) -> dict[str, Any]:
        """Continue or step; return once the session stops again or ends (bounded)."""
        return await self.requests.resume(kind, thread_id, timeout)

    async def pause(self, thread_id: int | None = None) -> dict[str, Any]:
        """Pause the target; return once it has stopped (bounded)."""
        return await self.requests.pause(thread_id)

    async def stack(self, thread_id: int | None, start: int, levels: int) -> dict[str, Any]:
        """The call stack of a thread (the stopped thread by default)."""
        return await self.requests.stack(thread_id, start, levels)

    async def variables(self, frame_id: int | None, reference: int | None, start: int,
                        count: int) -> dict[str, Any]:
        """Variables of one reference, or of every scope of a frame."""
        return await self.requests.variables(frame_id, reference, start, count)

    async def evaluate(self, expression: str, frame_id: int | None,
                       context: str) -> dict[str, Any]:
        """Evaluate an expression in a frame (the stopped thread's top by default)."""
        return await self.requests.evaluate(expression, frame_id, context)

    async def set_breakpoints(self, path: str, breakpoints: list[dict[str, Any]]
                              ) -> list[dict[str, Any]]:
        """Replace the session's own breakpoints of one source file."""
        return await self.requests.set_breakpoints(path, breakpoints)

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
        except Exception as exc:
            # A bug of ours: the traceback goes to the server log, the session gets a sentence.
            log.exception("session %s: start-up failed", self.id)
            first = (str(exc).strip().splitlines() or [""])[0]
            await self._fail(f"the session could not start: {type(exc).__name__}: {first}")

    def _explain(self, message: str) -> str:
        """`message` and the last line of the worker's error output (for a traceback:
        its exception), as one line; the whole output is in the server log already."""
        tail = self.worker_process.stderr_tail
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        if lines:
            message = f"{message}; the worker's last error output was: {lines[-1]}"
        return without_traceback(message)

    async def _fail(self, why: str) -> None:
        why = without_traceback(why)  # the error field is a sentence, never a traceback
        log.warning("session %s failed: %s", self.id, why)
        await self.fields.set(state="failed", error=why, stopped=None)
        await self._stop_worker()

    async def _start(self, worker_module: str, worker_args: Sequence[str]) -> None:
        self._initialized = asyncio.get_running_loop().create_future()
        worker = self.worker_process
        channel = await worker.start(self.id, worker_module, worker_args,
                                     on_event=self._on_event)
        # The boot id too: the reaper of a later server must never match a process of
        # another boot that happens to have the same pid and start time.
        await self.store.update_session(self.id, worker_pid=worker.pid,
                                        worker_start_time=worker.start_time,
                                        boot_id=worker.boot_id)
        self._spawn(self._watch_worker())
        self.upstream.attach(channel)
        await start_debugger(channel, self.spec, self.upstream, self._initialized)
        if self.state == "starting":
            await self.fields.set(state="running")

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _log_worker_line(self, line: str) -> None:
        log.info("worker %s: %s", self.id, line)

    # -- events from the worker ------------------------------------------------

    def _on_event(self, event: Message) -> None:
        name = event["event"]
        body = event.get("body") or {}
        if name == "jupyterDebugServer.target":
            self.fields.pid = body.get("pid")
            self.fields.pid_start_time = body.get("startTime")
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
            if self._initialized is not None and not self._initialized.done():
                self._initialized.set_result(None)
        elif name == "stopped":
            self.snapshots.on_stopped(body)  # (the previous stop's is finished first)
            self.stops.on_stopped(body)
        elif name == "continued":
            self.snapshots.interrupt()  # the stop's snapshot before the `running` state
            self.stops.on_continued()
        elif name == "exited":
            self.snapshots.interrupt()
            self.fields.exit_code = body.get("exitCode")
        elif name == "terminated":
            self._spawn(self._on_terminated())
        self.fields.publish({"type": "dap", "event": event})

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
        worker = self.worker_process.pid
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
        await self._flush_logs()
        # Ended on request (DELETE, shutdown) or detached: terminated; on its own: exited.
        ended_by_us = self._terminating or (self.spec.request == "attach"
                                            and self.exit_code is None)
        state = "terminated" if ended_by_us else "exited"
        if self.active and self.debugger_error is not None and not self._terminating:
            # The debugger died under the session: that is its cause, not the target's end.
            await self.fields.set(state="failed", stopped=None, exit_code=self.exit_code,
                                  error=self.debugger_error)
        elif self.active:
            await self.fields.set(state=state, stopped=None, exit_code=self.exit_code)
        await self.store.add_audit(self.id, "ended", None, {"state": self.state,
                                                            "exit_code": self.exit_code})

    # -- tunnel clients --------------------------------------------------------

    def connect(self, send: Send, role: str, name: str, *,
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
        if not self.mux.clients and self.stops.location_missing():
            self._spawn(self.stops.ensure_location())  # nobody left to ask for the stack

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
        if response.get("success") and request.get("command") == "stackTrace":
            self.stops.on_client_stack(request.get("arguments") or {}, response)

    # -- the worker's end --------------------------------------------------------

    async def _watch_worker(self) -> None:
        code = await self.worker_process.wait()
        await self._reap_target()
        await self._flush_logs()
        if self.active:
            if self._terminating:
                await self.fields.set(state="terminated", stopped=None)
            else:
                await self.fields.set(state="failed", stopped=None, error=self._explain(
                    f"the worker process exited unexpectedly with code {code}"))
        if not self._ended.done():
            self._ended.set_result(None)

    async def _reap_target(self) -> None:
        """Kill what is left of the debuggers' and the target's process groups, if still
        ours: they run in sessions of their own, out of reach of the worker's group."""
        groups = list(self.process_groups)
        if not (self.pid is None or self.spec.request == "attach"
                or self.pid_start_time is None):
            groups.append((self.pid, self.pid_start_time))
        if groups:
            await asyncio.get_running_loop().run_in_executor(self.blocking, reap_groups, groups)

    async def _stop_worker(self) -> None:
        await self.worker_process.terminate(self.config.shutdown_timeout)
        if self.worker_process.process is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._ended), self.config.shutdown_timeout)
        await self._reap_target()
        await self._flush_logs()

    async def _flush_logs(self) -> None:
        """At the end: the last stop's snapshot keeps what it has; output and snapshots
        are all stored."""
        self.snapshots.interrupt()
        await self.output.flush()
        await self.snapshots.flush()

    async def terminate(self) -> None:
        """End the session: DAP disconnect, then SIGTERM, then SIGKILL (idempotent)."""
        self._terminating = True
        if self.upstream.usable:
            assert self.channel is not None
            with contextlib.suppress(DapRequestError, ChannelClosed, asyncio.TimeoutError):
                await asyncio.wait_for(
                    self.channel.request("disconnect", {"terminateDebuggee":
                                                        self.spec.request == "launch"}),
                    self.config.shutdown_timeout)
        await self._stop_worker()
        if self.active:
            await self.fields.set(state="terminated", stopped=None)
