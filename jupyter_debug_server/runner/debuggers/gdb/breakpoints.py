"""setBreakpoints, setFunctionBreakpoints, setExceptionBreakpoints, and breakpoint events."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ..dispatch import AdapterError
from ..native_checks import ignore_count
from .mi import MIConnection, MIError
from .registry import request

if TYPE_CHECKING:
    from .adapter import GdbAdapter

Message = dict[str, Any]

EXCEPTION_FILTERS = [
    {"filter": "throw", "label": "C++: on throw", "default": False},
    {"filter": "catch", "label": "C++: on catch", "default": False},
]


def to_dap(bkpt: dict[str, Any], message: str | None = None) -> dict[str, Any]:
    """A DAP Breakpoint for gdb's MI breakpoint tuple."""
    number = bkpt.get("number", "0").split(".")[0]
    located = bkpt
    if bkpt.get("addr") == "<MULTIPLE>" and bkpt.get("locations"):
        located = bkpt["locations"][0]
    pending = "pending" in bkpt or bkpt.get("addr") == "<PENDING>"
    out: dict[str, Any] = {"id": int(number) if number.isdigit() else 0, "verified": not pending}
    if located.get("fullname") or located.get("file"):
        out["source"] = {"path": located.get("fullname") or located.get("file")}
    if located.get("line"):
        out["line"] = int(located["line"])
    if pending:
        out["message"] = message or "pending: the location is not loaded yet"
    elif message:
        out["message"] = message
    return out


def on_breakpoint_modified(self: GdbAdapter, bkpt: dict[str, Any]) -> None:
    """A pending breakpoint resolved (a library loaded) or moved: tell the client."""
    if bkpt.get("type") in ("breakpoint", "dprintf") and bkpt.get("disp") != "del":
        self.send_event("breakpoint", {"reason": "changed", "breakpoint": to_dap(bkpt)})


async def _insert(mi: MIConnection, location: str, item: dict[str, Any]) -> tuple[
        dict[str, Any] | None, str | None]:
    """Insert one breakpoint; (MI bkpt, None) or (None, why it failed)."""
    try:
        ignore = ignore_count(item.get("hitCondition"))
    except ValueError as exc:
        return None, str(exc)
    command = ["-break-insert", "-f"]
    if item.get("condition"):
        command += ["-c", mi.quote(item["condition"])]
    if ignore:
        command += ["-i", str(ignore)]
    command.append(mi.quote(location))
    try:
        result = await mi.command(" ".join(command))
    except MIError as exc:
        return None, str(exc)
    return result.get("bkpt") or {}, None


async def _delete(mi: MIConnection, numbers: list[str]) -> None:
    if numbers:
        try:
            await mi.command("-break-delete " + " ".join(numbers))
        except MIError:
            for number in numbers:  # one of them is gone already: delete the rest one by one
                with contextlib.suppress(MIError):
                    await mi.command(f"-break-delete {number}")


async def _replace(self: GdbAdapter, key: str, items: list[dict[str, Any]],
                   location_of: Any) -> list[dict[str, Any]]:
    mi = self.require_mi()
    old = self.breakpoints.pop(key, [])
    await _delete(mi, old)
    for number in old:
        self.logpoints.pop(number, None)
    numbers, answers = [], []
    for item in items:
        bkpt, error = await _insert(mi, location_of(item), item)
        if bkpt is None:
            answers.append({"verified": False, "message": error, "line": item.get("line")})
            continue
        number = str(bkpt.get("number", ""))
        numbers.append(number)
        if item.get("logMessage"):
            self.logpoints[number] = item["logMessage"]
        answers.append(to_dap(bkpt))
    self.breakpoints[key] = numbers
    return answers


@request("setBreakpoints", capability="supportsConditionalBreakpoints")
async def set_breakpoints(self: GdbAdapter, message: Message) -> None:
    args = message.get("arguments") or {}
    path = (args.get("source") or {}).get("path")
    if not isinstance(path, str) or not path:
        raise AdapterError("'setBreakpoints' needs 'source.path'")
    items = args.get("breakpoints") or []
    if not isinstance(items, list):
        raise AdapterError("'breakpoints' must be a list")
    answers = await _replace(self, f"source:{path}", items,
                             lambda item: f"{path}:{int(item.get('line', 0))}")
    self.client.send_response(message, body={"breakpoints": answers})


@request("setFunctionBreakpoints", capability="supportsFunctionBreakpoints")
async def set_function_breakpoints(self: GdbAdapter, message: Message) -> None:
    items = (message.get("arguments") or {}).get("breakpoints") or []
    answers = await _replace(self, "functions", items, lambda item: str(item.get("name", "")))
    self.client.send_response(message, body={"breakpoints": answers})


@request("setExceptionBreakpoints", capability="exceptionBreakpointFilters",
         value=EXCEPTION_FILTERS)
async def set_exception_breakpoints(self: GdbAdapter, message: Message) -> None:
    mi = self.require_mi()
    filters = (message.get("arguments") or {}).get("filters") or []
    await _delete(mi, self.breakpoints.pop("exceptions", []))
    numbers, answers = [], []
    for name in filters:
        if name not in ("throw", "catch"):
            answers.append({"verified": False, "message": f"unknown filter {name!r}"})
            continue
        try:
            result = await mi.command(f"-catch-{name}")
        except MIError as exc:
            answers.append({"verified": False, "message": str(exc)})
            continue
        bkpt = result.get("bkpt") or {}
        numbers.append(str(bkpt.get("number", "")))
        answers.append({"verified": True, "id": int(bkpt.get("number", 0))})
    self.breakpoints["exceptions"] = numbers
    self.client.send_response(message, body={"breakpoints": answers})
