"""DAP adapter for native programs through lldb-dap.

    python -m jupyter_debug_server.runner.debuggers.lldb_adapter [--session ID]
        [--channel-fd N] [--binary ./a.out] [--lldb-dap PATH] [-- ARGS...]

lldb-dap speaks DAP already; this worker relays to it and takes over what it must
own (the lldb/ package): a `launch` is turned into our exec stub (the program's own
stdout and stderr pipes, argv verbatim, no shell) that lldb-dap attaches to before
the program's first instruction; the exit code is reported after the pipes are
drained; where lldb-dap 19 departs from DAP or from the gdb adapter, the request or
event is corrected. Nothing is read from `.lldbinit` files.
"""

from __future__ import annotations

from . import worker
from .lldb import corrections, disassemble, startup  # noqa: F401  (handlers)
from .lldb.adapter import LldbAdapter
from .lldb.discovery import find_lldb_dap

__all__ = ["LldbAdapter", "find_lldb_dap", "main"]


def main() -> None:
    """Run the worker (see the module docstring for the command line)."""
    parser = worker.base_parser("Debug a native program over DAP, through lldb-dap.")
    parser.add_argument("--binary", help="default 'program' for a launch request")
    parser.add_argument("--lldb-dap", help="the lldb-dap executable (default: found on PATH)")
    parser.add_argument("args", nargs="*", help="default 'args' for a launch request")
    worker.run(LldbAdapter, parser.parse_args())


if __name__ == "__main__":
    main()
