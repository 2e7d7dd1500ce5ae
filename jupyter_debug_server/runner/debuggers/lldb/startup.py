"""initialize, launch, attach (pid or core file), configurationDone, terminate, disconnect."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from ....dap import ChannelClosed, DapRequestError
from ..attachable import explain_attach_failure
from ..dispatch import AdapterError
from ..native_startup import START_TIMEOUT, attach_pid, start_arguments, terminate_launched
from ..native_target import PASS_SIGNALS, launch_plan
from .registry import REQUESTS, request

if TYPE_CHECKING:
    from .adapter import LldbAdapter

Message = dict[str, Any]
_TERMINATE_GRACE = 5.0


@request("initialize")
async def _initialize(self: LldbAdapter, message: Message) -> None:
    if self.lldb is not None:
        raise AdapterError("'initialize' was already sent")
    lldb = await self.start_lldb()
    arguments = message.get("arguments") or {}
    self.first_column = 0 if arguments.get("columnsStartAt1") is False else 1
    capabilities = dict(await lldb.request("initialize", arguments) or {})
    capabilities["supportsRunInTerminalRequest"] = False  # we own the program's stdio
    capabilities.pop("supportsRestartRequest", None)  # a restart would bypass our stub
    capabilities.update(REQUESTS.capabilities)
    self.capabilities = capabilities
    self.client.send_response(message, body=capabilities)


async def _begin(self: LldbAdapter, message: Message) -> Message | None:
    """Checks common to launch and attach; None if a core file was opened instead."""
    if self.lldb is None or self.kind is not None:
        raise AdapterError(f"send 'initialize' (once) before '{message['command']}'")
    return await start_arguments(message, self.options.binary,
                                 lambda program, core: _open_core(self, message, program, core))


@request("launch")
async def _launch(self: LldbAdapter, message: Message) -> None:
    args = await _begin(self, message)
    if args is None:
        return
    argv, cwd, env = launch_plan(args, self.options.binary, self.options.args)
    self.kind = "launch"
    self.program_name = argv[0]
    self.stop_on_entry = bool(args.get("stopOnEntry"))
    assert self.lldb_proc is not None
    self.launch = await self.start_native(argv, cwd, env, ptracer=self.lldb_proc.pid)
    try:
        await asyncio.wait_for(_attach_and_exec(self, argv[0]), START_TIMEOUT)
    except (DapRequestError, asyncio.TimeoutError) as exc:
        self.launch.abort()
        raise AdapterError(f"lldb-dap could not take control of {argv[0]!r}: {exc}") from None
    self.client.send_response(message)
    self.client.send_event("initialized")


async def _attach_and_exec(self: LldbAdapter, program: str) -> None:
    """Attach lldb-dap to the parked stub and run it into the program's exec."""
    lldb = self.require_lldb()
    assert self.launch is not None
    loop = asyncio.get_running_loop()
    self.lldb_initialized = loop.create_future()
    self.exec_stop = loop.create_future()
    await lldb.request("attach", {"pid": self.launch.pid, "program": program})
    await self.lldb_initialized
    for name in PASS_SIGNALS:
        await self.command(f"process handle {name} --stop false --notify false --pass true")
    await lldb.request("configurationDone")
    self.launch.release()
    stop = await self.exec_stop
    self.exec_thread = stop.get("threadId")


@request("attach")
async def _attach(self: LldbAdapter, message: Message) -> None:
    args = await _begin(self, message)
    if args is None:
        return
    pid = attach_pid(args)
    self.kind = "attach"
    forwarded: Message = {"pid": pid}
    if isinstance(args.get("program"), str) and args["program"]:
        forwarded["program"] = args["program"]
    try:
        await asyncio.wait_for(self.require_lldb().request("attach", forwarded),
                               START_TIMEOUT)
    except DapRequestError as exc:
        raise AdapterError(explain_attach_failure(pid, f"lldb: {exc.message}")) from None
    self.client.send_event("jupyterDebugServer.target", {"pid": pid, "startTime": None})
    self.client.send_response(message)  # lldb-dap's own `initialized` follows


async def _open_core(self: LldbAdapter, message: Message, program: str, core: str) -> None:
    """A core file, from `launch` or `attach` (clients use either; lldb-dap wants attach)."""
    self.kind = "core"
    try:
        await self.require_lldb().request("attach", {"program": program, "coreFile": core})
    except DapRequestError as exc:
        raise AdapterError(f"lldb cannot open core file {core!r} of {program!r}: "
                           f"{exc.message}") from None
    self.client.send_response(message)


@request("configurationDone")
async def _configuration_done(self: LldbAdapter, message: Message) -> None:
    lldb = self.require_lldb()
    if self.kind is None:
        raise AdapterError("'configurationDone' is only valid after 'launch' or 'attach'")
    if self.kind != "launch":
        await lldb.request("configurationDone", message.get("arguments"))
        self.client.send_response(message)
        return
    # lldb-dap was configured during start-up; the program waits right after its exec.
    self.client.send_response(message)
    if self.stop_on_entry:
        with contextlib.suppress(DapRequestError):  # a program without main just runs
            await self.command("breakpoint set --one-shot true --name main")
        self.entry_pending = True
    await lldb.request("continue", {"threadId": self.exec_thread})


@request("terminate")
async def _terminate(self: LldbAdapter, message: Message) -> None:
    if self.kind == "attach":  # an attached process is never the session's target
        raise AdapterError("'terminate' ends a program this session launched; use "
                           "'disconnect' to detach from a process it attached to")

    async def resume() -> None:
        if self.stopped_thread is not None and self.lldb is not None:
            with contextlib.suppress(DapRequestError, ChannelClosed):
                await self.lldb.request("continue", {"threadId": self.stopped_thread})

    terminate_launched(self, message, grace=_TERMINATE_GRACE, resume=resume)


@request("disconnect")
async def _disconnect(self: LldbAdapter, message: Message) -> None:
    args = dict(message.get("arguments") or {})
    terminate = args.get("terminateDebuggee", self.kind == "launch")
    if self.lldb is not None and not self.lldb.is_closed:
        with contextlib.suppress(DapRequestError, ChannelClosed):
            await asyncio.wait_for(self.lldb.request(
                "disconnect", {"terminateDebuggee": bool(terminate)}), START_TIMEOUT)
    if self.target is not None and terminate:
        if self.target.proc.returncode is None:
            self.target.kill()
        await asyncio.wait_for(asyncio.shield(self.finished), START_TIMEOUT)
    self.client.send_response(message)
    self.send_terminated()
