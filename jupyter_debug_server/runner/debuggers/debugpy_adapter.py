"""DAP adapter for Python programs: our own front for debugpy's pydevd.

    python -m jupyter_debug_server.runner.debuggers.debugpy_adapter [--session ID]
        [--channel-fd N] [--program FILE | --module NAME] [-- ARGS...]

pydevd (the debugger inside the debuggee) already speaks DAP. What stock
debugpy adds around it is an adapter process that reaches pydevd over loopback
TCP, with an access token on the debuggee's argv: reachable by every user of a
shared host. This adapter instead hands pydevd a socket that is already
connected (see pydevd_boot.py), captures the debuggee's own stdout/stderr
pipes, and relays everything else to pydevd unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Awaitable
from typing import Any

from ...dap import ChannelClosed, DapChannel, DapRequestError, DapTimeout
from . import pydevd_attach, worker
from .attachable import AttachRefused, parse_pid
from .base import AdapterBase
from .dispatch import AdapterError, Registry, answer
from .target import Target

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
#: Requests pydevd reads `source.path` of without a check (a source without one, e.g. by
#: sourceReference, failed inside pydevd, which then dropped its connection).
_BY_PATH = frozenset({"setBreakpoints", "gotoTargets"})
#: Seconds a program has to exit after its pydevd closed the connection before it is
#: taken for a pydevd that left a running program.
_EXIT_AFTER_CLOSE = 2.0
#: Seconds pydevd has to answer a `continue` (it does when a thread resumes, in
#: milliseconds) before we take it that no thread was suspended.
_CONTINUE_ANSWER = 2.0
#: Seconds pydevd has to answer `stepInTargets` (milliseconds when the thread is stopped).
_STEP_IN_TARGETS_ANSWER = 10.0

Message = dict[str, Any]

BOOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pydevd_boot.py")
# Environment variables of ours that must never reach a debuggee.
_PRIVATE_ENV_PREFIX = "JDS_"
_HANDSHAKE_TIMEOUT = 60.0

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
    "exceptionBreakpointFilters": [
        {"filter": "raised", "label": "Raised Exceptions", "default": False},
        {"filter": "uncaught", "label": "Uncaught Exceptions", "default": True},
        {"filter": "userUnhandled", "label": "User Uncaught Exceptions", "default": False},
    ],
}

REQUESTS: Registry[DebugpyAdapter] = Registry(CAPABILITIES)
request = REQUESTS.request


def _debugpy_dir() -> str:
    import debugpy

    return os.path.dirname(os.path.dirname(os.path.abspath(debugpy.__file__)))


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AdapterError(f"'{name}' must be a list of strings, not {value!r}")
    return value


class DebugpyAdapter(AdapterBase):
    """One debug session of one Python process. Owned by the worker's event loop."""

    def __init__(self, client: DapChannel, options: argparse.Namespace) -> None:
        super().__init__(client, options)
        self.pydevd: DapChannel | None = None
        self.kind: str | None = None
        self._init_args: Message | None = None
        self._start_request: Message | None = None
        # (validate branch) Whether pydevd last reported a stop: it never answers a
        # `continue` while the program runs, so we answer that one ourselves.
        self.stopped = False
        # The DAP ids of the threads pydevd told of (see _THREAD_COMMANDS).
        self.threads: set[int] = set()
        # Threads stopped on an exception: pydevd answers `exceptionInfo` for no other
        # (it prints an AttributeError into the program's stderr and never answers).
        self.exception_stops: set[int] = set()
        # A client's disconnect without terminateDebuggee: pydevd goes, the program stays.
        self.detaching = False

    async def shutdown(self, why: str) -> None:
        """End the session because the worker is exiting (see `_shutdown`)."""
        await _shutdown(self, why)

    # -- dispatch --------------------------------------------------------------

    def on_request(self, message: Message) -> None:
        """Handle a client request: ours if registered, otherwise pydevd's."""
        command = message["command"]
        handler = REQUESTS.handlers.get(command)
        if handler is not None:
            worker.spawn_task(answer(self.client, handler, self, message), self.requests)
        elif command not in _PYDEVD_COMMANDS:  # pydevd would never answer it
            self.client.send_response(message, success=False, message=(
                f"'{str(command)[:80]}' is not supported by debugpy"))
        elif command == "exceptionInfo" and (message.get("arguments") or {}).get(
                "threadId") not in self.exception_stops:
            thread = (message.get("arguments") or {}).get("threadId")
            self.client.send_response(message, success=False, message=(
                f"thread {thread} is not stopped on an exception"))
        elif command in _BY_PATH and not isinstance(
                ((message.get("arguments") or {}).get("source") or {}).get("path"), str):
            self.client.send_response(message, success=False, message=(
                f"'{command}' needs 'source.path': debugpy knows sources by file path"))
        elif (command in _THREAD_COMMANDS and self.pydevd is not None
              and (message.get("arguments") or {}).get("threadId") not in self.threads):
            worker.spawn_task(self._to_known_thread(message), self.requests)
        else:
            self._to_pydevd(message)

    def _to_pydevd(self, message: Message) -> None:
        if message["command"] in _RESUMING:
            self.stopped = False
            self.exception_stops.clear()
        self._forward(message)

    async def _to_known_thread(self, message: Message) -> None:
        """Forward a request for a thread we have not heard of if pydevd knows it now."""
        thread = message["arguments"]["threadId"]
        if self.pydevd is not None and not self.pydevd.is_closed:
            with contextlib.suppress(DapRequestError, ChannelClosed, TimeoutError):
                body = await self.pydevd.request("threads", timeout=_THREADS_TIMEOUT)
                self.threads = {t["id"] for t in body.get("threads") or []
                                if isinstance(t, dict) and isinstance(t.get("id"), int)}
        if thread in self.threads or self.pydevd is None or self.pydevd.is_closed:
            self._to_pydevd(message)  # (a closed pydevd: forward_to says so)
            return
        self.client.send_response(message, success=False, message=(
            f"there is no thread {thread} in the program; ask 'threads' for their ids"))

    def _forward(self, message: Message, arguments: Any = None) -> None:
        self.forward_to(self.pydevd, message, arguments, "the debuggee")

    def _on_pydevd_event(self, event: Message) -> None:
        name = event["event"]
        if name in ("stopped", "continued"):
            self.stopped = name == "stopped"
        body = event.get("body")
        body = body if isinstance(body, dict) else {}
        thread = body.get("threadId")
        if name == "continued":
            self.exception_stops.clear()
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

    def _check_startable(self) -> None:
        if self._init_args is None:
            raise AdapterError("send 'initialize' before 'launch' or 'attach'")
        if self.kind is not None:
            raise AdapterError(f"this session has already been started with '{self.kind}'")

    async def _handshake(self, sock: socket.socket, command: str, arguments: Message) -> None:
        """Connect to pydevd on `sock` and pass it `initialize` and the start request."""
        self.pydevd = await DapChannel.from_socket(
            sock, name="pydevd", on_event=self._on_pydevd_event
        )
        self.pydevd.start()
        assert self._init_args is not None
        await self.pydevd.request("initialize", self._init_args)
        # pydevd answers and then sends `initialized`, which goes straight to the client.
        await self.pydevd.request(command, arguments)

    async def _race_exit(self, work: Awaitable[None], what: str) -> None:
        """Run `work` unless the debuggee dies first; then explain how it died."""
        assert self.target is not None
        work_task: asyncio.Future[Any] = asyncio.ensure_future(work)
        exit_task: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.shield(self.target.proc.wait()))
        try:
            done, _ = await asyncio.wait(
                {work_task, exit_task},
                timeout=_HANDSHAKE_TIMEOUT,
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
        raise AdapterError(f"timed out after {_HANDSHAKE_TIMEOUT:.0f} s waiting for {what}")

    def on_target_exit(self) -> None:
        if self.pydevd is not None:
            self.pydevd.close("debuggee exited")

    def _launch_argv(self, args: Message) -> tuple[list[str], str | None, dict[str, str]]:
        program = args.get("program", self.options.program)
        module = args.get("module", self.options.module)
        if bool(program) == bool(module):
            raise AdapterError("'launch' needs exactly one of 'program' or 'module'")
        target_args = _string_list(args.get("args", self.options.args or []), "args")
        python = args.get("python", sys.executable)
        if isinstance(python, list):
            python = _string_list(python, "python")[0]
        if not isinstance(python, str):
            raise AdapterError(f"'python' must be a path to an interpreter, not {python!r}")
        cwd = args.get("cwd")
        if cwd is not None and (not isinstance(cwd, str) or not os.path.isdir(cwd)):
            raise AdapterError(f"'cwd' {cwd!r} is not a directory")
        env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_ENV_PREFIX)}
        # Without this the target's prints sit in a pipe buffer while you step.
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        extra = args.get("env") or {}
        if not isinstance(extra, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in extra.items()
        ):
            raise AdapterError("'env' must map strings to strings")
        env.update(extra)
        if module:
            if not isinstance(module, str):
                raise AdapterError(f"'module' must be a string, not {module!r}")
            what = ["-m", module]
        else:
            if not isinstance(program, str):
                raise AdapterError(f"'program' must be a string, not {program!r}")
            path = os.path.join(cwd or os.getcwd(), program)
            if not os.path.isfile(path):
                raise AdapterError(f"program {program!r} is not a file")
            what = [path]
        return [python, BOOT, "{fd}", _debugpy_dir(), *what, *target_args], cwd, env


@request("initialize")
async def _initialize(self: DebugpyAdapter, message: Message) -> None:
    if self._init_args is not None:
        raise AdapterError("the session is already initialized")
    self._init_args = dict(message.get("arguments") or {})
    self._init_args.setdefault("adapterID", "jupyter-debug-server")
    self.client.send_response(message, body=REQUESTS.capabilities)


@request("launch")
async def _launch(self: DebugpyAdapter, message: Message) -> None:
    self._check_startable()
    args = dict(message.get("arguments") or {})
    argv, cwd, env = self._launch_argv(args)
    self.kind = "launch"
    ours, theirs = socket.socketpair()
    try:
        argv[2] = str(theirs.fileno())
        target = await Target.spawn(
            argv, cwd=cwd, env=env, pass_fds=[theirs.fileno()], sink=self.output
        )
    except OSError as exc:
        ours.close()
        raise AdapterError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
    finally:
        theirs.close()
    self.announce_target(target)
    # pydevd's own output redirection stays off: we already have the pipes.
    args.update(isOutputRedirected=True, redirectOutput=False)
    # Answered after configurationDone, as debugpy does. Set before the handshake: the
    # client may send configurationDone as soon as pydevd's `initialized` reaches it.
    self._start_request = message
    try:
        await self._race_exit(self._handshake(ours, "launch", args), "the debugger started")
    except BaseException:
        self._start_request = None
        raise
    self.spawn(_end_when_pydevd_leaves(self, target))


async def _end_when_pydevd_leaves(self: DebugpyAdapter, target: Target) -> None:
    """pydevd closing its connection while the program runs leaves a program nobody can
    debug or stop through the session: say so and end it (its exit is reported)."""
    assert self.pydevd is not None
    await self.pydevd.wait_closed()
    # A program that ends closes pydevd's socket a moment before it exits: give it that.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(target.proc.wait()), _EXIT_AFTER_CLOSE)
    if target.proc.returncode is None and not self.detaching:
        await self.output("console", "pydevd closed its connection to the debugger; the "
                          "program can no longer be debugged and is being stopped\n")
        await target.terminate()


@request("attach")
async def _attach(self: DebugpyAdapter, message: Message) -> None:
    self._check_startable()
    args = dict(message.get("arguments") or {})
    try:
        pid = parse_pid(args.get("processId", args.get("pid")))
        self.kind = "attach"
        sock = await pydevd_attach.inject(pid, _debugpy_dir())
    except (AttachRefused, pydevd_attach.AttachError) as exc:
        self.kind = None
        raise AdapterError(str(exc)) from None
    self.client.send_event("jupyterDebugServer.target", {"pid": pid, "startTime": None})
    self._start_request = message  # before `initialized` can reach the client
    try:
        await asyncio.wait_for(self._handshake(sock, "attach", args), _HANDSHAKE_TIMEOUT)
    except BaseException:
        self._start_request = None
        raise
    assert self.pydevd is not None
    pydevd = self.pydevd

    async def watch() -> None:
        await pydevd.wait_closed()
        self.send_terminated()

    self.spawn(watch())


@request("configurationDone")
async def _configuration_done(self: DebugpyAdapter, message: Message) -> None:
    if self.pydevd is None or self._start_request is None:
        raise AdapterError("'configurationDone' is only valid after 'launch' or 'attach'")
    start, self._start_request = self._start_request, None

    def done(response: Message) -> None:
        self.relay(message, response)
        self.client.send_response(start, success=bool(response.get("success")),
                                  message=response.get("message"))

    self.pydevd.send_request("configurationDone", message.get("arguments"), done)


@request("continue")
async def _continue(self: DebugpyAdapter, message: Message) -> None:
    if not self.stopped:  # pydevd would never answer: the program already runs
        self.client.send_response(message, body={"allThreadsContinued": True})
        return
    self.stopped = False
    self.exception_stops.clear()
    pydevd = self.pydevd
    if pydevd is None or pydevd.is_closed:
        self._forward(message)  # (answers that the debuggee is not running)
        return
    # pydevd answers `continue` only once it resumes a suspended thread; when none was
    # (our view of the stop was stale, or the debuggee sent a `stopped` of its own) it
    # never answers: then the program already runs, and we say so.
    answered = False

    def done(response: Message) -> None:
        nonlocal answered
        if not answered:
            answered = True
            timer.cancel()
            self.relay(message, response)

    def running() -> None:
        nonlocal answered
        if not answered:
            answered = True
            self.client.send_response(message, body={"allThreadsContinued": True})

    timer = asyncio.get_running_loop().call_later(_CONTINUE_ANSWER, running)
    # As debugpy does: DAP clients expect every thread to resume.
    pydevd.send_request("continue", {**(message.get("arguments") or {}), "threadId": "*"},
                        done)


@request("stepInTargets")
async def _step_in_targets(self: DebugpyAdapter, message: Message) -> None:
    """pydevd runs it on the frame's thread; a thread that resumes first never answers it
    (the frame fuzzer met that), so the answer has a deadline (it runs no user code)."""
    if self.pydevd is None or self.pydevd.is_closed:
        self._forward(message)  # (answers that the debuggee is not running)
        return
    try:
        body = await self.pydevd.request("stepInTargets", message.get("arguments"),
                                         timeout=_STEP_IN_TARGETS_ANSWER)
    except DapTimeout:
        raise AdapterError(f"debugpy did not answer 'stepInTargets' within "
                           f"{_STEP_IN_TARGETS_ANSWER:.0f} s: the frame's thread resumed "
                           "before it was asked") from None
    self.client.send_response(message, body=body)


@request("cancel")
async def _cancel(self: DebugpyAdapter, message: Message) -> None:
    # pydevd never answers `cancel` (a request it runs is not cancellable): say so.
    self.client.send_response(message, success=False, message=(
        "debugpy cannot cancel a request; the request runs to its end"))


@request("pause")
async def _pause(self: DebugpyAdapter, message: Message) -> None:
    self._forward(message, {**(message.get("arguments") or {}), "threadId": "*"})


@request("terminate")
async def _terminate(self: DebugpyAdapter, message: Message) -> None:
    if self.kind == "launch" and self.target is not None:
        self.spawn(self.target.terminate())
        self.client.send_response(message)
    else:
        self._forward(message)


@request("disconnect")
async def _disconnect(self: DebugpyAdapter, message: Message) -> None:
    args = message.get("arguments") or {}
    terminate = args.get("terminateDebuggee", self.kind == "launch")
    if self.kind == "launch" and self.target is not None and terminate:
        await self.target.terminate()
        # The exit watcher reports exited/terminated; the response comes after them.
        await asyncio.wait_for(asyncio.shield(self._finished), _HANDSHAKE_TIMEOUT)
    elif self.pydevd is not None and not self.pydevd.is_closed:
        self.detaching = True
        with contextlib.suppress(DapRequestError, ChannelClosed):
            await self.pydevd.request("disconnect", {"terminateDebuggee": bool(terminate)})
        if self.kind == "attach":
            self.pydevd.close("client disconnected")
            self.send_terminated()
    self.client.send_response(message)
    if self.target is None:
        self.send_terminated()


async def _shutdown(self: DebugpyAdapter, why: str) -> None:
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




def main() -> None:
    """Run the worker (see the module docstring for the command line)."""
    parser = worker.base_parser("Debug a Python program over DAP (debugpy's pydevd).")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--program", help="default 'program' for a launch request")
    target.add_argument("--module", help="default 'module' for a launch request")
    parser.add_argument("args", nargs="*", help="default 'args' for a launch request")
    options = parser.parse_args()
    worker.run(DebugpyAdapter, options)


if __name__ == "__main__":
    main()
