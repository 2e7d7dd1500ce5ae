"""GdbAdapter: one gdb, one debuggee, and the DAP client. Owned by the worker's loop.

gdb is driven over MI (see mi.py). Records from gdb are turned into DAP events
here; requests are handled by the modules beside this one, which the composition root
(gdb_adapter.py) gathers into the adapter's registry.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from ....dap import DapChannel
from ....dap.messages import Message
from ..base import AdapterBase
from ..native.launch import NativeLaunch
from ..registry import AdapterError, Registry
from .console import ConsoleFilter
from .mi import MIConnection, MIError, MIRecord
from .mi_values import breakpoint_to_dap, exit_code

log = logging.getLogger(__name__)


#: What the gdb adapter advertises besides the capabilities its handlers bring.
BASE_CAPABILITIES: dict[str, Any] = {
    "supportsConfigurationDoneRequest": True,
    "supportsTerminateRequest": True,
    "supportTerminateDebuggee": True,
    "supportsHitConditionalBreakpoints": True,
    "supportsLogPoints": True,
}
_STEP_REASONS = {"end-stepping-range", "function-finished", "location-reached"}
_PAUSE_SIGNALS = {"SIGINT", "SIGSTOP", "0"}
_LOG_EXPR = re.compile(r"\{([^{}]+)\}")


@dataclass
class StopState:
    """Ids handed to the client during one stop; all invalid once the target resumes."""

    frames: dict[int, tuple[int, int]] = field(default_factory=dict)  # frame id → (thread, level)
    refs: dict[int, tuple[str, Any]] = field(default_factory=dict)  # variablesReference → what
    varobjs: list[str] = field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        """A fresh id for a frame or a variables reference."""
        value = self.next_id
        self.next_id += 1
        return value


class GdbAdapter(AdapterBase):
    """A DAP server on top of GDB/MI for one native debuggee."""

    def __init__(self, client: DapChannel, options: argparse.Namespace,
                 registry: Registry[GdbAdapter]) -> None:
        super().__init__(client, options, registry)
        self.mi: MIConnection | None = None
        self.launch: NativeLaunch | None = None
        self.kind: str | None = None
        self.init_args: Message | None = None
        self.stop = StopState()
        self.stopped_thread: int | None = None
        self.pause_requested = False
        self.stop_at_main = False  # stopOnEntry: a temporary breakpoint on main
        self.entry_pending = False
        self.threads_seen: list[dict[str, Any]] = []
        self.core: str | None = None
        self.quiet = True  # until configurationDone: start-up stops are ours, not the client's
        self.breakpoints: dict[str, list[Any]] = {}  # source path → its BreakpointSpecs
        self.function_breakpoints: list[Any] = []
        self.logpoints: dict[str, str] = {}  # gdb breakpoint number → log message
        self._stop_waiters: list[asyncio.Future[dict[str, Any]]] = []
        self._console = ConsoleFilter()

    # -- requests --------------------------------------------------------------

    def unhandled(self, message: Message) -> None:
        self.client.send_response(message, success=False, message=(
            f"the gdb adapter does not support '{message['command']}'"))

    def require_mi(self) -> MIConnection:
        """gdb, once the session has started."""
        if self.mi is None or self.mi.exited.done():
            raise AdapterError("the debuggee is not running (send 'launch' first, or it ended)")
        return self.mi

    def known_threads(self) -> list[dict[str, Any]]:
        """Threads from the last stop (gdb cannot list them while all-stop runs)."""
        return self.threads_seen or [{"id": 1, "name": "main"}]

    def require_stopped(self, what: str) -> MIConnection:
        """gdb, while the debuggee is stopped."""
        mi = self.require_mi()
        if self.stopped_thread is None:
            raise AdapterError(f"cannot {what} while the program is running; pause it first")
        return mi

    # -- records from gdb ------------------------------------------------------

    def expect_stop(self) -> asyncio.Future[dict[str, Any]]:
        """A future for the next *stopped record (register before the command)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._stop_waiters.append(future)
        return future

    def on_record(self, record: MIRecord) -> None:
        """Turn one gdb record into DAP events (runs in the MI reader, in gdb's order)."""
        if record.kind == "exec" and record.name == "stopped":
            self._on_stopped(record.payload or {})
        elif record.kind == "exec" and record.name == "running":
            self._on_running(record.payload or {})
        elif record.kind == "notify":
            self._on_notify(record.name or "", record.payload or {})
        elif (record.kind == "console" and isinstance(record.payload, str)
              and self._console.passes(record.payload) and not self.quiet):
            self.send_event("output", {"category": "console", "output": record.payload})

    def _on_stopped(self, payload: dict[str, Any]) -> None:
        payload = _one_reason(payload)
        waiters, self._stop_waiters = self._stop_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(payload)
        reason = payload.get("reason", "")
        if reason.startswith("exited"):
            if self.kind == "attach":  # not our child: gdb is the one who sees the exit
                code = exit_code(payload.get("exit-code")) or 0
                if reason == "exited-signalled":
                    code = -1

                def ended() -> None:
                    self.client.send_event("exited", {"exitCode": code})
                    self.send_terminated()

                self.after_response(ended)
            return  # a launched program's code comes from the process, after its pipes
        thread = _int(payload.get("thread-id"))
        self.stopped_thread = thread
        if self.quiet or waiters:
            return
        self._announce_stop(payload)

    def _announce_stop(self, payload: dict[str, Any]) -> None:
        """Send the DAP `stopped` event for a *stopped record (or run a logpoint)."""
        reason = payload.get("reason", "")
        thread = _thread(payload)
        body: dict[str, Any] = {"threadId": thread, "allThreadsStopped": True}
        if reason == "breakpoint-hit":
            number = str(payload.get("bkptno", ""))
            if number in self.breakpoints.get("exceptions", []):
                body.update(reason="exception", description="C++ exception",
                            text="a C++ exception was thrown or caught")
                self.pause_requested = False
                self.send_event("stopped", body)
                return
            if number in self.logpoints:
                self.spawn(self._log_and_continue(payload, self.logpoints[number]))
                return
            if self.entry_pending and payload.get("disp") == "del":
                self.entry_pending = False
                body["reason"] = "entry"
            else:
                body["reason"] = "breakpoint"
                body["hitBreakpointIds"] = [int(number)] if number.isdigit() else []
        elif reason in _STEP_REASONS:
            body["reason"] = "step"
        elif reason == "signal-received":
            name = payload.get("signal-name", "")
            if self.pause_requested and name in _PAUSE_SIGNALS:
                body["reason"] = "pause"
            else:
                meaning = payload.get("signal-meaning", "")
                body.update(reason="exception", description=f"{name}: {meaning}".strip(": "),
                            text=f"Signal {name}")
        elif reason in ("exception-caught", "exception-thrown") or payload.get("disp") == "C++":
            body.update(reason="exception", description="C++ exception")
        elif reason == "function-finished":
            body["reason"] = "step"
        else:
            body["reason"] = "pause" if self.pause_requested else "step"
        self.pause_requested = False
        self.send_event("stopped", body)

    async def _log_and_continue(self, payload: dict[str, Any], template: str) -> None:
        """A logpoint: print its message with {expressions} evaluated, then resume."""
        mi = self.require_mi()
        thread = _thread(payload)
        parts: list[str] = []
        position = 0
        for match in _LOG_EXPR.finditer(template):
            parts.append(template[position:match.start()])
            try:
                result = await mi.command(
                    f"-data-evaluate-expression --thread {thread} --frame 0 "
                    f"{mi.quote(match.group(1))}")
                parts.append(str(result.get("value", "")))
            except MIError as exc:
                parts.append(f"<{exc}>")
            position = match.end()
        parts.append(template[position:])
        self.send_event("output", {"category": "console", "output": "".join(parts) + "\n"})
        await mi.command("-exec-continue")

    def _on_running(self, payload: dict[str, Any]) -> None:
        self.stopped_thread = None
        self.forget_stop()
        if not self.quiet:
            thread = payload.get("thread-id", "all")
            self.send_event("continued", {
                "threadId": _int(thread) or 0, "allThreadsContinued": thread == "all"})

    def _on_notify(self, name: str, payload: dict[str, Any]) -> None:
        if name in ("thread-created", "thread-exited") and not self.quiet:
            self.send_event("thread", {
                "reason": "started" if name == "thread-created" else "exited",
                "threadId": _int(payload.get("id")) or 0})
        elif name == "breakpoint-modified":
            # A pending breakpoint resolved (a library loaded) or moved: tell the client.
            bkpt = payload.get("bkpt") or {}
            if bkpt.get("type") in ("breakpoint", "dprintf") and bkpt.get("disp") != "del":
                self.send_event("breakpoint", {"reason": "changed",
                                               "breakpoint": breakpoint_to_dap(bkpt)})

    def forget_stop(self) -> None:
        """Drop the frame and variable ids of the last stop, and gdb's varobjs for them."""
        stale, self.stop = self.stop, StopState(next_id=self.stop.next_id)
        if stale.varobjs and self.mi is not None and not self.mi.exited.done():
            mi = self.mi

            async def delete() -> None:
                for name in stale.varobjs:
                    with contextlib.suppress(MIError, ConnectionError):
                        await mi.command(f"-var-delete {name}")

            self.spawn(delete())

    # -- the end -----------------------------------------------------------------

    def on_target_exit(self) -> None:
        self.stopped_thread = None

    async def kill_target(self) -> None:
        """SIGKILL the debuggee through gdb, which must reap it: a tracee stopped under
        all-stop gdb stays a zombie (and its parent never hears of its exit) otherwise."""
        if self.mi is not None and not self.mi.exited.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.mi.console("kill"), 5)
        if self.target is not None and self.target.proc.returncode is None:
            self.target.kill()
            if self.mi is not None:
                await self.mi.close()  # a tracer that exits releases its tracee

    async def shutdown(self, why: str) -> None:
        """End the session because the worker is exiting: kill or detach, close gdb."""
        log.info("gdb worker shutting down: %s", why)
        if self.launch is not None:
            self.launch.abort()
        if self.kind == "attach" and self.mi is not None and not self.mi.exited.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.mi.command("-target-detach"), 5)
        if self.target is not None and self.target.proc.returncode is None:
            await self.kill_target()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.target.wait(), 5)
        if self.mi is not None:
            await self.mi.close()
        self.cancel_tasks()


def _thread(payload: dict[str, Any]) -> int:
    try:
        return int(payload.get("thread-id", 1))
    except (TypeError, ValueError):
        return 1


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _one_reason(payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` with one string `reason`: gdb repeats `reason=` when a stop has several
    (a `finish` that ends on a breakpoint: `["function-finished", "breakpoint-hit"]`), and
    pygdbmi makes a list of them. A breakpoint hit is the reason a user must see (it
    carries the breakpoint's number); otherwise the first one."""
    reason = payload.get("reason", "")
    if isinstance(reason, str):
        return payload
    reasons = [r for r in reason if isinstance(r, str)] if isinstance(reason, list) else []
    chosen = "breakpoint-hit" if "breakpoint-hit" in reasons else (reasons or [""])[0]
    return {**payload, "reason": chosen}
