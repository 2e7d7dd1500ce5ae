"""DAP adapter for native programs: our own DAP server on top of GDB/MI.

    python -m jupyter_debug_server.runner.debuggers.gdb_adapter [--session ID]
        [--channel-fd N] [--binary ./a.out] [--gdb PATH] [-- ARGS...]

gdb 13 has no DAP mode; this adapter speaks DAP to the client and MI to gdb
(the gdb/ package, one module per family of requests). Without --binary it
waits for the program in the `launch` request, like any IDE adapter.
"""

from __future__ import annotations

from . import worker
from .gdb import breakpoints, execution, inspect, memory, startup  # noqa: F401  (handlers)
from .gdb.adapter import GdbAdapter


def main() -> None:
    """Run the worker (see the module docstring for the command line)."""
    parser = worker.base_parser("Debug a native program over DAP, through gdb's MI.")
    parser.add_argument("--binary", help="default 'program' for a launch request")
    parser.add_argument("--gdb", help="the gdb executable (default: gdb on PATH)")
    parser.add_argument("args", nargs="*", help="default 'args' for a launch request")
    options = parser.parse_args()
    worker.run(GdbAdapter, options)


if __name__ == "__main__":
    main()
