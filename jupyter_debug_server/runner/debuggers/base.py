"""What every adapter shares: its client, its tasks, the program's output, the end.

Owned by the worker's event loop. Subclasses add the debugger; the harness
(worker.py) waits on `finished` and lets `requests` in flight answer.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from ...dap import DapChannel
from . import worker
from .dispatch import AdapterError
from .native_target import NativeLaunch, StubFailed
from .target import Target

log = logging.getLogger(__name__)

Message = dict[str, Any]
_STDERR_TAIL = 4000

#: Events in this namespace are the worker's own messages to the server (the target's
#: pid and start time): only the worker may send them, never the debugger or debuggee.
PRIVATE_EVENT_PREFIX = "jupyterDebugServer."


class AdapterBase:
    """State and helpers common to the debugpy, gdb and lldb adapters."""

    def __init__(self, client: DapChannel, options: argparse.Namespace) -> None:
        self.client = client
        self.options = options
        self.target: Target | None = None
        self.stderr_tail = ""  # the end of the program's stderr, for start-up errors
        self.requests: set[asyncio.Task[Any]] = set()  # request handlers in flight
        self._tasks: set[asyncio.Task[Any]] = set()
        self._terminated = False
        self._finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def finished(self) -> asyncio.Future[None]:
        """Resolved once the debuggee is gone and the client has been told."""
        return self._finished

    def spawn(self, coro: Any) -> None:
        """Run a background task owned by this adapter."""
        worker.spawn_task(coro, self._tasks)

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
        """Pass one of the debugger's events on to the client, unless it is in our own
        namespace: pydevd relays any event its debuggee sends (`send_json_message`), so a
        program could otherwise forge the worker's `jupyterDebugServer.target`."""
        if name.startswith(PRIVATE_EVENT_PREFIX):
            log.warning("dropped a %r event from the debugger: only the worker sends those",
                        name[:80])
            return
        self.client.send_event(name, body)

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

    def forward_to(self, upstream: DapChannel | None, message: Message,
                   arguments: Any = None, name: str = "the debugger") -> None:
        """Relay a request upstream; its answer goes back from the upstream's read loop,
        so it reaches the client before any event that follows it."""
        if upstream is None or upstream.is_closed:
            self.client.send_response(message, success=False, message=(
                f"cannot handle '{message['command']}': {name} is not running "
                "(send 'launch' or 'attach' first, or it has ended)"))
            return
        args = message.get("arguments") if arguments is None else arguments
        upstream.send_request(message["command"], args,
                              lambda response: self.relay(message, response))

    def relay(self, message: Message, response: Message) -> None:
        """Answer the client's `message` with an upstream response."""
        self.client.send_response(message, success=bool(response.get("success")),
                                  body=response.get("body"), message=response.get("message"))
