"""disassemble and readMemory."""

from __future__ import annotations

import base64
from typing import Any

from ..registry import AdapterError, request
from .adapter import GdbAdapter
from .mi import MIError

# x86 instructions are at most 15 bytes; 16 per instruction always covers the window.
_MAX_INSTRUCTION = 16
_MAX_READ = 1024 * 1024


def _address(value: Any) -> int:
    try:
        return int(str(value), 0)
    except ValueError:
        raise AdapterError(f"memoryReference {value!r} is not an address") from None


@request("disassemble", capability="supportsDisassembleRequest")
async def disassemble(adapter: GdbAdapter, *, memoryReference: str, instructionCount: int,
                      offset: int | None = None,
                      instructionOffset: int | None = None) -> dict[str, Any]:
    mi = adapter.require_stopped("disassemble")
    anchor = _address(memoryReference) + int(offset or 0)
    first = int(instructionOffset or 0)
    count = int(instructionCount or 0)
    if count <= 0 or count > 10_000:
        raise AdapterError("'instructionCount' must be between 1 and 10000")
    start = max(anchor + min(first, 0) * _MAX_INSTRUCTION, 0)
    end = anchor + (max(first, 0) + count) * _MAX_INSTRUCTION
    try:
        result = await mi.command(f"-data-disassemble -s {start:#x} -e {end:#x} -- 0")
    except MIError as exc:
        raise AdapterError(f"cannot disassemble at {anchor:#x}: {exc.message}") from None
    listing = result.get("asm_insns", [])
    addresses = [int(i["address"], 16) for i in listing]
    # Index of the instruction at (or just after) the anchor: offsets count from there.
    index = next((n for n, a in enumerate(addresses) if a >= anchor), len(addresses))
    out = []
    for position in range(index + first, index + first + count):
        if 0 <= position < len(listing):
            item = listing[position]
            symbol = item.get("func-name")
            entry = {"address": item["address"], "instruction": item.get("inst", "")}
            if symbol:
                entry["symbol"] = f"{symbol}+{item.get('offset', '0')}"
            out.append(entry)
        else:  # outside what could be read: DAP wants exactly `count` entries
            out.append({"address": "0x0", "instruction": "??", "presentationHint": "invalid"})
    return {"instructions": out}


@request("readMemory", capability="supportsReadMemoryRequest")
async def read_memory(adapter: GdbAdapter, *, memoryReference: str, count: int,
                      offset: int | None = None) -> dict[str, Any]:
    mi = adapter.require_stopped("read memory")
    address = _address(memoryReference) + int(offset or 0)
    size = int(count or 0)
    if size < 0 or size > _MAX_READ:
        raise AdapterError(f"'count' must be between 0 and {_MAX_READ}")
    try:
        result = await mi.command(f"-data-read-memory-bytes {address:#x} {size}")
    except MIError:  # nothing readable there: DAP says so in the body, not as an error
        return {"address": f"{address:#x}", "unreadableBytes": size}
    blocks = result.get("memory", [])
    data = bytes.fromhex(blocks[0]["contents"]) if blocks else b""
    return {"address": f"{address:#x}", "data": base64.b64encode(data).decode(),
            "unreadableBytes": max(size - len(data), 0)}
