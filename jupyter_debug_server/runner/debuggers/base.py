"""What every adapter shares: dispatch, its client, its tasks, the program's output, the end.

Owned by the worker's event loop. Subclasses add the debugger and pass their registry
(see registry.py); the harness (worker.py) waits on `finished` and lets `requests` in
flight answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from ...dap import DapChannel
from ...dap.messages import Message
from .native.launch import NativeLaunch, StubFailed
from .registry import AdapterError, Registry, Spec, answer
from .target import Target

log = logging.getLogger(__name__)

_STDERR_TAIL = 4000

#: Events in this namespace are the worker's own messages to the server (the target's
#: pid and start time): only the worker may send them, never the debugger or debuggee.
PRIVATE_EVENT_PREFIX = "jupyterDebugServer."


def spawn_task(coro: Coroutine[Any, Any, Any], tasks: set[asyncio.Task[Any]]) -> None:
    """Start a task and keep a reference until it finishes (asyncio keeps only weak ones)."""
    task = asyncio.ensure_future(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def _answered_elsewhere(_message: Message, _outcome: Any) -> None:
    """A parked request's handler succeeded: its releaser's response answers it."""


class AdapterBase:
    """State and helpers common to the debugpy, gdb and lldb adapters."""

    def __init__(self, client: DapChannel, options: argparse.Namespace,
                 registry: Registry[Any]) -> None:
        self.client = client
        self.options = options
        self.registry = registry
        self.target: Target | None = None
        self.stderr_tail = ""  # the end of the program's stderr, for start-up errors
        self.requests: set[asyncio.Task[Any]] = set()  # request handlers in flight
        self._tasks: set[asyncio.Task[Any]] = set()
        self._terminated = False
        self._finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._holds = 0  # requests with events_after_response still without their response
        self._held: list[Callable[[], None]] = []
        self._parked: dict[str, list[Message]] = {}  # command → requests answered after it
        # Parked requests answered that way (a session has one launch or attach).
        self._released: list[Message] = []

    @property
    def finished(self) -> asyncio.Future[None]:
        """Resolved once the debuggee is gone and the client has been told."""
        return self._finished

    # -- dispatch ----------------------------------------------------------------

    def on_request(self, message: Message) -> None:
        """Run the registered handler of a client request, or `unhandled`."""
        spec = self.registry.get(message["command"])
        if spec is None:
            self.unhandled(message)
            return
        if spec.answered_by is not None:
            # Parked before the handler runs: its answer may come while it still works.
            self._parked.setdefault(spec.answered_by, []).append(message)
        spawn_task(self._run(spec, message), self.requests)

    def unhandled(self, message: Message) -> None:
        """Answer a request no handler is registered for (adapters may relay it instead)."""
        self.client.send_response(message, success=False, message=(
            f"'{str(message['command'])[:80]}' is not supported by this adapter"))

    async def _run(self, spec: Spec, message: Message) -> None:
        if spec.answered_by is not None:  # answered by `send_response` of its releaser
            await answer(self, spec.call, self, message, on_success=_answered_elsewhere)
        elif spec.events_after_response:
            with self._events_after_response():
                await answer(self, spec.call, self, message)
        else:
            await answer(self, spec.call, self, message)

    def send_response(self, request: Message, *, success: bool = True, body: Any = None,
                      message: str | None = None) -> None:
        """Answer `request`; then the requests parked until it are answered alike."""
        if any(item is request for item in self._released):
            # A parked request answered with its releaser's outcome, whose handler failed
            # afterwards: it has had its one answer.
            log.info("%r was answered already; not answering it again", request["command"])
            return
        for parked in self._parked.values():  # a parked request whose handler failed
            parked[:] = [item for item in parked if item is not request]
        self.client.send_response(request, success=success, body=body, message=message)
        for waiting in self._parked.pop(request.get("command", ""), []):
            self._released.append(waiting)
            self.client.send_response(waiting, success=success, message=message)

    def awaits(self, command: str) -> bool:
        """Whether a request waits to be answered after `command`'s response."""
        return bool(self._parked.get(command))

    @contextlib.contextmanager
    def _events_after_response(self) -> Iterator[None]:
        """Keep the events sent with `send_event` until the response has been sent."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds:
                held, self._held = self._held, []
                for send in held:
                    send()

    def after_response(self, send: Callable[[], None]) -> None:
        """Run `send` now, or once the requests declared `events_after_response` have
        been answered."""
        if self._holds:
            self._held.append(send)
        else:
            send()

    def send_event(self, name: str, body: Any = None) -> None:
        """Send an event in order, after any pending response (see `after_response`)."""
        self.after_response(lambda: self.client.send_event(name, body))

    # -- tasks and output --------------------------------------------------------

    def spawn(self, coro: Any) -> None:
        """Run a background task owned by this adapter."""
        spawn_task(coro, self._tasks)

    def cancel_tasks(self) -> None:
        """Cancel the background tasks (not the caller's own)."""
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()

    async def output(self, category: str, text: str) -> None:
        """Forward the program's own stdout/stderr to the client, with back-pressure."""
        if category == "stderr":
            self.stderr_tail = (self.stderr_tail + text)[-_STDERR_TAIL:]
        self.client.send_event("output", {"category": category, "output": text})
        await self.client.drain()

    def relay_event(self, name: str, body: Any) -> None:
        """Pass one of the debugger's events on to the client (after the response of a
        request declared `events_after_response`), unless it is in our own
        namespace: pydevd relays any event its debuggee sends (`send_json_message`), so a
        program could otherwise forge the worker's `jupyterDebugServer.target`."""
        if name.startswith(PRIVATE_EVENT_PREFIX):
            log.warning("dropped a %r event from the debugger: only the worker sends those",
                        name[:80])
            return
        self.send_event(name, body)  # in order, after a response being prepared

    # -- the target ----------------------------------------------------------------

    def announce_target(self, target: Target) -> None:
        """Adopt the launched program: tell the server its pid, report its exit later."""
        self.target = target
        self.client.send_event("jupyterDebugServer.target",
                               {"pid": target.pid, "startTime": target.start_time})
        self.spawn(self.watch_exit())

    async def start_native(self, argv: list[str], cwd: str | None, env: dict[str, str],
                           ptracer: int) -> NativeLaunch:
        """Start a native program parked before exec, for the debugger `ptracer`."""
        try:
            launch = await NativeLaunch.start(argv, cwd=cwd, env=env, sink=self.output,
                                              ptracer=ptracer)
        except (OSError, StubFailed) as exc:
            raise AdapterError(f"cannot start {argv[0]!r}: {exc}") from None
        self.announce_target(launch.target)
        return launch

    def on_target_exit(self) -> None:
        """Hook: the launched program has ended (its pipes are drained)."""

    async def watch_exit(self) -> None:
        """Report the exit code once the program has ended and its pipes are drained."""
        assert self.target is not None
        code = await self.target.wait()
        self.on_target_exit()
        self.client.send_event("exited", {"exitCode": code})
        self.send_terminated()

    def send_terminated(self) -> None:
        """Tell the client the session is over (once), and let the worker finish."""
        if not self._terminated:
            self._terminated = True
            self.client.send_event("terminated", {})
        if not self._finished.done():
            self._finished.set_result(None)
