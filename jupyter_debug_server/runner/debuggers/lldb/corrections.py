"""Requests whose meaning lldb-dap 19 gets differently from the DAP spec or from our
other adapters: corrected here before (or after) lldb-dap sees them."""

from __future__ import annotations

from typing import Any

from ..native.checks import VALUE_FORM, ignore_count, side_effect_refusal
from ..registry import AdapterError, Relay, request
from .adapter import PENDING, LldbAdapter


@request("setBreakpoints")
async def _set_breakpoints(adapter: LldbAdapter, **args: Any) -> dict[str, Any]:
    """Hit conditions mean what they mean in the gdb adapter; bad ones are refused per
    breakpoint (lldb-dap would ignore them silently and stop on every hit)."""
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
    body = await adapter.require_lldb().request("setBreakpoints",
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
    return {"breakpoints": out}


@request("setVariable")
async def _set_variable(adapter: LldbAdapter, **arguments: Any) -> dict[str, Any]:
    if adapter.kind == "core":
        raise AdapterError("a core file is a snapshot: its variables cannot be changed")
    body = dict(await adapter.require_lldb().request("setVariable", arguments) or {})
    if "value" not in body and "result" in body:
        body["value"] = body.pop("result")  # lldb-dap 19 names the DAP `value` `result`
    return body


@request("evaluate")
async def _evaluate(adapter: LldbAdapter, **args: Any) -> Relay:
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
        frame = await adapter.top_frame()
        if frame is not None:
            args["frameId"] = frame
    return adapter.forward(args)


@request("completions")
async def _completions(adapter: LldbAdapter, **args: Any) -> Relay:
    """lldb-dap 19 indexes `text` by `line` and `column` unchecked and crashes (SIGSEGV)
    on a column of 0 or past the line's end, or a line past the text's (found by the
    hardening fuzz): only positions inside the text reach it."""
    lines = str(args.get("text", "")).split("\n")
    line, column = args.get("line") or 1, args.get("column", 1)
    start = adapter.first_column
    if not 1 <= line <= len(lines):
        raise AdapterError(f"'line' {line} is outside the text, which has {len(lines)} "
                           f"line{'s' if len(lines) != 1 else ''}")
    end = len(lines[line - 1]) + start
    if not start <= column <= end:
        raise AdapterError(f"'column' {column} is outside line {line} of the text "
                           f"(columns {start} to {end})")
    return adapter.forward(args)
