"""DAP adapter for native programs through lldb-dap.

    python -m jupyter_debug_server.runner.debuggers.lldb_adapter [--session ID]
        [--channel-fd N] [--binary ./a.out] [--lldb-dap PATH] [-- ARGS...]

lldb-dap speaks DAP already; this worker relays to it and takes over what it
must own: a `launch` is turned into our exec stub (the program's own stdout and
stderr pipes, argv verbatim, no shell) that lldb-dap attaches to before the
program's first instruction, and the exit code is reported after the pipes are
drained. Nothing is read from `.lldbinit` files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
from typing import Any

from ...dap import ChannelClosed, DapChannel, DapRequestError
from . import worker
from .base import AdapterBase
from .dispatch import AdapterError, Registry, answer
from .native_target import NativeLaunch, launch_plan

log = logging.getLogger(__name__)

Message = dict[str, Any]
_START_TIMEOUT = 60.0
_PRIVATE_ENV_PREFIX = "JDS_"
_CANDIDATES = ("lldb-dap", *(f"lldb-dap-{n}" for n in range(30, 13, -1)), "lldb-vscode",
               *(f"lldb-vscode-{n}" for n in range(17, 9, -1)))

REQUESTS: Registry[LldbAdapter] = Registry()
request = REQUESTS.request


def find_lldb_dap(configured: str | None = None) -> str | None:
    """The lldb-dap (or lldb-vscode) executable: the configured one, else the newest on PATH."""
    if configured:
        return shutil.which(configured) or (configured if os.access(configured, os.X_OK)
                                             else None)
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class LldbAdapter(AdapterBase):
    """Relay between one DAP client and one lldb-dap. Owned by the worker's event loop."""

    def __init__(self, client: DapChannel, options: argparse.Namespace) -> None:
        super().__init__(client, options)
        self.lldb: DapChannel | None = None
        self.lldb_proc: asyncio.subprocess.Process | None = None
        self.launch: NativeLaunch | None = None
        self.kind: str | None = None
        self.stop_on_entry = False
        self.exec_stop: asyncio.Future[Message] | None = None
        self.lldb_initialized: asyncio.Future[None] | None = None

    def on_request(self, message: Message) -> None:
        """Our handler if the command has one, otherwise lldb-dap's."""
        handler = REQUESTS.handlers.get(message["command"])
        if handler is not None:
            worker.spawn_task(answer(self.client, handler, self, message), self.requests)
        else:
            self.forward(message)

    def forward(self, message: Message, arguments: Any = None) -> None:
        """Relay a request to lldb-dap."""
        self.forward_to(self.lldb, message, arguments, "lldb-dap")

    def _on_event(self, event: Message) -> None:
        name, body = event["event"], event.get("body") or {}
        # Start-up of a launch happens before the client is told `initialized`: the
        # attach to our stub and the stop at its exec are ours, not the user's.
        if name == "initialized" and self.lldb_initialized is not None:
            if not self.lldb_initialized.done():
                self.lldb_initialized.set_result(None)
            return
        if name == "stopped" and self.exec_stop is not None and not self.exec_stop.done():
            self.exec_stop.set_result(body)
            return
        if name == "stopped" and self.entry_pending:
            self.entry_pending = False
            body = {**body, "reason": "entry"}
        if name in ("exited", "terminated") and self.target is not None:
            return  # reported by us once the program's pipes are drained
        if name == "process" and self.launch is not None:
            body = {**body, "name": self.program_name, "startMethod": "launch"}
        self.client.send_event(name, body or None)

    async def start_lldb(self) -> DapChannel:
        """Spawn lldb-dap on pipes (no .lldbinit of the target's folder is read)."""
        path = find_lldb_dap(getattr(self.options, "lldb_dap", None))
        if path is None:
            raise AdapterError("no lldb-dap or lldb-vscode executable on PATH; install lldb "
                               "(apt-get install lldb-19) or pass --lldb-dap")
        env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_ENV_PREFIX)}
        self.lldb_proc = await asyncio.create_subprocess_exec(
            path, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env=env, cwd="/", start_new_session=True)
        assert self.lldb_proc.stdout is not None and self.lldb_proc.stdin is not None
        self.lldb = DapChannel(self.lldb_proc.stdout, self.lldb_proc.stdin, name="lldb-dap",
                               on_event=self._on_event)
        self.lldb.start()
        lldb = self.lldb

        async def watch() -> None:
            await lldb.wait_closed()
            if self.target is None:
                self.send_terminated()

        self.spawn(watch())
        return self.lldb

    async def shutdown(self, why: str) -> None:
        """End the session: kill a launched program, detach from an attached one."""
        log.info("lldb worker shutting down: %s", why)
        if self.launch is not None:
            self.launch.abort()
        if self.lldb is not None and not self.lldb.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.lldb.request(
                    "disconnect", {"terminateDebuggee": self.kind == "launch"}), 5)
            self.lldb.close(why)
        if self.target is not None and self.target.proc.returncode is None:
            self.target.kill()
        if self.lldb_proc is not None and self.lldb_proc.returncode is None:
            self.lldb_proc.kill()
            await self.lldb_proc.wait()
        self.cancel_tasks()

    program_name = ""
    exec_thread: Any = None
    entry_pending = False


@request("initialize")
async def _initialize(self: LldbAdapter, message: Message) -> None:
    lldb = await self.start_lldb()
    capabilities = await lldb.request("initialize", message.get("arguments") or {})
    capabilities = dict(capabilities or {})
    capabilities["supportsRunInTerminalRequest"] = False  # we own the program's stdio
    capabilities.pop("supportsRestartRequest", None)  # a restart would bypass our stub
    self.client.send_response(message, body=capabilities)


@request("launch")
async def _launch(self: LldbAdapter, message: Message) -> None:
    if self.lldb is None or self.kind is not None:
        raise AdapterError("send 'initialize' (once) before 'launch'")
    args = dict(message.get("arguments") or {})
    if args.get("coreFile"):
        self.kind = "core"
        self.forward(message, {"program": args.get("program") or self.options.binary,
                               "coreFile": args["coreFile"]})
        return
    argv, cwd, env = launch_plan(args, self.options.binary, self.options.args)
    self.kind = "launch"
    self.program_name = argv[0]
    self.stop_on_entry = bool(args.get("stopOnEntry"))
    assert self.lldb_proc is not None
    self.launch = await self.start_native(argv, cwd, env, ptracer=self.lldb_proc.pid)
    try:
        await asyncio.wait_for(_attach_and_exec(self, argv[0]), _START_TIMEOUT)
    except (DapRequestError, asyncio.TimeoutError) as exc:
        self.launch.abort()
        raise AdapterError(f"lldb-dap could not take control of {argv[0]!r}: {exc}") from None
    self.client.send_response(message)
    self.client.send_event("initialized")


async def _attach_and_exec(self: LldbAdapter, program: str) -> None:
    """Attach lldb-dap to the parked stub and run it into the program's exec."""
    assert self.lldb is not None and self.launch is not None
    loop = asyncio.get_running_loop()
    self.lldb_initialized = loop.create_future()
    self.exec_stop = loop.create_future()
    await self.lldb.request("attach", {"pid": self.launch.pid, "program": program})
    await self.lldb_initialized
    await self.lldb.request("configurationDone")
    self.launch.release()
    stop = await self.exec_stop
    self.exec_thread = stop.get("threadId")


@request("configurationDone")
async def _configuration_done(self: LldbAdapter, message: Message) -> None:
    if self.lldb is None:
        raise AdapterError("'configurationDone' is only valid after 'launch' or 'attach'")
    if self.kind != "launch":
        await self.lldb.request("configurationDone", message.get("arguments"))
        self.client.send_response(message)
        return
    # lldb-dap was configured during start-up; the program waits right after its exec.
    self.client.send_response(message)
    if self.stop_on_entry:
        with contextlib.suppress(DapRequestError):  # a program without main just runs
            await self.lldb.request("evaluate", {
                "expression": "`breakpoint set --one-shot true --name main",
                "context": "repl"})
        self.entry_pending = True
    await self.lldb.request("continue", {"threadId": self.exec_thread})


@request("disconnect")
async def _disconnect(self: LldbAdapter, message: Message) -> None:
    args = dict(message.get("arguments") or {})
    terminate = args.get("terminateDebuggee", self.kind == "launch")
    if self.lldb is not None and not self.lldb.is_closed:
        with contextlib.suppress(DapRequestError, ChannelClosed):
            await asyncio.wait_for(self.lldb.request(
                "disconnect", {"terminateDebuggee": bool(terminate)}), _START_TIMEOUT)
    if self.target is not None and terminate:
        if self.target.proc.returncode is None:
            self.target.kill()
        await asyncio.wait_for(asyncio.shield(self._finished), _START_TIMEOUT)
    self.client.send_response(message)
    self.send_terminated()


def main() -> None:
    """Run the worker (see the module docstring for the command line)."""
    parser = worker.base_parser("Debug a native program over DAP, through lldb-dap.")
    parser.add_argument("--binary", help="default 'program' for a launch request")
    parser.add_argument("--lldb-dap", help="the lldb-dap executable (default: found on PATH)")
    parser.add_argument("args", nargs="*", help="default 'args' for a launch request")
    worker.run(LldbAdapter, parser.parse_args())


if __name__ == "__main__":
    main()
