"""The events WebSocket of a session, and what clients build on it: waiting for a stop,
following output and the stop history (snapshots) live.

Coroutines here run on the caller's event loop (the CLI's own `asyncio.run`, or a
kernel's loop for the magics); the blocking REST calls they make go to a thread so the
WebSocket keeps being read meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from .errors import DebugServerClientError
from .models import FINAL_STATES, MOVING_STATES, Json
from .transport import Transport, session_route
from .websocket_client import WebSocketClient, connect_websocket

__all__ = ["MOVING_STATES", "EventStream", "SessionClient", "follow_output",
           "follow_snapshots", "open_websocket", "wait_settled"]


class SessionClient(Protocol):
    """What the coroutines here use of a client (DebugServerClient is one): its transport
    for the WebSocket, and two blocking REST calls they run in a thread."""

    transport: Transport

    def session(self, session_id: str) -> Json:
        """One session's model."""

    def output(self, session_id: str, since: int = 0, limit: int = 1000) -> Json:
        """One page of captured output after seq `since`."""

    def snapshots(self, session_id: str, since: int = 0, limit: int = 100) -> Json:
        """One page of the stop history after seq `since`."""


async def open_websocket(client: SessionClient, route: str,
                         timeout: float = 30) -> WebSocketClient:
    """Open the WebSocket at `route` (under base_url) with the client's credential, through
    the proxy HTTPS_PROXY/HTTP_PROXY name (unless NO_PROXY excludes the host), as the
    forward does. The server's refusal (401/403/404/409 before the upgrade) raises
    DebugServerClientError with its sentence; an unreachable server, ServerNotFound."""
    return await connect_websocket(client.transport, route, timeout)


class EventStream:
    """One open events WebSocket: JSON frames `{"type": "state"|"dap", …}`."""

    def __init__(self, connection: WebSocketClient) -> None:
        self.connection = connection
        self._frames: asyncio.Queue[bytes | None] = asyncio.Queue()
        connection.on_message(self._frames.put_nowait)  # then None once closed

    @classmethod
    async def connect(cls, client: SessionClient, session_id: str,
                      timeout: float = 30, *, only: str | None = None) -> EventStream:
        """Open the stream. The current state comes first, the final state last; `only`
        selects what comes between (comma-separated): "snapshot", "state", "dap", or
        "end" for nothing."""
        route = session_route(session_id, "/events")
        if only is not None:
            route += f"?only={only}"
        return cls(await open_websocket(client, route, timeout))

    async def next(self) -> Json | None:
        """The next frame, or None once the server closed the stream."""
        message = await self._frames.get()
        if message is None:
            self._frames.put_nowait(None)  # (closed for every later call too)
            return None
        value = json.loads(message)
        return value if isinstance(value, dict) else {}

    def close(self) -> None:
        """Close the stream (never ends the session)."""
        self.connection.close()

    async def aclose(self) -> None:
        """Close the stream and wait for the end of the closing handshake (at most the
        client's close timeout). A process that exits right after `close()` drops the
        connection with the server's last frames unread, which resets it; a proxy in
        between (JupyterHub's configurable-http-proxy) logs every such reset as an error.
        """
        self.connection.close()
        await asyncio.shield(self.connection.closed)

    async def snapshots(self) -> AsyncIterator[Json]:
        """Each snapshot frame's snapshot, live, until the session ends or the stream
        closes (open it with `only="snapshot"` to be sent nothing else)."""
        while (frame := await self.next()) is not None:
            if frame.get("type") == "snapshot":
                yield dict(frame["snapshot"])
            elif frame.get("type") == "state" and frame["session"]["state"] in FINAL_STATES:
                return


async def wait_settled(client: SessionClient, session_id: str, timeout: float) -> Json:
    """Wait until the session is stopped or ended, at most `timeout` s; its model then."""
    stream = await EventStream.connect(client, session_id)
    latest: list[Json] = []

    async def settled() -> Json | None:
        while (frame := await stream.next()) is not None:
            if frame.get("type") == "state":
                latest.append(frame["session"])
                if frame["session"]["state"] not in MOVING_STATES:
                    return dict(frame["session"])
        return None

    try:
        model = await asyncio.wait_for(settled(), timeout)
    except asyncio.TimeoutError:
        return latest[-1] if latest else await asyncio.to_thread(client.session, session_id)
    finally:
        await stream.aclose()
    if model is not None:
        return model
    # The server closed the stream (it is shutting down): answer with what it says now.
    return await asyncio.to_thread(client.session, session_id)


async def follow_output(client: SessionClient, session_id: str,
                        on_chunk: Callable[[Json], None], since: int = 0) -> Json:
    """Give `on_chunk` every output chunk after `since` as it arrives, until the session
    ends; return its final model.

    Output frames on the WebSocket carry no sequence number, so they only say "there is
    more": the chunks themselves are read from the output route, which is complete and
    ordered, so nothing is printed twice or lost between the history and the live part.
    """
    cursor = since

    async def drain() -> None:
        nonlocal cursor
        while True:
            page = await asyncio.to_thread(client.output, session_id, cursor, 1000)
            for item in page["items"]:
                on_chunk(item)
            cursor = page["next"]
            if len(page["items"]) < 1000:
                return

    while True:
        model = await asyncio.to_thread(client.session, session_id)
        if model["state"] in FINAL_STATES:
            await drain()
            return model
        try:
            stream = await EventStream.connect(client, session_id)
        except DebugServerClientError as exc:
            if exc.status == 409:  # a session of an earlier server run: it has ended
                await drain()
                return await asyncio.to_thread(client.session, session_id)
            raise
        try:
            final = await _follow_stream(stream, drain)
        finally:
            await stream.aclose()
        if final is not None:
            return final
        # The stream closed before the end (a slow-client cut-off): look again, reconnect.


async def _follow_stream(stream: EventStream,
                         drain: Callable[[], Any]) -> Json | None:
    """Drain output whenever the stream says there is more; the final model, or None if
    the stream closed while the session still ran."""
    more = asyncio.Event()
    more.set()  # the history first
    final: list[Json] = []

    async def listen() -> None:
        while (frame := await stream.next()) is not None:
            kind = frame.get("type")
            if kind == "state" and frame["session"]["state"] in FINAL_STATES:
                final.append(frame["session"])
                break
            if kind == "dap" and frame["event"].get("event") == "output":
                more.set()
        more.set()

    listener = asyncio.ensure_future(listen())
    try:
        while True:
            await more.wait()
            more.clear()
            ended = listener.done()  # read before draining: the last drain follows the end
            await drain()
            if ended:
                listener.result()
                return final[0] if final else None
    finally:
        listener.cancel()


async def follow_snapshots(client: SessionClient, session_id: str,
                           on_snapshot: Callable[[Json], None], since: int = 0) -> Json:
    """Give `on_snapshot` every snapshot after seq `since`: the stored ones, then each
    stop's as it is taken, until the session ends; return its final model.

    The stream is opened before the history is read, and snapshots are numbered: one
    taken meanwhile comes by both ways and is given once, none is missed between them.
    """
    cursor = since

    def give(snapshot: Json) -> None:
        nonlocal cursor
        if snapshot["seq"] > cursor:
            cursor = snapshot["seq"]
            on_snapshot(snapshot)

    async def history() -> None:
        while True:
            page = await asyncio.to_thread(client.snapshots, session_id, cursor, 100)
            for item in page["items"]:
                give(item)
            if len(page["items"]) < 100:
                return

    while True:
        model = await asyncio.to_thread(client.session, session_id)
        if model["state"] in FINAL_STATES:
            await history()
            return model
        try:
            stream = await EventStream.connect(client, session_id, only="snapshot")
        except DebugServerClientError as exc:
            if exc.status == 409:  # a session of an earlier server run: it has ended
                await history()
                return await asyncio.to_thread(client.session, session_id)
            raise
        try:
            await history()
            while (frame := await stream.next()) is not None:
                if frame.get("type") == "snapshot":
                    give(frame["snapshot"])
                elif frame.get("type") == "state" and frame["session"]["state"] in (
                        FINAL_STATES):
                    await history()  # (nothing is left, unless the stream fell behind)
                    return dict(frame["session"])
        finally:
            await stream.aclose()
        # The stream closed before the end (a slow-client cut-off): look again, reconnect.
