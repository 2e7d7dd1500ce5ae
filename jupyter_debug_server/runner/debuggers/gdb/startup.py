"""initialize, launch, configurationDone, terminate and disconnect for gdb."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from typing import Any

from ....dap.messages import Message
from ..attachable import explain_attach_failure
from ..native.launch import PASS_SIGNALS, launch_plan
from ..native.startup import (
    START_TIMEOUT,
    announce_process_group,
    attach_pid,
    debugger_lost,
    exit_cause,
    start_arguments,
    terminate_launched,
)
from ..registry import AdapterError, Answer, request
from .adapter import GdbAdapter
from .mi import MIConnection, MIError

_TERMINATE_GRACE = 3.0


@request("initialize")
async def initialize(adapter: GdbAdapter, **arguments: Any) -> dict[str, Any]:
    if adapter.init_args is not None:
        raise AdapterError("the session is already initialized")
    adapter.init_args = arguments
    return adapter.registry.capabilities


async def _start_gdb(adapter: GdbAdapter) -> MIConnection:
    gdb = getattr(adapter.options, "gdb", None) or shutil.which("gdb")
    if gdb is None:
        raise AdapterError("no gdb executable on PATH; install gdb (apt-get install gdb)")
    mi = await MIConnection.start(gdb, on_record=adapter.on_record)
    adapter.mi = mi
    announce_process_group(adapter, mi.pid)
    adapter.spawn(_watch_gdb(adapter, mi))
    for signal_name in PASS_SIGNALS:
        await mi.console(f"handle {signal_name} nostop noprint pass")
    return mi


async def _watch_gdb(adapter: GdbAdapter, mi: MIConnection) -> None:
    """End the session when gdb dies on its own (a `close()` of ours is expected)."""
    code = await asyncio.shield(mi.exited)
    if not mi.closing:
        adapter.stopped_thread = None
        debugger_lost(adapter, f"gdb exited unexpectedly ({exit_cause(code)})")


async def _begin(adapter: GdbAdapter, command: str, arguments: Message) -> Message | None:
    """Checks common to launch and attach; None if a core file was opened instead."""
    if adapter.init_args is None:
        raise AdapterError(f"send 'initialize' before '{command}'")
    if adapter.kind is not None:
        raise AdapterError(f"this session has already been started with '{adapter.kind}'")
    return await start_arguments(arguments, adapter.options.binary,
                                 lambda program, core: _start_core(adapter, program, core))


# Events after the response: `process` and `initialized` follow the answer to a start.
@request("launch", events_after_response=True)
async def launch(adapter: GdbAdapter, **arguments: Any) -> None:
    args = await _begin(adapter, "launch", arguments)
    if args is None:
        return
    argv, cwd, env = launch_plan(args, adapter.options.binary, adapter.options.args)
    adapter.kind = "launch"
    adapter.stop_at_main = bool(args.get("stopOnEntry")
                                or args.get("stopAtBeginningOfMainSubprogram"))
    mi = await _start_gdb(adapter)
    adapter.launch = await adapter.start_native(argv, cwd, env, ptracer=mi.pid)
    try:
        await asyncio.wait_for(_attach_and_exec(adapter, mi), START_TIMEOUT)
    except MIError as exc:
        adapter.launch.abort()
        raise AdapterError(f"gdb could not take control of {argv[0]!r}: {exc}") from None
    except asyncio.TimeoutError:
        adapter.launch.abort()
        raise AdapterError(f"{argv[0]!r} did not start within {START_TIMEOUT:.0f} s") from None
    _process_event(adapter, argv[0], adapter.launch.target.pid, "launch")
    adapter.send_event("initialized")


def _process_event(adapter: GdbAdapter, name: str, pid: int | None, method: str) -> None:
    """DAP's `process` event: which process is debugged (LLVM's dap_server.py waits for
    it after launch or attach, as lldb-dap sends it)."""
    body: dict[str, Any] = {"name": name, "isLocalProcess": True, "startMethod": method}
    if pid is not None:
        body["systemProcessId"] = pid
    adapter.send_event("process", body)


async def _attach_and_exec(adapter: GdbAdapter, mi: MIConnection) -> None:
    """Attach to the parked stub, let it exec the program, stop right after the exec."""
    assert adapter.launch is not None
    attached = adapter.expect_stop()
    await mi.command(f"-target-attach {adapter.launch.pid}")
    await attached
    await mi.console("tcatch exec")
    execed = adapter.expect_stop()
    await mi.command("-exec-continue")
    adapter.launch.release()
    stop = await execed
    if stop.get("reason") != "exec":
        tail = adapter.stderr_tail.strip()
        raise AdapterError(f"the program did not start (gdb stopped with {stop.get('reason')!r})"
                           + (f"; its error output was:\n{tail}" if tail else ""))


@request("attach", events_after_response=True)
async def attach(adapter: GdbAdapter, **arguments: Any) -> None:
    args = await _begin(adapter, "attach", arguments)
    if args is None:
        return
    pid = attach_pid(args)
    adapter.kind = "attach"
    mi = await _start_gdb(adapter)
    program = args.get("program")
    if isinstance(program, str) and program:
        await mi.command(f"-file-exec-and-symbols {mi.quote(program)}")
    attached = adapter.expect_stop()
    try:
        await mi.command(f"-target-attach {pid}")
    except MIError as exc:
        raise AdapterError(explain_attach_failure(pid, f"gdb: {exc.message}")) from None
    await asyncio.wait_for(attached, START_TIMEOUT)
    adapter.client.send_event("jupyterDebugServer.target", {"pid": pid, "startTime": None})
    _process_event(adapter, program if isinstance(program, str) and program
                   else f"process {pid}", pid, "attach")
    adapter.send_event("initialized")


def _absolute(path: str) -> str:
    return os.path.abspath(path)  # no I/O: string work on the current directory


async def _start_core(adapter: GdbAdapter, program: str, core: str) -> None:
    """A core file, from `launch` or `attach` (clients use either)."""
    adapter.kind = "core"
    await _open_core(adapter, await _start_gdb(adapter), program, core)
    _process_event(adapter, program, None, "attach")  # a core file: no live process
    adapter.send_event("initialized")


async def _open_core(adapter: GdbAdapter, mi: MIConnection, program: str, core: str) -> None:
    try:
        await mi.command(f"-file-exec-and-symbols {mi.quote(program)}")
        if "\n" in core:
            raise AdapterError("the core file path must not contain a newline")
        # `target core` takes the rest of the line as the file name, unquoted.
        await mi.command(f"-target-select core {_absolute(core)}")
    except MIError as exc:
        raise AdapterError(f"gdb cannot open core file {core!r} of {program!r}: "
                           f"{exc.message}") from None
    adapter.core = core
    adapter.stopped_thread = 1
    threads = await mi.command("-thread-info")
    current = threads.get("current-thread-id")
    if current is not None:
        adapter.stopped_thread = int(current)


# Events after the response: a core file's stop, or the first stop of the program.
@request("configurationDone", events_after_response=True)
async def configuration_done(adapter: GdbAdapter) -> None:
    mi = adapter.require_mi()
    if not adapter.quiet:
        raise AdapterError("'configurationDone' was already sent")
    if adapter.stop_at_main:
        with contextlib.suppress(MIError):  # a program without main just runs
            await mi.command("-break-insert -t main")
            adapter.entry_pending = True
    adapter.quiet = False
    if adapter.kind == "core":
        # Nothing runs in a core file: show where it died, as a stop.
        adapter.send_event("stopped", {"reason": "exception", "threadId": adapter.stopped_thread,
                                           "allThreadsStopped": True,
                                           "description": "core file",
                                           "text": f"post-mortem: {adapter.core}"})
        return
    await mi.command("-exec-continue")


@request("terminate")
async def terminate(adapter: GdbAdapter) -> Answer:
    async def resume() -> None:
        if adapter.stopped_thread is not None and adapter.mi is not None:
            with contextlib.suppress(MIError, ConnectionError):
                await adapter.mi.command("-exec-continue")

    return terminate_launched(adapter, grace=_TERMINATE_GRACE, resume=resume,
                       kill=adapter.kill_target)


@request("disconnect")
async def disconnect(adapter: GdbAdapter, *,
                     terminateDebuggee: bool | None = None) -> Answer:
    terminate_debuggee = (adapter.kind == "launch" if terminateDebuggee is None
                          else terminateDebuggee)
    if adapter.target is not None and adapter.target.proc.returncode is None and terminate_debuggee:
        await adapter.kill_target()
        await asyncio.wait_for(asyncio.shield(adapter.finished), START_TIMEOUT)
    elif adapter.mi is not None and not adapter.mi.exited.done():
        if adapter.kind == "attach":
            with contextlib.suppress(MIError, ConnectionError):
                await adapter.mi.command("-target-detach")  # the process runs on, undebugged
        await adapter.mi.close()
        adapter.send_terminated()
    return Answer(after=adapter.send_terminated)
