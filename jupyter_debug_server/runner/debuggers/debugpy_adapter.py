"""DAP adapter for Python programs: our own front for debugpy's pydevd.

    python -m jupyter_debug_server.runner.debuggers.debugpy_adapter [--session ID]
        [--channel-fd N] [--program FILE | --module NAME] [-- ARGS...]

pydevd (the debugger inside the debuggee) already speaks DAP. What stock
debugpy adds around it is an adapter process that reaches pydevd over loopback
TCP, with an access token on the debuggee's argv: reachable by every user of a
shared host. This adapter instead hands pydevd a socket that is already
connected (see debugpy/pydevd_boot.py), captures the debuggee's own stdout/stderr
pipes, and relays everything else to pydevd unchanged (the debugpy/ package).

This module is the worker's entry point and composition root: it gathers the
request modules into the adapter's registry.
"""

from __future__ import annotations

import argparse

from ...dap import DapChannel
from . import worker
from .debugpy import adapter, requests
from .registry import Registry

REQUESTS: Registry[adapter.DebugpyAdapter] = Registry(adapter.CAPABILITIES, (requests,))


class DebugpyAdapter(adapter.DebugpyAdapter):
    """The debugpy adapter with its requests: what the worker runs."""

    def __init__(self, client: DapChannel, options: argparse.Namespace) -> None:
        super().__init__(client, options, REQUESTS)


def main() -> None:
    """Run the worker (see the module docstring for the command line)."""
    parser = worker.base_parser("Debug a Python program over DAP (debugpy's pydevd).")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--program", help="default 'program' for a launch request")
    target.add_argument("--module", help="default 'module' for a launch request")
    parser.add_argument("args", nargs="*", help="default 'args' for a launch request")
    options = parser.parse_args()
    worker.run(DebugpyAdapter, options)


if __name__ == "__main__":
    main()
