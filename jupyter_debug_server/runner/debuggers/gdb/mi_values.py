"""Readers for the values inside GDB/MI records, where every scalar is a string, and
the DAP shapes made of them."""

from __future__ import annotations

from typing import Any


def exit_code(value: str | None) -> int | None:
    """Decode an `exit-code` field: gdb prints it in octal with a leading 0 ("012" is 10)."""
    if value is None:
        return None  # "exited-normally" and "thread-group-exited" without a code mean 0
    return int(value, 8)


def mi_int(value: Any) -> int | None:
    """Return an MI integer field ("42", "0x1f") as an int, or None if absent or not one."""
    if not isinstance(value, str):
        return None
    try:
        return int(value, 0) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None


def mi_bool(value: Any) -> bool:
    """Return an MI flag ("y", "true", "1") as a bool; anything else is False."""
    return value in ("y", "true", "1")


def mi_list(value: Any) -> list[Any]:
    """Return an MI list field as a list: absent is [], a lone tuple becomes [tuple]."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def breakpoint_to_dap(bkpt: dict[str, Any], message: str | None = None) -> dict[str, Any]:
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
