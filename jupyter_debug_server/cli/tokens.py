"""`token`, `tokens` and `revoke`: a session's tokens from the command line.

Registered through `parser.COMMAND_GROUPS`; thin wrappers over the client library.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..client import render
from .context import Context


def run_token(ctx: Context) -> int:
    """Issue a session token and print its secret (the only time it is shown)."""
    o = ctx.options
    token = ctx.on_session(lambda sid: ctx.client.create_token(sid, o.ttl, o.scope))
    return ctx.emit(token, lambda: render.token_issued(token, ctx.client.url))


def run_tokens(ctx: Context) -> int:
    """List a session's tokens, never their secrets."""
    items = ctx.on_session(ctx.client.tokens)
    return ctx.emit(items, lambda: render.tokens_table(items) if items
                    else f"session {ctx.options.session} has no tokens")


def run_revoke(ctx: Context) -> int:
    """Revoke one token at once; its tunnels and event streams close."""
    o = ctx.options
    ctx.on_session(lambda sid: ctx.client.revoke_token(sid, o.token_id))
    # DELETE answers 204 without a body: show the token's record as it is now.
    record = next((t for t in ctx.client.tokens(o.session) if t["id"] == o.token_id), None)
    return ctx.emit(record, lambda: f"token {o.token_id} of session {o.session} is revoked")


def ttl_seconds(text: str) -> int:
    """argparse type of a token's lifetime: whole seconds above 0."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"ttl {text!r} is not a whole number of seconds "
                                         "above 0")
    return value


def positive_seconds(text: str) -> float:
    """argparse type of a timeout or a wait: seconds above 0 (fractions allowed)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `token`, `tokens` and `revoke` to the CLI's subparsers."""

    def add(name: str, run: Any, text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=text,
                                                    description=text)
        p.add_argument("session", help="session id (or a unique prefix of one)")
        p.set_defaults(run=run, parser=p)
        return p

    p = add("token", run_token, "issue a token for one session; prints its secret once")
    p.add_argument("--scope", choices=("control", "observe"), default="control",
                   help="control (default): everything; observe: read only")
    p.add_argument("--ttl", type=ttl_seconds, metavar="SECONDS",
                   help="lifetime (default: the server's token_default_ttl, 1 h)")
    add("tokens", run_tokens, "list a session's tokens (never their secrets)")
    p = add("revoke", run_revoke, "revoke a session token at once")
    p.add_argument("token_id", metavar="TOKEN_ID", help="the token's id (see `tokens`)")

