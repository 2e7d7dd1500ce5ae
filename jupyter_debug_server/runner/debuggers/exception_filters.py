"""The exception filters our adapters offer (DAP `exceptionBreakpointFilters`), as data.

Standard library only: the worker side advertises them in `initialize`, and the server
(runner/discovery.py) lists them per debugger and checks a launch spec's
`exception_breakpoints` against them without starting a debugger. lldb-dap's filters are
its own (they depend on its build), so the server asks lldb-dap for them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEBUGPY_FILTERS", "GDB_FILTERS"]

#: pydevd's (it answers setExceptionBreakpoints): `uncaught` is what a session gets when its
#: launch spec names none, as with debugpy itself.
DEBUGPY_FILTERS: tuple[dict[str, Any], ...] = (
    {"filter": "raised", "label": "Raised Exceptions", "default": False},
    {"filter": "uncaught", "label": "Uncaught Exceptions", "default": True},
    {"filter": "userUnhandled", "label": "User Uncaught Exceptions", "default": False},
)

#: The gdb adapter's (gdb/breakpoints.py): gdb's C++ catchpoints, `-catch-throw` and
#: `-catch-catch`.
GDB_FILTERS: tuple[dict[str, Any], ...] = (
    {"filter": "throw", "label": "C++: on throw", "default": False},
    {"filter": "catch", "label": "C++: on catch", "default": False},
)
