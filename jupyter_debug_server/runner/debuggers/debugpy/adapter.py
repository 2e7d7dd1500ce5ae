"""DebugpyAdapter: one Python debuggee, its pydevd, and the DAP client.

pydevd (the debugger inside the debuggee) already speaks DAP: requests without a
handler of ours (requests.py) are relayed to it unchanged, and its events come back
here. Owned by the worker's event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable
from typing import Any

from ....dap import ChannelClosed, DapChannel, DapRequestError
from ....dap.messages import Message
from ..base import AdapterBase, spawn_task
from ..exception_filters import DEBUGPY_FILTERS
from ..registry import AdapterError, Registry, Relay
from .paging import READS, RESUMED, Paging

log = logging.getLogger(__name__)


#: (validate branch) The requests pydevd answers (its on_<command>_request methods):
#: any other is never answered, so the worker refuses it (found by the hardening fuzz).
_PYDEVD_COMMANDS = frozenset({
    "initialize", "configurationDone", "threads", "terminate", "completions", "launch",
    "attach", "pause", "continue", "next", "stepIn", "stepInTargets", "stepOut",
    "disconnect", "setFunctionBreakpoints", "setBreakpoints", "setExceptionBreakpoints",
    "stackTrace", "exceptionInfo", "scopes", "evaluate", "setExpression", "variables",
    "setVariable", "modules", "source", "gotoTargets", "goto", "pydevdAuthorize",
    "setDebuggerProperty", "pydevdSystemInfo", "setPydevdSourceMap"})
#: Requests that resume the program without a `continued` event from pydevd.
_RESUMING = frozenset({"next", "stepIn", "stepOut", "goto"})
#: Requests that name one thread. pydevd translates every id through one table shared
#: by threads, frames and variables, so an id that is no thread's (0, a frame's) makes
#: its step commands fail inside pydevd, which then drops its connection and leaves the
#: program undebuggable (found by the hardening fuzz): only known threads pass.
_THREAD_COMMANDS = frozenset({"next", "stepIn", "stepOut", "goto", "stackTrace",
                              "exceptionInfo"})
_THREADS_TIMEOUT = 10.0
#: Requests pydevd answers from the stopped thread itself (an internal command queued
#: for it): a thread that resumes first answers them late, at its next stop, or never.
_ON_THREAD = frozenset({"stackTrace", "variables", "evaluate", "setVariable",
                        "setExpression", "completions", "exceptionInfo"})
#: Requests pydevd reads `source.path` of without a check (a source without one, e.g. by
#: sourceReference, failed inside pydevd, which then dropped its connection).
_BY_PATH = frozenset({"setBreakpoints", "gotoTargets"})
HANDSHAKE_TIMEOUT = 60.0
_RESUMED = "the program resumed before debugpy answered '%s'; ask again at the next stop"

#: What we answer `initialize` with: pydevd's own capabilities (it answers the
#: requests); the target is not running yet when the client asks.
CAPABILITIES: dict[str, Any] = {
    "supportsConfigurationDoneRequest": True,
    "supportsConditionalBreakpoints": True,
    "supportsHitConditionalBreakpoints": True,
    "supportsEvaluateForHovers": True,
    "supportsSetVariable": True,
    "supportsSetExpression": True,
    "supportsGotoTargetsRequest": True,
    "supportsCompletionsRequest": True,
    "supportsModulesRequest": True,
    "supportsExceptionOptions": True,
    "supportsValueFormattingOptions": True,
    "supportsExceptionInfoRequest": True,
    "supportTerminateDebuggee": True,
    "supportsTerminateRequest": True,
    "supportsDelayedStackTraceLoading": True,
    "supportsLogPoints": True,
    "supportsFunctionBreakpoints": True,
    "supportsStepInTargetsRequest": True,
    "supportsClipboardContext": True,
    "exceptionBreakpointFilters": [dict(f) for f in DEBUGPY_FILTERS],
}


class DebugpyAdapter(AdapterBase):
    """One debug session of one Python process. Owned by the worker's event loop."""

    def __init__(self, client: DapChannel, options: argparse.Namespace,
                 registry: Registry[DebugpyAdapter]) -> None:
        super().__init__(client, options, registry)
        self.pydevd: DapChannel | None = None
        self.kind: str | None = None
        self.init_args: Message | None = None
        # (validate branch) Whether pydevd last reported a stop: it never answers a
        # `continue` while the program runs, so we answer that one ourselves.
        self.stopped = False
        # The DAP ids of the threads pydevd told of (see _THREAD_COMMANDS).
        self.threads: set[int] = set()
        # Requests pydevd answers from a stopped thread, not answered yet (_ON_THREAD).
        self.on_thread: dict[object, Message] = {}
        # Threads stopped on an exception: pydevd answers `exceptionInfo` for no other
        # (it prints an AttributeError into the program's stderr and never answers).
        self.exception_stops: set[int] = set()
        # A client's disconnect without terminateDebuggee: pydevd goes, the program stays.
        self.detaching = False
        # The worker's own requests to pydevd from a stopped thread, not answered yet.
        self.asking: dict[object, asyncio.Future[Any]] = {}
        # Large containers, paged here (pydevd ignores `start`/`count`).
        self.paging = Paging(self.ask, self.client)

    # -- requests pydevd answers -------------------------------------------------

    def unhandled(self, message: Message) -> None:
        """Relay a request without a handler of ours to pydevd, if pydevd answers it."""
        command = message["command"]
        if command not in _PYDEVD_COMMANDS:  # pydevd would never answer it
            self.client.send_response(message, success=False, message=(
                f"'{str(command)[:80]}' is not supported by debugpy"))
        elif refusal := self._refusal(command, message.get("arguments") or {}):
            self.client.send_response(message, success=False, message=refusal)
        elif (command in _THREAD_COMMANDS and self.pydevd is not None
              and (message.get("arguments") or {}).get("threadId") not in self.threads):
            spawn_task(self._to_known_thread(message), self.requests)
        else:
            self._to_pydevd(message)

    def _refusal(self, command: str, arguments: Message) -> str | None:
        """Why pydevd must not get this request (it would never answer, or fail)."""
        if command == "exceptionInfo" and arguments.get("threadId") not in \
                self.exception_stops:
            return f"thread {arguments.get('threadId')} is not stopped on an exception"
        if command in _BY_PATH and not isinstance(
                (arguments.get("source") or {}).get("path"), str):
            return f"'{command}' needs 'source.path': debugpy knows sources by file path"
        return None

    def _to_pydevd(self, message: Message) -> None:
        command = message["command"]
        if command in _RESUMING:
            self.leave_stop()
        pydevd = self.pydevd
        reply = None
        if command in READS and pydevd is not None and not pydevd.is_closed:
            if self.paging.takes(message):
                self.paging.answer(message)
                return
            reply = self.paging.relay
            if command not in _ON_THREAD:  # scopes: read on its way for its frame
                pydevd.send_request(command, message.get("arguments"),
                                    lambda response: self.paging.relay(message, response))
                return
        if command not in _ON_THREAD or pydevd is None or pydevd.is_closed:
            self.forward().send(message, self)
            return
        key = object()
        self.on_thread[key] = message

        def relay(response: Message) -> None:
            if self.on_thread.pop(key, None) is None:
                return
            if reply is not None:
                reply(message, response)
            else:
                self.client.send_response(message, success=bool(response.get("success")),
                                          body=response.get("body"),
                                          message=response.get("message"))

        pydevd.send_request(command, message.get("arguments"), relay)

    def ask(self, command: str, arguments: Message) -> asyncio.Future[Any]:
        """Ask pydevd a request of the worker's own about the stop (paging): its body.
        Fails with AdapterError when the program resumes first (pydevd would answer it
        late or never), DapRequestError when pydevd refuses, ChannelClosed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        pydevd = self.pydevd
        if pydevd is None or pydevd.is_closed or not self.stopped:
            future.set_exception(AdapterError(_RESUMED % command))
            return future
        key = object()
        self.asking[key] = future

        def done(response: Message) -> None:
            if self.asking.pop(key, None) is None or future.done():
                return
            if response.get("closed"):
                future.set_exception(ChannelClosed(str(response.get("message"))))
            elif not response.get("success"):
                future.set_exception(DapRequestError(
                    command, str(response.get("message") or f"{command} failed"), response))
            else:
                body = response.get("body")
                future.set_result(body if isinstance(body, dict) else {})

        pydevd.send_request(command, arguments, done)
        return future

    def leave_stop(self) -> None:
        """The program resumes (a step, continue or goto was sent, or pydevd said so):
        what we knew about the stop is gone, and our own questions about it are
        abandoned (pydevd would answer them late or never)."""
        self.stopped = False
        self.exception_stops.clear()
        if self.asking:
            asking, self.asking = self.asking, {}
            for future in asking.values():
                if not future.done():
                    future.set_exception(AdapterError(RESUMED))
        self.paging.resumed()

    def _resumed(self) -> None:
        """pydevd says the program resumed. What it was to answer from a stopped thread
        and has not answered by now, it answers late (at the next stop, about a frame
        long gone) or never (the frame fuzzer met both): we answer it now, and drop a
        late answer. (pydevd's responses come before its `continued`, in order.)"""
        self.leave_stop()
        pending, self.on_thread = self.on_thread, {}
        for message in pending.values():
            self.client.send_response(message, success=False,
                                      message=_RESUMED % message["command"])

    async def _to_known_thread(self, message: Message) -> None:
        """Forward a request for a thread we have not heard of if pydevd knows it now."""
        thread = message["arguments"]["threadId"]
        if self.pydevd is not None and not self.pydevd.is_closed:
            with contextlib.suppress(DapRequestError, ChannelClosed, TimeoutError):
                body = await self.pydevd.request("threads", timeout=_THREADS_TIMEOUT)
                self.threads = {t["id"] for t in body.get("threads") or []
                                if isinstance(t, dict) and isinstance(t.get("id"), int)}
        if thread in self.threads or self.pydevd is None or self.pydevd.is_closed:
            self._to_pydevd(message)  # (a closed pydevd: the Relay says so)
            return
        self.client.send_response(message, success=False, message=(
            f"there is no thread {thread} in the program; ask 'threads' for their ids"))

    def forward(self, arguments: Any = None) -> Relay:
        """An answer by pydevd (to the request with `arguments`, or its own)."""
        return Relay(self.pydevd, arguments, "the debuggee")

    def _on_pydevd_event(self, event: Message) -> None:
        name = event["event"]
        if name == "stopped":
            self.stopped = True
        elif name == "continued":
            self._resumed()
        body = event.get("body")
        body = body if isinstance(body, dict) else {}
        thread = body.get("threadId")
        if isinstance(thread, int):
            if name == "thread" and body.get("reason") == "exited":
                self.threads.discard(thread)
            elif name in ("thread", "stopped"):
                self.threads.add(thread)
            if name == "stopped" and body.get("reason") == "exception":
                self.exception_stops.add(thread)
        if name in ("exited", "terminated") and self.kind == "launch":
            return  # we report the real exit code once the pipes are drained
        if name == "terminated":
            self.send_terminated()
            return
        self.relay_event(name, event.get("body"))

    # -- start-up --------------------------------------------------------------

    def check_startable(self) -> None:
        """Refuse a second start, or one before `initialize`."""
        if self.init_args is None:
            raise AdapterError("send 'initialize' before 'launch' or 'attach'")
        if self.kind is not None:
            raise AdapterError(f"this session has already been started with '{self.kind}'")

    async def handshake(self, sock: socket.socket, command: str, arguments: Message) -> None:
        """Connect to pydevd on `sock` and pass it `initialize` and the start request."""
        self.pydevd = await DapChannel.from_socket(
            sock, name="pydevd", on_event=self._on_pydevd_event
        )
        self.pydevd.start()
        assert self.init_args is not None
        await self.pydevd.request("initialize", self.init_args)
        # pydevd answers and then sends `initialized`, which goes straight to the client.
        await self.pydevd.request(command, arguments)

    async def race_exit(self, work: Awaitable[None], what: str) -> None:
        """Run `work` unless the debuggee dies first; then explain how it died."""
        assert self.target is not None
        work_task: asyncio.Future[Any] = asyncio.ensure_future(work)
        exit_task: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.shield(self.target.proc.wait()))
        try:
            done, _ = await asyncio.wait(
                {work_task, exit_task},
                timeout=HANDSHAKE_TIMEOUT,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            exit_task.cancel()
        if work_task in done:
            work_task.result()
            return
        work_task.cancel()
        if exit_task in done:
            await self.target.wait()
            tail = self.stderr_tail.strip()
            raise AdapterError(
                f"the program exited with code {self.target.exit_code} before {what}"
                + (f"; its last error output was:\n{tail}" if tail else "")
            )
        raise AdapterError(f"timed out after {HANDSHAKE_TIMEOUT:.0f} s waiting for {what}")

    # -- the end -----------------------------------------------------------------

    def on_target_exit(self) -> None:
        if self.pydevd is not None:
            self.pydevd.close("debuggee exited")

    async def shutdown(self, why: str) -> None:
        """End the session when the worker exits: detach or terminate, then close."""
        log.info("worker shutting down: %s", why)
        if self.kind == "attach" and self.pydevd is not None and not self.pydevd.is_closed:
            # Leave a process we attached to running, without the debugger.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.pydevd.request("disconnect", {"terminateDebuggee": False}), 5
                )
        if self.target is not None and self.target.proc.returncode is None:
            await self.target.terminate()
        if self.pydevd is not None:
            self.pydevd.close(why)
        self.cancel_tasks()
