"""What feeds each widget: coroutines on the updater's loop (updater.py) that read the
events WebSockets through the client library and push through a widget's `Pusher`.

- `SessionFollower`: a session's state, location (with source context), stack, top-frame
  variables and watches (from each stop's snapshot, or the stack and variables routes when
  the session takes none), snapshot timeline and output tail; and its buttons' commands.
- `OutputFollower`: a session's output tail only (`%debug_session logs -f`).
- `SessionsFollower`: the server's sessions (the /api/debug/events stream).

Each follower uses clients of its own, made from the widget's (the same URL and
credential): a client's HTTP connection belongs to one thread at a time, and the blocking
calls run in the loop's executor threads. REST reads go one at a time (`_reads`); each
command gets a client of its own, so a Continue that waits for the next stop never holds
up a Pause. A follower ends when its session ends or when its widget closes (its task is
cancelled), and closes its streams on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from ..client import FINAL_STATES, DebugServerClient, DebugServerClientError, Json
from ..client.events import EventStream, open_websocket
from .updater import Pusher, Updater
from .widget_state import (
    LATEST_SNAPSHOTS,
    OutputTail,
    frames_from_snapshot,
    frames_from_stack,
    last_seq,
    location_of,
    session_rows,
    session_summary,
    source_context,
    timeline_entry,
    variables_from_answer,
    variables_from_snapshot,
    watches_from_snapshot,
)

__all__ = ["COMMANDS", "OutputFollower", "SessionFollower", "SessionsFollower", "clone"]

T = TypeVar("T")
#: Output chunks read per page.
PAGE = 1000
#: Seconds a closing stream waits for the server's side of the close handshake.
CLOSE_WAIT = 6.0
#: The buttons' commands, and the client method each calls.
COMMANDS = ("continue", "pause", "step", "stop")
STEP_KINDS = ("over", "in", "out")


def clone(client: DebugServerClient) -> DebugServerClient:
    """A new client of the same server with the same credential (its own connection)."""
    transport = client.transport
    return DebugServerClient(client.url, client.token, timeout=transport.timeout,
                             ssl_context=transport.ssl_context)


@contextlib.asynccontextmanager
async def _counted(updater: Updater, stream: EventStream) -> AsyncIterator[EventStream]:
    """Count `stream` as open while in the block; close it (and wait for the server's
    side of the close, a bounded time) on the way out."""
    updater.stream_opened()
    try:
        yield stream
    finally:
        stream.close()
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(asyncio.shield(stream.connection.closed), CLOSE_WAIT)
        updater.stream_closed()


class _Follower:
    """What the followers share: the widget's pusher, a reading client, the updater."""

    def __init__(self, client: DebugServerClient, pusher: Pusher, updater: Updater) -> None:
        self.client = client
        self.pusher = pusher
        self.updater = updater
        self.reader = clone(client)
        self._reads = asyncio.Lock()

    async def read(self, method: Callable[..., T], *args: Any) -> T:
        """Call a blocking reading method of `self.reader` in an executor thread."""
        async with self._reads:
            return await asyncio.to_thread(method, *args)

    async def run(self) -> None:
        """Follow until the end or until cancelled; show a refusal's sentence."""
        try:
            await self.follow()
        except DebugServerClientError as exc:
            self.pusher.set(error=exc.message)
        finally:
            self.pusher.set(following=False)
            self.pusher.flush()
            await asyncio.to_thread(self.reader.close)

    async def follow(self) -> None:
        raise NotImplementedError


class _SessionStream(_Follower):
    """A follower of one session's event stream, reconnecting after an early close."""

    only: str | None = None  # the stream's `?only=` filter

    def __init__(self, client: DebugServerClient, session_id: str, pusher: Pusher,
                 updater: Updater, tail_lines: int) -> None:
        super().__init__(client, pusher, updater)
        self.session_id = session_id
        self.tail = OutputTail(tail_lines)
        self._more_output = asyncio.Event()

    async def follow(self) -> None:
        self.pusher.set(following=True)
        drainer = asyncio.ensure_future(self._drain_output())
        try:
            while True:
                model = await self.read(self.reader.session, self.session_id)
                self.on_model(model)
                if model["state"] in FINAL_STATES:
                    break
                try:
                    stream = await EventStream.connect(self.client, self.session_id,
                                                       only=self.only)
                except DebugServerClientError as exc:
                    if exc.status == 409:  # a session of an earlier server run: ended
                        continue  # (read its final model)
                    raise
                async with _counted(self.updater, stream):
                    await self.on_stream_open(model)
                    if await self._read_stream(stream):
                        break
                # The stream closed before the end (a slow-client cut-off): reconnect.
        finally:
            drainer.cancel()
            await asyncio.wait([drainer])
        await self._drain_once()  # what came before the end (after the drainer: one cursor)

    async def _read_stream(self, stream: EventStream) -> bool:
        """Handle frames until the session ends (True) or the stream closes (False)."""
        self._more_output.set()  # what was printed before the stream opened
        while (frame := await stream.next()) is not None:
            kind = frame.get("type")
            if kind == "state":
                self.on_model(frame["session"])
                if frame["session"]["state"] in FINAL_STATES:
                    return True
            elif kind == "snapshot":
                self.on_snapshot(frame["snapshot"])
            elif kind == "dap" and frame["event"].get("event") == "output":
                self._more_output.set()
        return False

    # -- output --------------------------------------------------------------------------

    async def _drain_output(self) -> None:
        """Read new output whenever the stream says there is some (one read at a time)."""
        while True:
            await self._more_output.wait()
            self._more_output.clear()
            await self._drain_once()

    async def _drain_once(self) -> None:
        added: list[str] = []
        reset = False
        while True:
            page = await self.read(self.reader.output, self.session_id, self.tail.cursor,
                                   PAGE)
            items = page["items"]
            if len(items) == PAGE:  # a flood: skip to the last lines, read those
                last = await last_seq(self._output_page)
                if last - self.tail.size > self.tail.cursor + PAGE:
                    self.tail.clear()
                    added, reset = [], True
                    self.tail.cursor = last - self.tail.size
                    continue
            for item in items:
                text = str(item.get("output") or item.get("text") or "")
                self.tail.add(text)
                added.append(text)
            self.tail.cursor = int(page["next"])
            if len(items) < PAGE:
                break
        if reset:
            self.pusher.message({"type": "output", "reset": True, "text": self.tail.text()},
                                merge=_merge_output)
        elif added:
            self.pusher.message({"type": "output", "reset": False, "text": "".join(added)},
                                merge=_merge_output)

    async def _output_page(self, since: int, limit: int) -> Json:
        return await self.read(self.reader.output, self.session_id, since, limit)

    def resend_output(self) -> None:
        """Send the whole tail (a new view of the widget asked for it). Loop-owned."""
        self.pusher.message({"type": "output", "reset": True, "text": self.tail.text()},
                            merge=_merge_output)

    # -- hooks ---------------------------------------------------------------------------

    def on_model(self, model: Json) -> None:
        """A new session model (the first, a state change, the final one)."""
        self.pusher.set(session=session_summary(model))

    async def on_stream_open(self, model: Json) -> None:
        """The stream is open; `model` was read just before."""

    def on_snapshot(self, snapshot: Json) -> None:
        """A stop's snapshot."""


def _merge_output(last: Json, new: Json) -> Json | None:
    """Two pending output messages as one (a reset replaces whatever came before)."""
    if last.get("type") != "output" or new.get("type") != "output":
        return None
    if new["reset"]:
        return new
    return {"type": "output", "reset": last["reset"], "text": last["text"] + new["text"]}


class OutputFollower(_SessionStream):
    """A session's state and output tail (`%debug_session logs -f`)."""

    only = "dap"


class SessionFollower(_SessionStream):
    """Everything SessionWidget shows, and its buttons' commands."""

    def __init__(self, client: DebugServerClient, session_id: str, pusher: Pusher,
                 updater: Updater, tail_lines: int) -> None:
        super().__init__(client, session_id, pusher, updater, tail_lines)
        self._where: tuple[Any, ...] | None = None  # the stop shown: (state, path, line)
        self._generation = 0  # of the stop shown, so late answers of older ones are dropped
        self._snapshots_on = True
        self._count = 0
        self._latest: list[Json] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def follow(self) -> None:
        try:
            await super().follow()
        finally:
            for task in list(self._tasks):
                task.cancel()

    def on_model(self, model: Json) -> None:
        super().on_model(model)
        self._snapshots_on = bool((model.get("spec") or {}).get("snapshots", True))
        location = location_of(model)
        where = (model.get("state"), location.get("path"), location.get("line"),
                 location.get("name"))
        if where == self._where:
            return
        self._where = where
        self._generation += 1
        self.pusher.set(location=location)
        if not location:
            return
        generation = self._generation
        self._spawn(self._source(generation, location))
        if not self._snapshots_on:
            self._spawn(self._details(generation))

    async def on_stream_open(self, model: Json) -> None:
        if self._snapshots_on:
            await self._load_timeline()
        if model["state"] == "stopped":
            # The stop was before the stream: its snapshot may be taken already.
            self._spawn(self._details(self._generation))

    async def _source(self, generation: int, location: Json) -> None:
        lines = await asyncio.to_thread(source_context, location.get("path"),
                                        location.get("line"))
        if generation == self._generation:
            self.pusher.set(location=location | {"source": lines})

    async def _details(self, generation: int) -> None:
        """The stack and top-frame variables from the REST routes (no snapshot to read)."""
        try:
            stack = await self.read(self.reader.stack, self.session_id)
            answer = await self.read(self.reader.variables, self.session_id)
        except DebugServerClientError:
            return  # (it ran on meanwhile: the next stop brings its own)
        if generation == self._generation:
            self.pusher.set(stack=frames_from_stack(stack),
                            variables=variables_from_answer(answer))

    async def _load_timeline(self) -> None:
        async def page(since: int, limit: int) -> Json:
            return await self.read(self.reader.snapshots, self.session_id, since, limit)

        last = await last_seq(page)
        if last <= self._count:
            return
        items = (await page(max(0, last - LATEST_SNAPSHOTS), LATEST_SNAPSHOTS))["items"]
        for item in items:
            self._timeline(item)
        if items and self._where and self._where[0] == "stopped":
            top = (items[-1].get("frames") or [{}])[0]
            if (top.get("path"), top.get("line")) == self._where[1:3]:
                self.pusher.set(watches=watches_from_snapshot(items[-1]))

    def _timeline(self, snapshot: Json) -> None:
        seq = int(snapshot.get("seq") or 0)
        if seq <= self._count:
            return
        self._count = seq
        self._latest = [timeline_entry(snapshot), *self._latest][:LATEST_SNAPSHOTS]
        self.pusher.set(snapshots={"count": self._count, "latest": self._latest})

    def on_snapshot(self, snapshot: Json) -> None:
        self._timeline(snapshot)
        self.pusher.set(stack=frames_from_snapshot(snapshot),
                        variables=variables_from_snapshot(snapshot),
                        watches=watches_from_snapshot(snapshot))

    # -- the buttons -----------------------------------------------------------------------

    async def command(self, name: str, kind: str = "over") -> None:
        """Run a button's command with a client of its own; a refusal's sentence goes to
        the widget's error line. Loop-owned; the call itself runs in an executor thread."""
        if name not in COMMANDS or (name == "step" and kind not in STEP_KINDS):
            self.pusher.set(error=f"{name!r} is not a command of the session widget: use "
                            f"one of {', '.join(COMMANDS)} (step {'/'.join(STEP_KINDS)})")
            return
        label = f"step {kind}" if name == "step" else name
        self.pusher.set(busy=label, error="")
        client = clone(self.client)
        try:
            await asyncio.to_thread(_run_command, client, self.session_id, name, kind)
        except DebugServerClientError as exc:
            self.pusher.set(error=exc.message)
        finally:
            self.pusher.set(busy="")
            await asyncio.to_thread(client.close)


def _run_command(client: DebugServerClient, session_id: str, name: str, kind: str) -> None:
    """One command through the client library (blocking; in an executor thread)."""
    if name == "continue":
        client.continue_(session_id)
    elif name == "pause":
        client.pause(session_id)
    elif name == "step":
        client.step(session_id, kind)
    else:
        client.terminate(session_id)


class SessionsFollower(_Follower):
    """The server's sessions, live, from /api/debug/events."""

    async def follow(self) -> None:
        self.pusher.set(following=True)
        models: dict[str, Json] = {}
        connection = await open_websocket(self.client, "/api/debug/events")
        async with _counted(self.updater, EventStream(connection)) as stream:
            while (frame := await stream.next()) is not None:
                if frame.get("type") == "sessions":
                    models = {str(m["id"]): m for m in frame["sessions"]}
                elif frame.get("type") == "session":
                    models[str(frame["session"]["id"])] = frame["session"]
                else:
                    continue
                self.pusher.set(sessions=session_rows(models))
        self.pusher.set(error="the server closed the stream of its sessions (it stopped?); "
                        "show the widget again to reconnect")
