"""Watch expressions: the launch spec's `watches` and the watches route, checked once.

Pure functions (no I/O), used by launch_spec.py and by the session's snapshots
(snapshots.py); every refusal is a LaunchSpecError naming the bad value.
"""

from __future__ import annotations

from typing import Any

from .errors import LaunchSpecError, type_error

__all__ = ["MAX_WATCHES", "MAX_WATCH_CHARS", "parse_watches"]

#: Watches of one session: each is one `evaluate` at every stop.
MAX_WATCHES = 32
#: Characters of one watch expression.
MAX_WATCH_CHARS = 1000


def parse_watches(value: Any, name: str = "watches", *,
                  reason: str | None = None) -> tuple[str, ...]:
    """A list of watch expressions, checked: strings, not blank, no NUL, bounded in count
    and length (LaunchSpecError otherwise, with `reason` if given)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise type_error(name, "a list of expression strings", value, reason=reason)
    if len(value) > MAX_WATCHES:
        raise LaunchSpecError(f"'{name}' has {len(value)} expressions; a session may watch "
                              f"at most {MAX_WATCHES}", reason=reason)
    for index, item in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(item, str):
            raise type_error(where, "an expression string", item, reason=reason)
        problem = None
        if not item.strip():
            problem = f"'{where}' is blank; a watch needs an expression"
        elif len(item) > MAX_WATCH_CHARS:
            problem = (f"'{where}' ({item[:40]!r}…) has {len(item)} characters; a watch may "
                       f"have at most {MAX_WATCH_CHARS}")
        elif "\x00" in item:
            problem = f"'{where}' {item[:60]!r} contains a NUL character"
        if problem is not None:
            raise LaunchSpecError(problem, reason=reason)
    return tuple(value)
