"""Requests whose meaning lldb-dap 19 gets differently from the DAP spec or from our
other adapters: corrected here before (or after) lldb-dap sees them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..dispatch import AdapterError
from ..native_checks import VALUE_FORM, ignore_count, side_effect_refusal
from .adapter import PENDING
from .registry import CHECKS, request

if TYPE_CHECKING:
    from .adapter import LldbAdapter

Message = dict[str, Any]
_CORE = "a core file is a snapshot of a dead process: it cannot run or step"
_RUN_OR_STEP = ("continue", "next", "stepIn", "stepOut", "stepBack", "reverseContinue",
                "pause", "goto", "restartFrame")
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


def _check_supported(self: LldbAdapter, command: str) -> None:
    capability = _GATED.get(command)
    if capability and not self.capabilities.get(capability):
        raise AdapterError(f"'{command}' is not supported by this lldb-dap (its capabilities "
                           f"do not include {capability}); the gdb adapter offers it")


def _run_or_step(self: LldbAdapter, message: Message) -> None:
    command = message["command"]
    if self.kind == "core":
        raise AdapterError(_CORE)
    _check_supported(self, command)
    if command == "pause":
        self.pause_pending = True


def _gated(self: LldbAdapter, message: Message) -> None:
    _check_supported(self, message["command"])


def _completions(self: LldbAdapter, message: Message) -> None:
    """lldb-dap 19 indexes `text` by `line` and `column` unchecked and crashes (SIGSEGV)
    on a column of 0 or past the line's end, or a line past the text's (found by the
    hardening fuzz): only positions inside the text reach it."""
    args = message.get("arguments") or {}
    lines = str(args.get("text", "")).split("\n")
    line, column = args.get("line", 1), args.get("column", 1)
    start = self.first_column
    if not 1 <= line <= len(lines):
        raise AdapterError(f"'line' {line} is outside the text, which has {len(lines)} "
                           f"line{'s' if len(lines) != 1 else ''}")
    end = len(lines[line - 1]) + start
    if not start <= column <= end:
        raise AdapterError(f"'column' {column} is outside line {line} of the text "
                           f"(columns {start} to {end})")


CHECKS.update(dict.fromkeys(_RUN_OR_STEP, _run_or_step))
CHECKS["completions"] = _completions
CHECKS.update(dict.fromkeys(_GATED.keys() - set(_RUN_OR_STEP), _gated))


@request("setBreakpoints")
async def _set_breakpoints(self: LldbAdapter, message: Message) -> None:
    """Hit conditions mean what they mean in the gdb adapter; bad ones are refused per
    breakpoint (lldb-dap would ignore them silently and stop on every hit)."""
    args = dict(message.get("arguments") or {})
    requested = list(args.get("breakpoints") or [])
    refused: dict[int, str] = {}
    forwarded = []
    for index, asked in enumerate(requested):
        try:
            ignore = ignore_count(asked.get("hitCondition"))
        except ValueError as exc:
            refused[index] = str(exc)
            continue
        # lldb-dap reads N as: stop on hit number N.
        forwarded.append(asked if ignore is None else {**asked, "hitCondition": str(ignore + 1)})
    body = await self.require_lldb().request("setBreakpoints",
                                             {**args, "breakpoints": forwarded})
    answered = iter((body or {}).get("breakpoints") or [])
    out = []
    for index, item in enumerate(requested):
        if index in refused:
            out.append({"verified": False, "line": item.get("line"), "message": refused[index]})
            continue
        breakpoint = dict(next(answered, {"verified": False}))
        if not breakpoint.get("verified") and not breakpoint.get("message"):
            breakpoint["message"] = PENDING
        out.append(breakpoint)
    self.client.send_response(message, body={"breakpoints": out})


@request("setVariable")
async def _set_variable(self: LldbAdapter, message: Message) -> None:
    if self.kind == "core":
        raise AdapterError("a core file is a snapshot: its variables cannot be changed")
    body = dict(await self.require_lldb().request("setVariable", message.get("arguments"))
                or {})
    if "value" not in body and "result" in body:
        body["value"] = body.pop("result")  # lldb-dap 19 names the DAP `value` `result`
    self.client.send_response(message, body=body)


@request("evaluate")
async def _evaluate(self: LldbAdapter, message: Message) -> None:
    args = dict(message.get("arguments") or {})
    expression = args.get("expression")
    if not isinstance(expression, str):
        raise AdapterError("'evaluate' needs a string 'expression'")
    context = str(args.get("context") or "repl")
    refusal = side_effect_refusal(context, expression)
    if refusal:
        raise AdapterError(refusal)
    if args.pop(VALUE_FORM, False) and context == "repl" and not expression.startswith("`"):
        # lldb-dap's watch form is the value alone; a `command still runs as in the console.
        args["context"] = "watch"
    if args.get("frameId") is None:
        # lldb-dap evaluates without a frame as if the process were running.
        frame = await self.top_frame()
        if frame is not None:
            args["frameId"] = frame
    self.forward(message, args)
