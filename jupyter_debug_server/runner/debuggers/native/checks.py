"""Rules the native adapters apply to a client's request before their debugger sees it.

gdb and lldb read hit conditions and watch expressions differently; checking them
here gives both adapters one meaning and one error message.
"""

from __future__ import annotations

import re

_HIT = re.compile(r"^\s*(==|>=|>)?\s*(\d+)\s*$")
# Assignment or increment outside the REPL (watch, hover, ...) would change the program.
_SIDE_EFFECT = re.compile(r"(?<![=!<>])=(?!=)|\+\+|--")

#: An `evaluate` argument the server adds to a REST evaluation in the REPL context: answer
#: the value alone (`41`, as a watch shows it), not the console's transcript (lldb's
#: `(int) $0 = 41`); the REPL's freedom to change the program stays.
VALUE_FORM = "jupyterDebugServer.valueForm"


def ignore_count(hit_condition: str | None) -> int | None:
    """The hits to skip for a DAP hitCondition ('5', '==5', '>=5', '>4'), or None.

    Raises ValueError with a sentence naming the condition when it is none of those.
    """
    if not hit_condition:
        return None
    match = _HIT.match(hit_condition)
    if match is None:
        raise ValueError(f"hit condition {hit_condition!r} is not N, ==N, >=N or >N")
    op, count = match.group(1) or "==", int(match.group(2))
    if op == ">":
        return count
    return max(count - 1, 0)


def side_effect_refusal(context: str, expression: str) -> str | None:
    """Why a non-REPL `expression` is refused (it would change the program), or None.

    The REPL is where a user changes things on purpose; a watch or a hover must not.
    """
    if context != "repl" and _SIDE_EFFECT.search(expression):
        return f"{context} expressions must not change the program: {expression!r}"
    return None
