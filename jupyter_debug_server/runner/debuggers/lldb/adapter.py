"""LldbAdapter: the relay between one DAP client and one lldb-dap, and what it corrects.

lldb-dap speaks DAP already, so most requests pass through untouched. Events are
adjusted where lldb-dap differs from what the gdb and debugpy adapters say for the
same thing (a pause reported as SIGSTOP, a core file's stop, a pending breakpoint
without a reason), so a client sees one behaviour whatever the native debugger.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from typing import Any

from ....dap import DapChannel
from ....dap.messages import Message
from ..base import AdapterBase
from ..native.launch import NativeLaunch
from ..native.startup import announce_process_group, debugger_lost, exit_cause
from ..processes import die_with_parent, kill_group
from ..registry import AdapterError, Registry, Relay
from .discovery import find_lldb_dap

log = logging.getLogger(__name__)

_PRIVATE_ENV_PREFIX = "JDS_"
PENDING = "pending: the location is not loaded yet"

#: What the lldb adapter advertises besides lldb-dap's and its handlers' capabilities.
BASE_CAPABILITIES: dict[str, Any] = {"supportsTerminateRequest": True}

#: The requests lldb-dap 19 answers (its RegisterRequestCallbacks). It exits on any other
#: command (found by the hardening fuzz, issue 11: runInTerminal, startDebugging,
#: locations, cancel…), so the adapter refuses what is neither here nor in its registry.
LLDB_DAP_COMMANDS = frozenset({
    "attach", "completions", "continue", "configurationDone", "disconnect", "evaluate",
    "exceptionInfo", "initialize", "launch", "next", "pause", "restart", "scopes",
    "setBreakpoints", "setExceptionBreakpoints", "setFunctionBreakpoints", "setVariable",
    "source", "stackTrace", "stepIn", "stepInTargets", "stepOut", "threads", "variables",
    "dataBreakpointInfo", "setDataBreakpoints", "compileUnits", "modules",
})
_CORE = "a core file is a snapshot of a dead process: it cannot run or step"
_RUN_OR_STEP = frozenset({"continue", "next", "stepIn", "stepOut", "stepBack",
                          "reverseContinue", "pause", "goto", "restartFrame"})
# Requests lldb-dap answers only if it advertised the capability; without it, they get
# our sentence instead of lldb-dap's "unrecognized command".
_GATED = {
    "readMemory": "supportsReadMemoryRequest", "writeMemory": "supportsWriteMemoryRequest",
    "stepBack": "supportsStepBack", "reverseContinue": "supportsStepBack",
    "restartFrame": "supportsRestartFrame", "goto": "supportsGotoTargetsRequest",
    "gotoTargets": "supportsGotoTargetsRequest", "setExpression": "supportsSetExpression",
    "loadedSources": "supportsLoadedSourcesRequest", "cancel": "supportsCancelRequest",
    "breakpointLocations": "supportsBreakpointLocationsRequest",
    "setInstructionBreakpoints": "supportsInstructionBreakpoints",
    "restart": "supportsRestartRequest",
}
#: Seconds the program has to exit after lldb-dap reports its end, and lldb-dap to answer
#: `disconnect` when the session ends: well inside the server's shutdown_timeout.
_EXIT_GRACE = 2.0


class LldbAdapter(AdapterBase):
    """Relay between one DAP client and one lldb-dap. Owned by the worker's event loop."""

    def __init__(self, client: DapChannel, options: argparse.Namespace,
                 registry: Registry[LldbAdapter]) -> None:
        super().__init__(client, options, registry)
        self.lldb: DapChannel | None = None
        self.lldb_proc: asyncio.subprocess.Process | None = None
        self.capabilities: dict[str, Any] = {}
        self.launch: NativeLaunch | None = None
        self.kind: str | None = None  # launch | attach | core
        self.program_name = ""
        self.stop_on_entry = False
        # Start-up of a launch: lldb-dap's `initialized` and the stop at the exec are ours.
        self.exec_stop: asyncio.Future[Message] | None = None
        self.lldb_initialized: asyncio.Future[None] | None = None
        # The client's first column (DAP's columnsStartAt1): completions are checked by it.
        self.first_column = 1
        self.exec_thread: Any = None
        self.entry_pending = False
        self.pause_pending = False
        self.stopped_thread: int | None = None
        # Set once the session is being ended by us: lldb-dap's exit is expected then.
        self.ending = False

    def unhandled(self, message: Message) -> None:
        """Relay a request to lldb-dap unchanged, if lldb-dap knows it and our checks
        pass (synchronously: stepping requests come here, and a task per step would
        cost every step a loop turn); its answer goes straight back to the client."""
        command = message["command"]
        if command not in LLDB_DAP_COMMANDS:
            self.client.send_response(message, success=False, message=(
                f"'{str(command)[:80]}' is not supported by the lldb adapter "
                "(lldb-dap 19 does not know it)"))
            return
        try:
            self._check(command)
        except AdapterError as exc:
            self.client.send_response(message, success=False, message=str(exc))
            return
        self.forward().send(message, self)

    def _check(self, command: str) -> None:
        """Refuse what this session or this lldb-dap cannot do (AdapterError)."""
        if command in _RUN_OR_STEP and self.kind == "core":
            raise AdapterError(_CORE)
        capability = _GATED.get(command)
        if capability and not self.capabilities.get(capability):
            raise AdapterError(f"'{command}' is not supported by this lldb-dap (its "
                               f"capabilities do not include {capability}); the gdb "
                               "adapter offers it")
        if command == "pause":
            self.pause_pending = True

    def forward(self, arguments: Any = None) -> Relay:
        """An answer by lldb-dap (to the request with `arguments`, or its own)."""
        return Relay(self.lldb, arguments, "lldb-dap")

    def require_lldb(self) -> DapChannel:
        """The lldb-dap channel, or a clear error before `initialize`."""
        if self.lldb is None or self.lldb.is_closed:
            raise AdapterError("lldb-dap is not running (send 'initialize' and 'launch' or "
                               "'attach' first, or the session has ended)")
        return self.lldb

    async def top_frame(self) -> int | None:
        """The id of the top frame of the thread that stopped last (None while running)."""
        if self.stopped_thread is None:
            return None
        body = await self.require_lldb().request("stackTrace", {
            "threadId": self.stopped_thread, "startFrame": 0, "levels": 1})
        frames = (body or {}).get("stackFrames") or []
        return int(frames[0]["id"]) if frames else None

    async def command(self, text: str) -> str:
        """Run an lldb command (not an expression) and return what it printed."""
        body = await self.require_lldb().request("evaluate", {
            "expression": f"`{text}", "context": "repl"})
        return str((body or {}).get("result", ""))

    def _on_event(self, event: Message) -> None:
        name, body = event["event"], dict(event.get("body") or {})
        if name == "initialized" and self.lldb_initialized is not None:
            if not self.lldb_initialized.done():
                self.lldb_initialized.set_result(None)
            return
        if name == "stopped" and self.exec_stop is not None and not self.exec_stop.done():
            self.exec_stop.set_result(body)
            return
        if name == "stopped":
            body = self._stopped(body)
        elif name == "continued":
            self.stopped_thread = None
        elif name == "breakpoint":
            breakpoint = dict(body.get("breakpoint") or {})
            if not breakpoint.get("verified") and not breakpoint.get("message"):
                body["breakpoint"] = {**breakpoint, "message": PENDING}
        elif name in ("exited", "terminated") and self.target is not None:
            if name == "terminated" and not self.ending:
                self.spawn(self._check_target_gone())
            return  # reported by us once the program's pipes are drained
        elif name == "output" and body.get("category") in ("stdout", "stderr"):
            # The program's own output comes from its pipes; what lldb-dap reports as
            # stdout/stderr is lldb's (e.g. a DWARF warning), so it goes to the console.
            body["category"] = "console"
        elif name == "process" and self.launch is not None:
            body = {**body, "name": self.program_name, "startMethod": "launch"}
        self.relay_event(name, body or None)

    async def _check_target_gone(self) -> None:
        """lldb-dap says the process is over: normally the program has exited (and its
        exit reaches us a moment later); if it still runs, lldb lost it (lldb-server
        died), and a program nobody traces must not run on."""
        target = self.target
        if target is None or self.ending:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(target.proc.wait()), _EXIT_GRACE)
            return
        if not self.ending:
            debugger_lost(self, "lldb lost the program: its lldb-server exited unexpectedly")

    def _stopped(self, body: Message) -> Message:
        self.stopped_thread = body.get("threadId")
        description = str(body.get("description") or "")
        if self.entry_pending:
            self.entry_pending = False
            body["reason"] = "entry"
        elif self.pause_pending and "SIGSTOP" in description:
            # lldb stops a running process with SIGSTOP and reports the signal.
            body.update(reason="pause", description="paused")
        elif self.kind == "core":
            # What the process died of; a core made with gcore shows gcore's SIGSTOP.
            died_of = "" if "SIGSTOP" in description or not description else f": {description}"
            body.update(reason="exception", description=f"core file{died_of}")
        self.pause_pending = False
        return body

    async def start_lldb(self) -> DapChannel:
        """Spawn lldb-dap on pipes (no .lldbinit of the target's folder is read)."""
        path = find_lldb_dap(getattr(self.options, "lldb_dap", None))
        if path is None:
            raise AdapterError("no lldb-dap or lldb-vscode executable on PATH; install lldb "
                               "(apt-get install lldb-19) or pass --lldb-dap")
        env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_ENV_PREFIX)}
        # cwd "/": lldb reads .lldbinit from its working directory only when told to, and
        # no folder of the target's should be the debugger's.
        # Our own pipes, so the channel reads them from the loop's callback (no task hop).
        to_lldb, from_lldb = os.pipe(), os.pipe()
        try:
            # SIGPIPE stays ignored (as in this worker; restore_signals would reset it):
            # lldb-dap 19 writing to the socket of an lldb-server that died was killed
            # by it, and the session said "lldb-dap exited (signal 13)" instead of
            # "lldb lost the program". The program itself is started by us, with the
            # default signals.
            self.lldb_proc = await asyncio.create_subprocess_exec(
                path, stdin=to_lldb[0], stdout=from_lldb[1], env=env, cwd="/",
                start_new_session=True, preexec_fn=die_with_parent, restore_signals=False)
        except BaseException:
            os.close(to_lldb[1])
            os.close(from_lldb[0])
            raise
        finally:
            os.close(to_lldb[0])
            os.close(from_lldb[1])
        self.lldb = await DapChannel.from_pipes(
            os.fdopen(from_lldb[0], "rb", buffering=0), os.fdopen(to_lldb[1], "wb", buffering=0),
            name="lldb-dap", on_event=self._on_event)
        self.lldb.start()
        lldb, proc = self.lldb, self.lldb_proc
        announce_process_group(self, proc.pid)

        async def watch() -> None:
            await lldb.wait_closed()
            if self.ending:
                if self.target is None:
                    self.send_terminated()
                return
            code = None
            with contextlib.suppress(asyncio.TimeoutError):
                code = await asyncio.wait_for(proc.wait(), _EXIT_GRACE)
            debugger_lost(self, f"lldb-dap exited unexpectedly ({exit_cause(code)})"
                          if code is not None else "lldb-dap closed its pipes unexpectedly")

        self.spawn(watch())
        return self.lldb

    async def shutdown(self, why: str) -> None:
        """End the session: kill a launched program, detach from an attached one."""
        log.info("lldb worker shutting down: %s", why)
        self.ending = True
        if self.launch is not None:
            self.launch.abort()
        if self.lldb is not None and not self.lldb.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.lldb.request(
                    "disconnect", {"terminateDebuggee": self.kind == "launch"}), _EXIT_GRACE)
            self.lldb.close(why)
        if self.target is not None and self.target.proc.returncode is None:
            self.target.kill()
        if self.lldb_proc is not None and self.lldb_proc.returncode is None:
            # The whole group (lldb-server too); SIGKILL ends even a stopped lldb-dap.
            kill_group(self.lldb_proc.pid, signal.SIGKILL)
            await self.lldb_proc.wait()
        self.cancel_tasks()
