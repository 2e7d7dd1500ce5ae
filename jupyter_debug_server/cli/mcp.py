"""`jupyter-debug-server mcp`: the MCP server on stdio (see jupyter_debug_server/mcp/).

Registered through `parser.COMMAND_GROUPS`; a thin wrapper: the server is found like
every command's, and with `--observe SESSION` the agent gets only an observe-scope token
of that session, which the Jupyter server lets read and never step, evaluate or stop.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from typing import Any

from ..client import DebugServerClient, DebugServerClientError, Json
from ..client.transport import SESSION_TOKEN_PREFIX
from ..mcp import McpUnavailable, build_server
from .context import Context, usage
from .tokens import positive_seconds, ttl_seconds


def run_mcp(ctx: Context) -> int:
    """Serve MCP on stdin/stdout until the MCP client closes stdin."""
    o = ctx.options
    if o.ttl is not None and o.observe is None:
        raise usage(o, "--ttl is the lifetime of the --observe token: give --observe too")
    client, issued = ctx.client, None
    if o.observe is not None:
        o.session = o.observe  # (what ctx.on_session expands)
        client, issued = _observer(ctx)
    # MCP clients close stdin, then send SIGTERM after a grace period: either way the
    # cleanup below runs (a SIGTERM would otherwise end the process without it).
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        try:
            server = build_server(client, observe=o.observe is not None, launch_wait=o.wait)
        except McpUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        server.run("stdio")
    finally:
        signal.signal(signal.SIGTERM, previous)
        if issued is not None:
            client.close()
            # The token dies with its TTL or its session anyway; end it with the agent.
            with contextlib.suppress(DebugServerClientError):
                ctx.client.revoke_token(issued["session_id"], issued["id"])
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _observer(ctx: Context) -> tuple[DebugServerClient, Json | None]:
    """A client whose only credential is an observe-scope token of the `--observe`
    session (issued now with the credential found, or the session token given), and the
    token issued, to revoke at the end."""
    o = ctx.options
    client = ctx.client
    if client.token.startswith(SESSION_TOKEN_PREFIX):
        # A session token cannot issue tokens; the server holds it to its own scope.
        return client, None
    issued = ctx.on_session(lambda sid: client.create_token(sid, o.ttl, "observe"))
    return DebugServerClient(client.url, str(issued["secret"]),
                             timeout=client.transport.timeout,
                             ssl_context=client.transport.ssl_context), issued


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `mcp` command to the CLI's subparsers."""
    text = ("serve MCP (Model Context Protocol) on stdin/stdout, so that an AI agent can "
            "launch, step and inspect debug sessions; needs the extra "
            "jupyter-debug-server[mcp]")
    p: argparse.ArgumentParser = sub.add_parser("mcp", parents=[common], help=text,
                                                description=text)
    p.add_argument("--observe", metavar="SESSION",
                   help="read-only: offer only the tools that read, and act with an "
                   "observe-scope token of SESSION (an id or unique prefix) issued now; a "
                   "session token given with --token is used as it is")
    p.add_argument("--ttl", type=ttl_seconds, metavar="SECONDS",
                   help="lifetime of the --observe token (default: the server's "
                   "token_default_ttl, 1 h)")
    p.add_argument("--wait", type=positive_seconds, default=30.0, metavar="SECONDS",
                   help="how long launch_session and attach_session wait for the first "
                   "stop before answering pending (default 30; continue, step and pause "
                   "wait the Jupyter server's step_timeout)")
    p.set_defaults(run=run_mcp, parser=p)
