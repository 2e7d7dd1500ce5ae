"""Launch-spec pieces written as text, parsed the same way by the CLI and the magics:
`FILE:LINE[:CONDITION]` breakpoints, `KEY=VALUE` environment entries, exception filters;
and the target of an attach, built the same way by the CLI and the MCP server.

Each parser raises `argparse.ArgumentTypeError` with the sentence to show, so that it can
be an argparse `type=` (IPython's `magic_arguments` parsers are argparse parsers too).
"""

from __future__ import annotations

import argparse
import re

from .models import Json

_BREAK = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?::(?P<condition>.*))?$")
_ENV = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$", re.S)
_PLACE = re.compile(r"^(?P<path>.+?)(?::(?P<line>\d+))?$")


def parse_breakpoint(spec: str) -> Json:
    """`file:line[:condition]` → a launch-spec breakpoint (ArgumentTypeError if malformed)."""
    match = _BREAK.match(spec)
    if match is None or int(match["line"]) < 1:
        raise argparse.ArgumentTypeError(
            f"breakpoint {spec!r} is not FILE:LINE or FILE:LINE:CONDITION (LINE from 1)")
    out: Json = {"path": match["path"], "line": int(match["line"])}
    if match["condition"]:
        out["condition"] = match["condition"]
    return out


def parse_place(spec: str) -> tuple[str, int | None]:
    """`file[:line]` → (path, line or None): what to clear, one breakpoint or a file's."""
    match = _PLACE.match(spec)
    if match is None or (match["line"] is not None and int(match["line"]) < 1):
        raise argparse.ArgumentTypeError(f"{spec!r} is not FILE or FILE:LINE (LINE from 1)")
    return match["path"], None if match["line"] is None else int(match["line"])


def parse_exceptions(value: str) -> list[str]:
    """`--exceptions`: `none` → [] (no exception stops), else comma-separated filter ids."""
    if value.strip() == "none":
        return []
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"exception filters {value!r} are not FILTER[,FILTER…] or none (`debuggers` "
            "lists each debugger's filters)")
    return names


def parse_env(item: str) -> tuple[str, str]:
    """`KEY=VALUE` → (key, value)."""
    match = _ENV.match(item)
    if match is None:
        raise argparse.ArgumentTypeError(f"environment entry {item!r} is not KEY=VALUE")
    return match["key"], match["value"]


def attach_target(pid: int | None, core: str | None, program: str | None,
                  debugger: str | None) -> Json | None:
    """The launch spec's target for an attach: a running process (`request: attach`,
    debugpy unless `debugger` says otherwise), or a core file with the program that
    dumped it (gdb unless said); None when the arguments are neither."""
    if pid is not None and core is None and program is None:
        return {"debugger": debugger or "debugpy", "request": "attach", "pid": pid}
    if pid is None and core is not None and program is not None:
        return {"debugger": debugger or "gdb", "core": core, "program": program}
    return None
