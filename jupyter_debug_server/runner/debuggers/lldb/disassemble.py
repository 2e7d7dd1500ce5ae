"""disassemble: lldb-dap 19 reads `instructionOffset` as bytes; we count instructions.

Instructions before the anchor cannot be found by walking backwards on x86 (their
lengths vary), so we disassemble from the start of the enclosing function, whose
bounds lldb's `image lookup` gives, and count from the anchor's index.
"""

from __future__ import annotations

import re
from typing import Any

from ..registry import AdapterError, request
from .adapter import LldbAdapter

_MAX_COUNT = 10_000
_RANGE = re.compile(
    r'Function: .*?name = "([^"]+)".*?range = \[(0x[0-9a-fA-F]+)-(0x[0-9a-fA-F]+)\)')
_INVALID = {"address": "0x0", "instruction": "??", "presentationHint": "invalid"}


def _address(value: Any) -> int:
    try:
        return int(str(value), 0)
    except ValueError:
        raise AdapterError(f"memoryReference {value!r} is not an address") from None


async def _function(adapter: LldbAdapter, address: int) -> tuple[str, int, int] | None:
    """(name, start, end) of the function containing `address`, if lldb knows it."""
    text = await adapter.command(f"image lookup --verbose --address {address:#x}")
    match = _RANGE.search(text)
    if match is None:
        return None
    return match.group(1), int(match.group(2), 16), int(match.group(3), 16)


async def _listing(adapter: LldbAdapter, start: int, count: int) -> list[dict[str, Any]]:
    body = await adapter.require_lldb().request("disassemble", {
        "memoryReference": f"{start:#x}", "instructionOffset": 0, "instructionCount": count})
    return list((body or {}).get("instructions") or [])


@request("disassemble", capability="supportsDisassembleRequest")
async def _disassemble(adapter: LldbAdapter, *, memoryReference: str | None = None,
                       offset: int | None = None, instructionOffset: int | None = None,
                       instructionCount: int | None = None) -> dict[str, Any]:
    anchor = _address(memoryReference) + int(offset or 0)
    first = int(instructionOffset or 0)
    count = int(instructionCount or 0)
    if count <= 0 or count > _MAX_COUNT:
        raise AdapterError(f"'instructionCount' must be between 1 and {_MAX_COUNT}")
    function = await _function(adapter, anchor)
    start = anchor
    if first < 0 and function is not None and 0 < anchor - function[1] <= _MAX_COUNT:
        start = function[1]
    # Each instruction is at least a byte: this many from `start` always reach the end.
    listing = await _listing(adapter, start, (anchor - start) + max(first, 0) + count)
    addresses = [_address(item.get("address")) for item in listing]
    index = next((n for n, a in enumerate(addresses) if a >= anchor), len(addresses))
    out = []
    for position in range(index + first, index + first + count):
        if not 0 <= position < len(listing):
            out.append(dict(_INVALID))  # outside what could be read: DAP wants `count`
            continue
        item = dict(listing[position])
        if function is not None and function[1] <= addresses[position] < function[2]:
            item.setdefault("symbol", f"{function[0]}+{addresses[position] - function[1]}")
        out.append(item)
    return {"instructions": out}
