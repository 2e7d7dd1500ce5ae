"""DAP adapter for native programs: our own DAP server on top of GDB/MI.

    python -m jupyter_debug_server.runner.debuggers.gdb_adapter [--session ID]
        [--channel-fd N] [--binary ./a.out] [--gdb PATH] [-- ARGS...]

gdb 13 has no DAP mode; this adapter speaks DAP to the client and MI to gdb
(the gdb/ package, one module per family of requests). Without --binary it
waits for the program in the `launch` request, like any IDE adapter.

This module is the worker's entry point and composition root: it gathers the
request modules into the adapter's registry.
"""

from __future__ import annotations

import argparse

from ...dap import DapChannel
from . import worker
from .gdb import adapter, breakpoints, execution, inspect, memory, startup
from .registry import Registry

REQUESTS: Registry[adapter.GdbAdapter] = Registry(
    adapter.BASE_CAPABILITIES, (breakpoints, execution, inspect, memory, startup))


class GdbAdapter(adapter.GdbAdapter):
    """The gdb adapter with its requests: what the worker runs."""

    def __init__(self, client: DapChannel, options: argparse.Namespace) -> None:
        super().__init__(client, options, REQUESTS)


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
