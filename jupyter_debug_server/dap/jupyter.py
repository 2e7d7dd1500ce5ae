"""JupyterLab's debugger requests that are not DAP, as the mux answers them. Pure.

JupyterLab's `@jupyterlab/debugger` was written for a kernel's debugger, which answers a
few requests of its own besides DAP (ipykernel's `debugger.py`): `debugInfo`, the state a
front end restores itself from (breakpoints, stopped threads, how cell code maps to
files), and the cell and variable requests of KERNEL_ONLY_COMMANDS (policy.py). A session
debugs a program, not a kernel, and no debugger behind the mux knows these requests: the
mux answers `debugInfo` from its own state and refuses the others with a sentence.
Neither ever reaches the debugger.
"""

from __future__ import annotations

from .arguments import is_int
from .messages import Message

__all__ = ["cell_prefix", "debug_info", "kernel_only"]


def cell_prefix(session: str) -> str:
    """Where `session` would keep cells' code: a prefix no real source path starts with
    (JupyterLab maps a file under it to a notebook cell)."""
    return f"/jupyter-debug-server/session/{session}/cells/"


def debug_info(session: str, breakpoints: list[Message], stopped: Message | None) -> Message:
    """The body of a `debugInfo` response: `breakpoints` grouped by source
    (BreakpointBook.listing), and the thread of the remembered `stopped` event, if any."""
    thread = ((stopped or {}).get("body") or {}).get("threadId")
    return {
        "isStarted": True,
        # Cells are never files here (tmpFilePrefix is no real path): the hash only has
        # to be one JupyterLab knows.
        "hashMethod": "Murmur2",
        "hashSeed": 0,
        "tmpFilePrefix": cell_prefix(session),
        "tmpFileSuffix": ".py",
        "breakpoints": breakpoints,
        "stoppedThreads": [thread] if is_int(thread) else [],
        "richRendering": False,
        "exceptionPaths": [],
        "copyToGlobals": False,
    }


def kernel_only(command: str, session: str) -> str:
    """Why the Jupyter kernel request `command` is refused by `session`."""
    return (f"{command!r} is a Jupyter kernel request; session {session} debugs a program, "
            "not a kernel")
