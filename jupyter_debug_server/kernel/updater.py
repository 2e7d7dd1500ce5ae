"""The kernel's widget updater: one daemon thread with its own asyncio loop.

Why a thread: ipykernel 7 sends nothing from a task on the kernel's own loop while a cell
runs, so a widget fed from there would freeze during `time.sleep(3)`. Comm messages sent
from another thread do go out (ipykernel hands them to its IOPub thread). So every widget
of this process is fed from here: the followers (`followers.py`) read the session events
WebSocket on this loop and push coalesced updates through a `Pusher`; blocking REST calls
go to the loop's default executor, never to the kernel's thread or loop.

Idle costs nothing: the loop waits in `select` until a WebSocket frame or a call from the
kernel's thread arrives; there is no timer and no polling.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Hashable
from typing import Any

__all__ = ["PUSH_INTERVAL", "Pusher", "Updater", "updater"]

log = logging.getLogger("jupyter_debug_server.kernel")

#: Seconds between two pushes to one widget, at least (at most ~10 pushes a second).
PUSH_INTERVAL = 0.1

#: Pushes the traits and the custom messages of one coalesced update to a widget.
PushFunction = Callable[[dict[str, Any], list[dict[str, Any]]], None]


class Pusher:
    """Coalesce one widget's updates: trait values and messages collected between two
    pushes go out together, at most once per PUSH_INTERVAL. Owned by the updater's loop."""

    def __init__(self, push: PushFunction, interval: float = PUSH_INTERVAL) -> None:
        self._push = push
        self.interval = interval
        self._traits: dict[str, Any] = {}
        self._messages: list[dict[str, Any]] = []
        self._handle: asyncio.Handle | None = None
        self._last = 0.0  # time.monotonic() of the last push

    def set(self, **traits: Any) -> None:
        """Set these traits at the next push (later values win)."""
        self._traits.update(traits)
        self._schedule()

    def message(self, content: dict[str, Any], *, merge: Callable[[dict[str, Any],
                dict[str, Any]], dict[str, Any] | None] | None = None) -> None:
        """Send `content` at the next push; `merge(last, content)` may fold it into the
        last pending message (returning the merged one) instead of adding another."""
        if merge is not None and self._messages:
            merged = merge(self._messages[-1], content)
            if merged is not None:
                self._messages[-1] = merged
                self._schedule()
                return
        self._messages.append(content)
        self._schedule()

    def _schedule(self) -> None:
        if self._handle is not None:
            return  # a push is coming: it takes this change too
        loop = asyncio.get_running_loop()
        wait = self._last + self.interval - time.monotonic()
        if wait <= 0:
            self._handle = loop.call_soon(self.flush)
        else:
            self._handle = loop.call_later(wait, self.flush)

    def flush(self) -> None:
        """Push what is pending now."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        traits, self._traits = self._traits, {}
        messages, self._messages = self._messages, []
        if not traits and not messages:
            return
        self._last = time.monotonic()
        try:
            self._push(traits, messages)
        except Exception:  # a widget's comm gone wrong must not stop the other widgets
            log.exception("a debug session widget could not be updated")

    def cancel(self) -> None:
        """Drop what is pending (the widget is closed)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._traits.clear()
        self._messages.clear()


class Updater:
    """The daemon thread that runs every widget follower of this kernel process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}  # owned by the loop
        self._streams = 0  # event WebSockets open now (owned by the loop)
        self.thread = threading.Thread(target=self._run, name="jupyter-debug-server-widgets",
                                       daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    # -- called from any thread (the kernel's) -----------------------------------------

    def follow(self, key: Hashable, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run the follower coroutine `run()` on the updater's loop under `key` (a key
        already followed is left as it is)."""
        self.loop.call_soon_threadsafe(self._start, key, run)

    def unfollow(self, key: Hashable) -> concurrent.futures.Future[None]:
        """Stop the follower of `key`; the future is done once it has closed its streams."""
        return asyncio.run_coroutine_threadsafe(self._stop(key), self.loop)

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Run `coro` on the updater's loop (a widget's button command)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, function: Callable[[], None]) -> None:
        """Call `function()` on the updater's loop."""
        self.loop.call_soon_threadsafe(function)

    def status(self) -> dict[str, int]:
        """How many followers run and how many event streams they have open."""
        async def read() -> dict[str, int]:
            return {"followers": len(self._tasks), "streams": self._streams}
        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(10)

    # -- owned by the loop -------------------------------------------------------------

    def _start(self, key: Hashable, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if key in self._tasks:
            return
        task = self.loop.create_task(run())
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._ended(key, done))

    def _ended(self, key: Hashable, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("a debug session widget stopped following", exc_info=task.exception())

    async def _stop(self, key: Hashable) -> None:
        task = self._tasks.get(key)
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task])

    def stream_opened(self) -> None:
        """A follower opened an event stream (for `status`)."""
        self._streams += 1

    def stream_closed(self) -> None:
        """A follower's event stream is closed (for `status`)."""
        self._streams -= 1


_lock = threading.Lock()
# One per process by design (issue 17): a thread per widget would multiply idle threads
# and loops; this one is created with the first widget and lives as long as the kernel.
_instance: list[Updater] = []


def updater() -> Updater:
    """The process's updater thread, started on first use."""
    with _lock:
        if not _instance:
            _instance.append(Updater())
        return _instance[0]
