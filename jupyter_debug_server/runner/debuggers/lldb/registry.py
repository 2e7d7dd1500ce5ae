"""The lldb adapter's request registry (handlers register in the modules beside this).

Commands without a handler here go to lldb-dap unchanged, if lldb-dap knows them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..dispatch import Registry

if TYPE_CHECKING:
    from .adapter import LldbAdapter

REQUESTS: Registry[LldbAdapter] = Registry({"supportsTerminateRequest": True})
request = REQUESTS.request

#: Checks that run before a request goes to lldb-dap unchanged, synchronously: stepping
#: requests pass here, and a task per step would cost every step a loop turn. A check
#: raises AdapterError to refuse the request.
CHECKS: dict[str, Callable[[LldbAdapter, dict[str, Any]], None]] = {}

#: The requests lldb-dap 19 answers (its RegisterRequestCallbacks). It exits on any other
#: command (found by the hardening fuzz, issue 11: runInTerminal, startDebugging,
#: locations, cancel…), so the adapter refuses what is neither here nor in REQUESTS.
LLDB_DAP_COMMANDS = frozenset({
    "attach", "completions", "continue", "configurationDone", "disconnect", "evaluate",
    "exceptionInfo", "initialize", "launch", "next", "pause", "restart", "scopes",
    "setBreakpoints", "setExceptionBreakpoints", "setFunctionBreakpoints", "setVariable",
    "source", "stackTrace", "stepIn", "stepInTargets", "stepOut", "threads", "variables",
    "dataBreakpointInfo", "setDataBreakpoints", "compileUnits", "modules",
})
