"""A DAP client over the server's WebSocket tunnel: one JSON message per text frame."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from tornado.websocket import WebSocketClientConnection

Message = dict[str, Any]


class TunnelClient:
    """Keeps every message the server sent; tests await them without sleeping."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn
        self.messages: list[Message] = []
        self.closed = asyncio.get_running_loop().create_future()
        self._changed = asyncio.Event()
        self._seq = itertools.count(1)
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            raw = await self.conn.read_message()
            if raw is None:
                break
            assert isinstance(raw, str), f"binary frame {raw!r:.80}"
            self.messages.append(json.loads(raw))
            self._changed.set()
        self.closed.set_result((self.conn.close_code, self.conn.close_reason))
        self._changed.set()

    @property
    def events(self) -> list[Message]:
        return [m for m in self.messages if m["type"] == "event"]

    @property
    def responses(self) -> list[Message]:
        return [m for m in self.messages if m["type"] == "response"]

    def send(self, command: str, arguments: Any = None, *, seq: int | None = None) -> int:
        """Send a request; returns its seq (our own counter unless given)."""
        seq = next(self._seq) if seq is None else seq
        message: Message = {"type": "request", "seq": seq, "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        self.conn.write_message(json.dumps(message))
        return seq

    async def wait_for(self, match: Callable[[Message], bool], *, after: int = 0,
                       timeout: float = 30) -> Message:
        """The first message at index >= `after` that matches."""
        async def scan() -> Message:
            index = after
            while True:
                while index < len(self.messages):
                    message = self.messages[index]
                    index += 1
                    if match(message):
                        return message
                if self.closed.done():
                    raise AssertionError(f"connection closed {self.closed.result()} while "
                                         f"waiting; got {self.messages[after:]}")
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(scan(), timeout)

    async def request(self, command: str, arguments: Any = None, *,
                      timeout: float = 30) -> Message:
        """Send a request and return its whole response (successful or not)."""
        mark = len(self.messages)
        seq = self.send(command, arguments)
        return await self.wait_for(
            lambda m: m["type"] == "response" and m["request_seq"] == seq, after=mark,
            timeout=timeout)

    async def body(self, command: str, arguments: Any = None) -> Any:
        """The body of a response that must succeed."""
        response = await self.request(command, arguments)
        assert response["success"], response
        assert response["command"] == command, response
        return response.get("body")

    async def event(self, name: str, where: Callable[[Message], bool] = lambda e: True, *,
                    after: int = 0, timeout: float = 30) -> Message:
        return await self.wait_for(
            lambda m: m["type"] == "event" and m["event"] == name and where(m), after=after,
            timeout=timeout)

    async def join(self) -> Message:
        """initialize → attach → configurationDone; returns the capabilities."""
        capabilities = await self.body("initialize", {"adapterID": "test", "clientID": "t",
                                                      "linesStartAt1": True})
        await self.event("initialized")
        await self.body("attach", {})
        await self.body("configurationDone")
        return capabilities or {}

    async def close(self) -> None:
        self.conn.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.closed), 10)
        self._reader.cancel()


# tests/conftest.py's `tunnel` fixture: `await tunnel(session_id, role=...)`.
Tunnel = Callable[..., Awaitable[TunnelClient]]
