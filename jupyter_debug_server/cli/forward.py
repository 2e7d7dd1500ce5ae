"""`jupyter-debug-server forward`: a local DAP endpoint for an IDE (see client/forward.py).

Registered through `parser.COMMAND_GROUPS`; a thin wrapper over the client library.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any

from ..client import FINAL_STATES
from ..client.forward import PortForward, forward_stdio
from .context import Context


def run_forward(ctx: Context) -> int:
    """Relay DAP between an IDE (stdio or a loopback port) and the session's tunnel."""
    o = ctx.options
    handler = logging.StreamHandler(sys.stderr)  # stdout belongs to DAP (--stdio)
    handler.setFormatter(logging.Formatter("jupyter-debug-server forward: %(message)s"))
    logger = logging.getLogger("jupyter_debug_server.forward")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    # The id as given, or the one session a prefix names; and it must still run.
    model = ctx.on_session(ctx.client.session)
    sid = str(model["id"])
    if model["state"] in FINAL_STATES:
        print(f"error: session {sid} is {model['state']}; there is nothing to forward to",
              file=sys.stderr)
        return 1
    if o.port is None:
        return _run(forward_stdio(ctx.client, sid))
    return _run(PortForward(ctx.client, sid, o.host, o.port).run())


def _run(main: Coroutine[Any, Any, int]) -> int:
    """Run the forward on uvloop where it is installed (a dependency on Linux and macOS):
    every DAP message wakes the forward's loop once on its way in and once on its way
    out, and uvloop's wake-up costs a fraction of the standard loop's."""
    try:
        import uvloop  # noqa: PLC0415 - optional: a dependency everywhere but on Windows
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {text!r} is not a number from 0 to 65535")
    return value


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `forward` command to the CLI's subparsers."""
    text = ("serve the session's DAP to an IDE: on stdin/stdout (--stdio, a debug adapter "
            "executable; preferred) or on a loopback TCP port (--port)")
    p: argparse.ArgumentParser = sub.add_parser("forward", parents=[common], help=text,
                                                description=text)
    p.add_argument("session", help="session id (or a unique prefix of one)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--stdio", action="store_true",
                      help="speak DAP on stdin/stdout (logs go to stderr); opens no port")
    # A bare --port is --port 0: a port the OS picks is one a web page cannot guess,
    # so the docs never suggest a fixed one (an explicit N still works).
    mode.add_argument("--port", type=_port, nargs="?", const=0, metavar="N",
                      help="listen on a loopback TCP port the OS picks (--port or --port 0; "
                      "printed as 'listening on HOST:PORT'), or on port N; only strict DAP "
                      "from your own user's processes is served")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on with --port (default 127.0.0.1; anything "
                   "but loopback is warned about, and peers must still be your own user's "
                   "processes on this host)")
    p.set_defaults(run=run_forward, parser=p)
