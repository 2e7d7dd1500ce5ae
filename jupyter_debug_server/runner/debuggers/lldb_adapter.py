"""DAP adapter for native programs through lldb-dap.

    python -m jupyter_debug_server.runner.debuggers.lldb_adapter [--session ID]
        [--channel-fd N] [--binary ./a.out] [--lldb-dap PATH] [-- ARGS...]

lldb-dap speaks DAP already; this worker relays to it and takes over what it must
own (the lldb/ package): a `launch` is turned into our exec stub (the program's own
stdout and stderr pipes, argv verbatim, no shell) that lldb-dap attaches to before
the program's first instruction; the exit code is reported after the pipes are
drained; where lldb-dap 19 departs from DAP or from the gdb adapter, the request or
event is corrected. Nothing is read from `.lldbinit` files.

This module is the worker's entry point and composition root: it gathers the
request modules into the adapter's registry.
"""

from __future__ import annotations

import argparse

from ...dap import DapChannel
from . import worker
from .lldb import adapter, corrections, disassemble, startup
from .lldb.discovery import find_lldb_dap
from .registry import Registry

__all__ = ["LldbAdapter", "find_lldb_dap", "main"]

REQUESTS: Registry[adapter.LldbAdapter] = Registry(
    adapter.BASE_CAPABILITIES, (corrections, disassemble, startup))


class LldbAdapter(adapter.LldbAdapter):
    """The lldb adapter with its requests: what the worker runs."""

    def __init__(self, client: DapChannel, options: argparse.Namespace) -> None:
        super().__init__(client, options, REQUESTS)


def main() -> None:
    """Run the worker (see the module docstring for the command line)."""
    parser = worker.base_parser("Debug a native program over DAP, through lldb-dap.")
    parser.add_argument("--binary", help="default 'program' for a launch request")
    parser.add_argument("--lldb-dap", help="the lldb-dap executable (default: found on PATH)")
    parser.add_argument("args", nargs="*", help="default 'args' for a launch request")
    worker.run(LldbAdapter, parser.parse_args())


if __name__ == "__main__":
    main()
