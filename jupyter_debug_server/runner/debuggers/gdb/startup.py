"""initialize, launch, configurationDone, terminate and disconnect for gdb."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from typing import TYPE_CHECKING, Any

from ..attachable import explain_attach_failure
from ..dispatch import AdapterError
from ..native_startup import (
    START_TIMEOUT,
    announce_process_group,
    attach_pid,
    debugger_lost,
    exit_cause,
    start_arguments,
    terminate_launched,
)
from ..native_target import PASS_SIGNALS, launch_plan
from .mi import MIConnection, MIError
from .registry import request

if TYPE_CHECKING:
    from .adapter import GdbAdapter

Message = dict[str, Any]
_TERMINATE_GRACE = 3.0


@request("initialize")
async def initialize(self: GdbAdapter, message: Message) -> None:
    if self.init_args is not None:
        raise AdapterError("the session is already initialized")
    self.init_args = dict(message.get("arguments") or {})
    from .registry import REQUESTS

    self.client.send_response(message, body=REQUESTS.capabilities)


async def _start_gdb(self: GdbAdapter) -> MIConnection:
    gdb = getattr(self.options, "gdb", None) or shutil.which("gdb")
    if gdb is None:
        raise AdapterError("no gdb executable on PATH; install gdb (apt-get install gdb)")
    mi = await MIConnection.start(gdb, on_record=self.on_record)
    self.mi = mi
    announce_process_group(self, mi.pid)
    self.spawn(_watch_gdb(self, mi))
    for signal_name in PASS_SIGNALS:
        await mi.console(f"handle {signal_name} nostop noprint pass")
    return mi


async def _watch_gdb(self: GdbAdapter, mi: MIConnection) -> None:
    """End the session when gdb dies on its own (a `close()` of ours is expected)."""
    code = await asyncio.shield(mi.exited)
    if not mi.closing:
        self.stopped_thread = None
        debugger_lost(self, f"gdb exited unexpectedly ({exit_cause(code)})")


async def _begin(self: GdbAdapter, message: Message) -> Message | None:
    """Checks common to launch and attach; None if a core file was opened instead."""
    if self.init_args is None:
        raise AdapterError(f"send 'initialize' before '{message['command']}'")
    if self.kind is not None:
        raise AdapterError(f"this session has already been started with '{self.kind}'")
    return await start_arguments(message, self.options.binary,
                                 lambda program, core: _start_core(self, message, program, core))


@request("launch")
async def launch(self: GdbAdapter, message: Message) -> None:
    args = await _begin(self, message)
    if args is None:
        return
    argv, cwd, env = launch_plan(args, self.options.binary, self.options.args)
    self.kind = "launch"
    self.stop_at_main = bool(args.get("stopOnEntry") or args.get("stopAtBeginningOfMainSubprogram"))
    mi = await _start_gdb(self)
    self.launch = await self.start_native(argv, cwd, env, ptracer=mi.pid)
    try:
        await asyncio.wait_for(_attach_and_exec(self, mi), START_TIMEOUT)
    except MIError as exc:
        self.launch.abort()
        raise AdapterError(f"gdb could not take control of {argv[0]!r}: {exc}") from None
    except asyncio.TimeoutError:
        self.launch.abort()
        raise AdapterError(f"{argv[0]!r} did not start within {START_TIMEOUT:.0f} s") from None
    self.client.send_response(message)
    _process_event(self, argv[0], self.launch.target.pid, "launch")
    self.client.send_event("initialized")


def _process_event(self: GdbAdapter, name: str, pid: int | None, method: str) -> None:
    """DAP's `process` event: which process is debugged (LLVM's dap_server.py waits for
    it after launch or attach, as lldb-dap sends it)."""
    body: dict[str, Any] = {"name": name, "isLocalProcess": True, "startMethod": method}
    if pid is not None:
        body["systemProcessId"] = pid
    self.client.send_event("process", body)


async def _attach_and_exec(self: GdbAdapter, mi: MIConnection) -> None:
    """Attach to the parked stub, let it exec the program, stop right after the exec."""
    assert self.launch is not None
    attached = self.expect_stop()
    await mi.command(f"-target-attach {self.launch.pid}")
    await attached
    await mi.console("tcatch exec")
    execed = self.expect_stop()
    await mi.command("-exec-continue")
    self.launch.release()
    stop = await execed
    if stop.get("reason") != "exec":
        tail = self.stderr_tail.strip()
        raise AdapterError(f"the program did not start (gdb stopped with {stop.get('reason')!r})"
                           + (f"; its error output was:\n{tail}" if tail else ""))


@request("attach")
async def attach(self: GdbAdapter, message: Message) -> None:
    args = await _begin(self, message)
    if args is None:
        return
    pid = attach_pid(args)
    self.kind = "attach"
    mi = await _start_gdb(self)
    program = args.get("program")
    if isinstance(program, str) and program:
        await mi.command(f"-file-exec-and-symbols {mi.quote(program)}")
    attached = self.expect_stop()
    try:
        await mi.command(f"-target-attach {pid}")
    except MIError as exc:
        raise AdapterError(explain_attach_failure(pid, f"gdb: {exc.message}")) from None
    await asyncio.wait_for(attached, START_TIMEOUT)
    self.client.send_event("jupyterDebugServer.target", {"pid": pid, "startTime": None})
    self.client.send_response(message)
    _process_event(self, program if isinstance(program, str) and program else f"process {pid}",
                   pid, "attach")
    self.client.send_event("initialized")


def _absolute(path: str) -> str:
    return os.path.abspath(path)  # no I/O: string work on the current directory


async def _start_core(self: GdbAdapter, message: Message, program: str, core: str) -> None:
    """A core file, from `launch` or `attach` (clients use either)."""
    self.kind = "core"
    await _open_core(self, await _start_gdb(self), program, core)
    self.client.send_response(message)
    _process_event(self, program, None, "attach")  # a core file: no live process
    self.client.send_event("initialized")


async def _open_core(self: GdbAdapter, mi: MIConnection, program: str, core: str) -> None:
    try:
        await mi.command(f"-file-exec-and-symbols {mi.quote(program)}")
        if "\n" in core:
            raise AdapterError("the core file path must not contain a newline")
        # `target core` takes the rest of the line as the file name, unquoted.
        await mi.command(f"-target-select core {_absolute(core)}")
    except MIError as exc:
        raise AdapterError(f"gdb cannot open core file {core!r} of {program!r}: "
                           f"{exc.message}") from None
    self.core = core
    self.stopped_thread = 1
    threads = await mi.command("-thread-info")
    current = threads.get("current-thread-id")
    if current is not None:
        self.stopped_thread = int(current)


@request("configurationDone")
async def configuration_done(self: GdbAdapter, message: Message) -> None:
    mi = self.require_mi()
    if not self.quiet:
        raise AdapterError("'configurationDone' was already sent")
    if self.stop_at_main:
        with contextlib.suppress(MIError):  # a program without main just runs
            await mi.command("-break-insert -t main")
            self.entry_pending = True
    self.quiet = False
    self.client.send_response(message)
    if self.kind == "core":
        # Nothing runs in a core file: show where it died, as a stop.
        self.client.send_event("stopped", {"reason": "exception", "threadId": self.stopped_thread,
                                           "allThreadsStopped": True,
                                           "description": "core file",
                                           "text": f"post-mortem: {self.core}"})
        return
    await mi.command("-exec-continue")


@request("terminate")
async def terminate(self: GdbAdapter, message: Message) -> None:
    async def resume() -> None:
        if self.stopped_thread is not None and self.mi is not None:
            with contextlib.suppress(MIError, ConnectionError):
                await self.mi.command("-exec-continue")

    terminate_launched(self, message, grace=_TERMINATE_GRACE, resume=resume,
                       kill=self.kill_target)


@request("disconnect")
async def disconnect(self: GdbAdapter, message: Message) -> None:
    args = message.get("arguments") or {}
    terminate_debuggee = args.get("terminateDebuggee", self.kind == "launch")
    if self.target is not None and self.target.proc.returncode is None and terminate_debuggee:
        await self.kill_target()
        await asyncio.wait_for(asyncio.shield(self.finished), START_TIMEOUT)
    elif self.mi is not None and not self.mi.exited.done():
        if self.kind == "attach":
            with contextlib.suppress(MIError, ConnectionError):
                await self.mi.command("-target-detach")  # the process runs on, undebugged
        await self.mi.close()
        self.send_terminated()
    self.client.send_response(message)
    self.send_terminated()
