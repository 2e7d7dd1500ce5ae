"""initialize, launch, attach (pid or core file), configurationDone, terminate, disconnect."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ....dap import ChannelClosed, DapRequestError
from ....dap.messages import Message
from ..attachable import explain_attach_failure
from ..native.launch import PASS_SIGNALS, launch_plan
from ..native.startup import START_TIMEOUT, attach_pid, start_arguments, terminate_launched
from ..registry import AdapterError, Answer, request
from .adapter import LldbAdapter

_TERMINATE_GRACE = 5.0


@request("initialize")
async def _initialize(adapter: LldbAdapter, **arguments: Any) -> dict[str, Any]:
    if adapter.lldb is not None:
        raise AdapterError("'initialize' was already sent")
    lldb = await adapter.start_lldb()
    adapter.first_column = 0 if arguments.get("columnsStartAt1") is False else 1
    capabilities = dict(await lldb.request("initialize", arguments) or {})
    capabilities["supportsRunInTerminalRequest"] = False  # we own the program's stdio
    capabilities.pop("supportsRestartRequest", None)  # a restart would bypass our stub
    capabilities.update(adapter.registry.capabilities)
    adapter.capabilities = capabilities
    return capabilities


async def _begin(adapter: LldbAdapter, command: str, arguments: Message) -> Message | None:
    """Checks common to launch and attach; None if a core file was opened instead."""
    if adapter.lldb is None or adapter.kind is not None:
        raise AdapterError(f"send 'initialize' (once) before '{command}'")
    return await start_arguments(arguments, adapter.options.binary,
                                 lambda program, core: _open_core(adapter, program, core))


@request("launch")
async def _launch(adapter: LldbAdapter, **arguments: Any) -> Answer | None:
    args = await _begin(adapter, "launch", arguments)
    if args is None:
        return None
    argv, cwd, env = launch_plan(args, adapter.options.binary, adapter.options.args)
    adapter.kind = "launch"
    adapter.program_name = argv[0]
    adapter.stop_on_entry = bool(args.get("stopOnEntry"))
    assert adapter.lldb_proc is not None
    adapter.launch = await adapter.start_native(argv, cwd, env, ptracer=adapter.lldb_proc.pid)
    try:
        await asyncio.wait_for(_attach_and_exec(adapter, argv[0]), START_TIMEOUT)
    except (DapRequestError, asyncio.TimeoutError) as exc:
        adapter.launch.abort()
        raise AdapterError(f"lldb-dap could not take control of {argv[0]!r}: {exc}") from None
    return Answer(after=lambda: adapter.client.send_event("initialized"))


async def _attach_and_exec(adapter: LldbAdapter, program: str) -> None:
    """Attach lldb-dap to the parked stub and run it into the program's exec."""
    lldb = adapter.require_lldb()
    assert adapter.launch is not None
    loop = asyncio.get_running_loop()
    adapter.lldb_initialized = loop.create_future()
    adapter.exec_stop = loop.create_future()
    await lldb.request("attach", {"pid": adapter.launch.pid, "program": program})
    await adapter.lldb_initialized
    for name in PASS_SIGNALS:
        await adapter.command(f"process handle {name} --stop false --notify false --pass true")
    await lldb.request("configurationDone")
    adapter.launch.release()
    stop = await adapter.exec_stop
    adapter.exec_thread = stop.get("threadId")


@request("attach")
async def _attach(adapter: LldbAdapter, **arguments: Any) -> None:
    args = await _begin(adapter, "attach", arguments)
    if args is None:
        return
    pid = attach_pid(args)
    adapter.kind = "attach"
    forwarded: Message = {"pid": pid}
    if isinstance(args.get("program"), str) and args["program"]:
        forwarded["program"] = args["program"]
    try:
        await asyncio.wait_for(adapter.require_lldb().request("attach", forwarded),
                               START_TIMEOUT)
    except DapRequestError as exc:
        raise AdapterError(explain_attach_failure(pid, f"lldb: {exc.message}")) from None
    adapter.client.send_event("jupyterDebugServer.target", {"pid": pid, "startTime": None})
    # (lldb-dap's own `initialized` follows the response)


async def _open_core(adapter: LldbAdapter, program: str, core: str) -> None:
    """A core file, from `launch` or `attach` (clients use either; lldb-dap wants attach)."""
    adapter.kind = "core"
    try:
        await adapter.require_lldb().request("attach", {"program": program, "coreFile": core})
    except DapRequestError as exc:
        raise AdapterError(f"lldb cannot open core file {core!r} of {program!r}: "
                           f"{exc.message}") from None


# Events after the response: the program's first events follow the answer.
@request("configurationDone", events_after_response=True)
async def _configuration_done(adapter: LldbAdapter, **arguments: Any) -> None:
    lldb = adapter.require_lldb()
    if adapter.kind is None:
        raise AdapterError("'configurationDone' is only valid after 'launch' or 'attach'")
    if adapter.kind != "launch":
        await lldb.request("configurationDone", arguments or None)
        return
    # lldb-dap was configured during start-up; the program waits right after its exec.
    if adapter.stop_on_entry:
        with contextlib.suppress(DapRequestError):  # a program without main just runs
            await adapter.command("breakpoint set --one-shot true --name main")
        adapter.entry_pending = True
    await lldb.request("continue", {"threadId": adapter.exec_thread})


@request("terminate")
async def _terminate(adapter: LldbAdapter) -> Answer:
    if adapter.kind == "attach":  # an attached process is never the session's target
        raise AdapterError("'terminate' ends a program this session launched; use "
                           "'disconnect' to detach from a process it attached to")

    async def resume() -> None:
        if adapter.stopped_thread is not None and adapter.lldb is not None:
            with contextlib.suppress(DapRequestError, ChannelClosed):
                await adapter.lldb.request("continue", {"threadId": adapter.stopped_thread})

    return terminate_launched(adapter, grace=_TERMINATE_GRACE, resume=resume)


@request("disconnect")
async def _disconnect(adapter: LldbAdapter, *,
                      terminateDebuggee: bool | None = None) -> Answer:
    adapter.ending = True  # lldb-dap's exit is expected from now on
    terminate = adapter.kind == "launch" if terminateDebuggee is None else terminateDebuggee
    if adapter.lldb is not None and not adapter.lldb.is_closed:
        with contextlib.suppress(DapRequestError, ChannelClosed):
            await asyncio.wait_for(adapter.lldb.request(
                "disconnect", {"terminateDebuggee": bool(terminate)}), START_TIMEOUT)
    if adapter.target is not None and terminate:
        if adapter.target.proc.returncode is None:
            adapter.target.kill()
        await asyncio.wait_for(asyncio.shield(adapter.finished), START_TIMEOUT)
    return Answer(after=adapter.send_terminated)
