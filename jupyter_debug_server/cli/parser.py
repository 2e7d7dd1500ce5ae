"""`jupyter debug-server` / `jupyter-debug-server`: the parser and the entry point.

`serve` (serve.py) starts a Jupyter server with the extension. The other commands
(sessions.py, history.py, tokens.py, forward.py, mcp.py) are thin wrappers over the client
library and find the server by `--url`/`--token`,
`JUPYTER_DEBUG_SERVER_URL`/`JUPYTER_DEBUG_SERVER_TOKEN`, or Jupyter's runtime files.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from ..client import TOKEN_ENV, URL_ENV, DebugServerClient, DebugServerClientError, discover
from . import forward, history, mcp, serve, sessions, tokens
from .context import run_command
from .tokens import positive_seconds

#: Adds command groups to the parser: `register(subparsers, common)`. A command that
#: talks to a server sets `run=<function(Context) -> int>` (it gets a connected client,
#: and the server's refusals become exit status 1); one that does not sets `func`.
COMMAND_GROUPS: list[Callable[[Any, argparse.ArgumentParser], None]] = [
    sessions.register,
    history.register,
    tokens.register,
    forward.register,
    mcp.register,
]


def _add_connection_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--url", default=default, help="the Jupyter server's URL with its "
                        f"base_url (default: ${URL_ENV}, else the newest running server)")
    parser.add_argument("--token", default=default, help="a Jupyter token, or a session "
                        f"token (jds_…) (default: ${TOKEN_ENV}, else the runtime file's)")
    parser.add_argument("--json", action="store_true", default=default,
                        help="print the server's JSON instead of text")
    parser.add_argument("--timeout", type=positive_seconds, default=default, metavar="SECONDS",
                        help="longest wait for one request (default 120)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="jupyter-debug-server",
        description="Debug programs outside the notebook kernel from Jupyter.",
    )
    _add_connection_options(parser, None)
    # The same options after the command name; SUPPRESS keeps a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    _add_connection_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.register(sub, common)
    for register in COMMAND_GROUPS:
        register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `jupyter-debug-server` and `jupyter debug-server`."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`jupyter-debug-server vars … | head`): that is the end of
        # the output, not an error to show. Python flushes stdout again at exit, so point
        # it at /dev/null first (the recipe of Python's `signal` documentation).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1


def _main(argv: list[str] | None) -> int:
    options = build_parser().parse_args(argv)
    if hasattr(options, "func"):
        return int(options.func(options))
    try:
        info = discover(options.url, options.token)
        with DebugServerClient(info.url, info.token,
                               timeout=options.timeout or 120) as client:
            return run_command(options, client)
    except DebugServerClientError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
