"""A test DAP client: a channel that keeps every event and lets tests await them."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable
from typing import Any

from jupyter_debug_server.dap import DapChannel

Message = dict[str, Any]

WORKER = "jupyter_debug_server.runner.debuggers.debugpy_adapter"


class DapTestClient:
    """Drive a DAP peer and await its events without sleeping."""

    def __init__(self, channel: DapChannel) -> None:
        self.channel = channel
        self.events: list[Message] = []
        self._changed = asyncio.Event()
        channel.on_event = self._on_event
        channel.start()

    def _on_event(self, event: Message) -> None:
        self.events.append(event)
        self._changed.set()

    async def request(self, command: str, arguments: Any = None) -> Any:
        return await asyncio.wait_for(self.channel.request(command, arguments), 60)

    def send(self, command: str, arguments: Any = None) -> asyncio.Future[Message]:
        """Send without waiting; the future gets the whole response."""
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.channel.send_request(
            command, arguments, lambda r: future.done() or future.set_result(r)
        )
        return future

    async def wait_event(
        self, name: str, where: Callable[[Message], bool] = lambda e: True, *,
        after: int = 0, timeout: float = 60,
    ) -> Message:
        """Return the first event `name` at index >= `after` that satisfies `where`."""
        async def scan() -> Message:
            index = after
            while True:
                while index < len(self.events):
                    event = self.events[index]
                    index += 1
                    if event["event"] == name and where(event):
                        return event
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(scan(), timeout)

    def output(self, category: str | None = None) -> str:
        return "".join(
            e["body"]["output"] for e in self.events
            if e["event"] == "output"
            and (category is None or e["body"].get("category") == category)
        )


async def start_worker(
        module: str = WORKER, *extra: str) -> tuple[DapTestClient, asyncio.subprocess.Process]:
    """Spawn a worker the way the server does (inherited socketpair) and connect."""
    ours, theirs = socket.socketpair()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, "--channel-fd", str(theirs.fileno()), *extra,
        pass_fds=[theirs.fileno()],
    )
    theirs.close()
    channel = await DapChannel.from_socket(ours, name="test")
    return DapTestClient(channel), proc
