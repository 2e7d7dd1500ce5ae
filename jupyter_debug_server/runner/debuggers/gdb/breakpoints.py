"""setBreakpoints, setFunctionBreakpoints, setExceptionBreakpoints, and breakpoint events."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from ..exception_filters import GDB_FILTERS
from ..native.checks import ignore_count
from ..registry import AdapterError, request
from .adapter import GdbAdapter
from .mi import MIConnection, MIError
from .mi_values import breakpoint_to_dap

EXCEPTION_FILTERS = [dict(f) for f in GDB_FILTERS]
_FILTER_IDS = frozenset(f["filter"] for f in GDB_FILTERS)


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


async def _replace(adapter: GdbAdapter, key: str, items: list[dict[str, Any]],
                   location_of: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    mi = adapter.require_mi()
    old = adapter.breakpoints.pop(key, [])
    await _delete(mi, old)
    for number in old:
        adapter.logpoints.pop(number, None)
    numbers, answers = [], []
    for item in items:
        bkpt, error = await _insert(mi, location_of(item), item)
        if bkpt is None:
            answers.append({"verified": False, "message": error, "line": item.get("line")})
            continue
        number = str(bkpt.get("number", ""))
        numbers.append(number)
        if item.get("logMessage"):
            adapter.logpoints[number] = item["logMessage"]
        answers.append(breakpoint_to_dap(bkpt))
    adapter.breakpoints[key] = numbers
    return answers


@request("setBreakpoints", capability="supportsConditionalBreakpoints")
async def set_breakpoints(adapter: GdbAdapter, *, source: dict[str, Any],
                          breakpoints: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    path = source.get("path")
    if not isinstance(path, str) or not path:
        raise AdapterError("'setBreakpoints' needs 'source.path'")
    items = breakpoints or []
    if not isinstance(items, list):
        raise AdapterError("'breakpoints' must be a list")
    answers = await _replace(adapter, f"source:{path}", items,
                             lambda item: f"{path}:{int(item.get('line', 0))}")
    return {"breakpoints": answers}


@request("setFunctionBreakpoints", capability="supportsFunctionBreakpoints")
async def set_function_breakpoints(adapter: GdbAdapter, *,
                                   breakpoints: list[dict[str, Any]]) -> dict[str, Any]:
    answers = await _replace(adapter, "functions", breakpoints,
                             lambda item: str(item.get("name", "")))
    return {"breakpoints": answers}


@request("setExceptionBreakpoints", capability="exceptionBreakpointFilters",
         value=EXCEPTION_FILTERS)
async def set_exception_breakpoints(adapter: GdbAdapter, *,
                                    filters: list[str]) -> dict[str, Any]:
    mi = adapter.require_mi()
    await _delete(mi, adapter.breakpoints.pop("exceptions", []))
    numbers, answers = [], []
    for name in filters:
        if name not in _FILTER_IDS:
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
    adapter.breakpoints["exceptions"] = numbers
    return {"breakpoints": answers}
