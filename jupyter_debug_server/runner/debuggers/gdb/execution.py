"""Running and stopping: continue, next, stepIn, stepOut, pause, threads, stop events."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..dispatch import AdapterError
from .mi import MIError
from .registry import request

if TYPE_CHECKING:
    from .adapter import GdbAdapter

Message = dict[str, Any]
_STEP_REASONS = {"end-stepping-range", "function-finished", "location-reached"}
_PAUSE_SIGNALS = {"SIGINT", "SIGSTOP", "0"}
_LOG_EXPR = re.compile(r"\{([^{}]+)\}")


def on_stop(self: GdbAdapter, payload: dict[str, Any]) -> None:
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
            self.spawn(_log_and_continue(self, payload, self.logpoints[number]))
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


def _thread(payload: dict[str, Any]) -> int:
    try:
        return int(payload.get("thread-id", 1))
    except (TypeError, ValueError):
        return 1


async def _log_and_continue(self: GdbAdapter, payload: dict[str, Any], template: str) -> None:
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


async def _resume(self: GdbAdapter, message: Message, command: str) -> None:
    mi = self.require_stopped(f"run '{message['command']}'")
    if self.kind == "core":
        raise AdapterError("a core file is a snapshot of a dead process: it cannot run or step")
    args = message.get("arguments") or {}
    thread = args.get("threadId", self.stopped_thread)
    try:
        await mi.command(f"{command} --thread {int(thread)}" if thread else command)
    except MIError as exc:
        raise AdapterError(f"gdb refused '{message['command']}': {exc}") from None


@request("continue")
async def continue_(self: GdbAdapter, message: Message) -> None:
    await _resume(self, message, "-exec-continue")
    self.client.send_response(message, body={"allThreadsContinued": True})


def _instruction(message: Message) -> bool:
    return (message.get("arguments") or {}).get("granularity") == "instruction"


@request("next", capability="supportsSteppingGranularity")
async def next_(self: GdbAdapter, message: Message) -> None:
    await _resume(self, message,
                  "-exec-next-instruction" if _instruction(message) else "-exec-next")
    self.client.send_response(message)


@request("stepIn")
async def step_in(self: GdbAdapter, message: Message) -> None:
    await _resume(self, message,
                  "-exec-step-instruction" if _instruction(message) else "-exec-step")
    self.client.send_response(message)


@request("stepOut")
async def step_out(self: GdbAdapter, message: Message) -> None:
    await _resume(self, message, "-exec-finish")
    self.client.send_response(message)


@request("pause")
async def pause(self: GdbAdapter, message: Message) -> None:
    mi = self.require_mi()
    if self.stopped_thread is not None:
        self.client.send_response(message)
        return
    self.pause_requested = True
    await mi.command("-exec-interrupt --all")
    self.client.send_response(message)


@request("threads")
async def threads(self: GdbAdapter, message: Message) -> None:
    mi = self.require_mi()
    if self.stopped_thread is None:
        # gdb cannot list threads of a running program in all-stop mode.
        self.client.send_response(message, body={"threads": self.known_threads()})
        return
    info = await mi.command("-thread-info")
    found = []
    for thread in info.get("threads", []):
        name = thread.get("name") or thread.get("target-id") or f"thread {thread.get('id')}"
        found.append({"id": int(thread["id"]), "name": name})
    self.threads_seen = found
    self.client.send_response(message, body={"threads": found})
