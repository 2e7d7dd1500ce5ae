"""Source breakpoints as clients give them: parsed, converted to DAP and described, in
one place.

A launch spec's `breakpoints` (each with its `path`) and the body of `PUT
…/breakpoints` (one path for all) use the same fields: `line`, `condition`,
`hit_condition`, `log_message`; both refuse any other field with the same sentence.
They are checked here, turned into DAP
`SourceBreakpoint`s with the one snake_case → camelCase map below, and the debugger's
answers are described back in the same names for the breakpoints route. Sharing them
with DAP clients is the mux's book (dap/breakpoints.py). Pure, except that a
breakpoint's path is resolved by the path policy (paths.py), which stats files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LaunchSpecError, type_error
from .paths import PathPolicy

__all__ = ["MAX_BREAKPOINTS", "ROUTE_FIELDS", "Breakpoint", "check_count",
           "check_route_body", "describe_breakpoints", "parse_route_breakpoints",
           "parse_spec_breakpoints"]

#: Breakpoints of one launch spec or one source: far more than anyone sets by hand, and
#: a bound on the work (and the debugger's) that one request can ask for.
MAX_BREAKPOINTS = 1000
#: Our optional fields and DAP's names for them (SourceBreakpoint).
_TO_DAP = {"condition": "condition", "hit_condition": "hitCondition",
           "log_message": "logMessage"}
#: A breakpoint of the route (its body names the source once), and of a launch spec.
_ROUTE_ITEM_FIELDS = frozenset({"line", *_TO_DAP})
_SPEC_FIELDS = frozenset({"path", *_ROUTE_ITEM_FIELDS})
#: The body of `PUT …/breakpoints`.
ROUTE_FIELDS = frozenset({"path", "breakpoints"})


@dataclass(frozen=True)
class Breakpoint:
    """One source breakpoint of a launch spec."""

    path: str
    line: int
    condition: str | None = None
    hit_condition: str | None = None
    log_message: str | None = None

    def to_dap(self) -> dict[str, Any]:
        """The DAP SourceBreakpoint for this breakpoint."""
        return to_dap(vars(self))


def to_dap(item: dict[str, Any]) -> dict[str, Any]:
    """A checked breakpoint (our field names) as a DAP SourceBreakpoint."""
    out: dict[str, Any] = {"line": item["line"]}
    for ours, theirs in _TO_DAP.items():
        if item.get(ours):
            out[theirs] = item[ours]
    return out


def check_count(field: str, items: list[Any], *, reason: str = "bad-argument") -> None:
    """Refuse more than MAX_BREAKPOINTS items in `field`, with a sentence."""
    if len(items) > MAX_BREAKPOINTS:
        raise LaunchSpecError(f"'{field}' has {len(items)} items; at most {MAX_BREAKPOINTS} "
                              "breakpoints may be set in one request", reason=reason)


def _check_list(value: Any, field: str, expected: str, reason: str | None) -> list[Any]:
    if not isinstance(value, list):
        raise type_error(field, expected, value, reason=reason)
    check_count(field, value)
    return value


def _check_fields(value: dict[str, Any], known: frozenset[str], where: str,
                  reason: str | None) -> None:
    """Refuse a field of `value` that is not `known`, naming it and the known ones."""
    unknown = set(value) - known
    if unknown:
        raise LaunchSpecError(f"{where} has unknown field {sorted(unknown)[0]!r:.80}; known "
                              f"fields are {', '.join(sorted(known))}", reason=reason)


def _check_item(item: Any, where: str, expected: str, reason: str | None,
                known: frozenset[str] = _ROUTE_ITEM_FIELDS) -> dict[str, Any]:
    """One breakpoint's `line` and optional fields (our names), checked; any other
    field than `known` refused."""
    if not isinstance(item, dict):
        raise type_error(where, expected, item, reason=reason)
    _check_fields(item, known, where, reason)
    line = item.get("line")
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        raise type_error(f"{where}.line", "a positive integer", line, reason=reason)
    out: dict[str, Any] = {"line": line}
    for key in _TO_DAP:
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            raise type_error(f"{where}.{key}", "a string", value, reason=reason)
        out[key] = value
    return out


def parse_spec_breakpoints(value: Any, policy: PathPolicy,
                           base: Path) -> tuple[Breakpoint, ...]:
    """A launch spec's `breakpoints` (paths relative to `base`, the session's cwd)."""
    if value is None:
        return ()
    out = []
    for i, item in enumerate(_check_list(value, "breakpoints",
                                         "a list of {path, line} objects", None)):
        where = f"breakpoints[{i}]"
        checked = _check_item(item, where, "an object with 'path' and 'line'", None,
                              _SPEC_FIELDS)
        path = item.get("path")
        if not isinstance(path, str) or not path:
            raise type_error(f"{where}.path", "a non-empty string", path)
        resolved = policy.resolve(path, f"{where}.path", base)
        out.append(Breakpoint(str(resolved), **checked))
    return tuple(out)


def check_route_body(body: dict[str, Any]) -> None:
    """Refuse a field of the body of `PUT …/breakpoints` other than `path` and
    `breakpoints` (400 `bad-argument`), as a launch spec refuses one of its own."""
    _check_fields(body, ROUTE_FIELDS, "the body of PUT …/breakpoints", "bad-argument")


def parse_route_breakpoints(value: Any) -> list[dict[str, Any]]:
    """The `breakpoints` of `PUT …/breakpoints` (one source: no paths), as DAP
    SourceBreakpoints; a bad one is a 400 `bad-argument` naming it."""
    items = _check_list(value, "breakpoints", "a list of {line} objects", "bad-argument")
    return [to_dap(_check_item(item, f"breakpoints[{i}]", "an object with 'line'",
                               "bad-argument"))
            for i, item in enumerate(items)]


def describe_breakpoints(requested: list[dict[str, Any]],
                         answered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair one file's requested breakpoints (DAP SourceBreakpoints) with the debugger's
    answers, as the breakpoints route shows them (our field names)."""
    out = []
    for i, req in enumerate(requested):
        ans = answered[i] if i < len(answered) else {}
        described = {
            "line": ans.get("line", req.get("line")),
            "requested_line": req.get("line"),
            "verified": bool(ans.get("verified")),
            "message": ans.get("message"),
            "id": ans.get("id"),
        }
        out.append(described | {ours: req.get(theirs) for ours, theirs in _TO_DAP.items()})
    return out
