"""`history` and `watch`: a session's stop history and its watch expressions.

Registered through `parser.COMMAND_GROUPS`; thin wrappers over the client library.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..client import Json, render
from .context import Context, usage


def run_history(ctx: Context) -> int:
    """Print one block per stop (location, locals, watches); `-f` follows live."""
    o = ctx.options
    printed = 0

    def write(snapshot: Json) -> None:
        nonlocal printed
        if ctx.json:
            print(json.dumps(snapshot), flush=True)
        else:
            print(("\n" if printed else "") + render.snapshot_text(snapshot), flush=True)
        printed += 1

    if o.follow:
        ctx.on_session(lambda sid: ctx.client.follow_snapshots(sid, write, o.since))
    else:
        def print_all(sid: str) -> None:
            for snapshot in ctx.client.iter_snapshots(sid, o.since):
                write(snapshot)

        ctx.on_session(print_all)
        if not printed and not ctx.json:
            print(f"session {o.session} has no snapshots"
                  + (f" after #{o.since}" if o.since else ""), flush=True)
    return 0


def run_watch(ctx: Context) -> int:
    """Set the watch expressions (`--clear`: none); without any, show them."""
    o = ctx.options
    if o.clear and o.expressions:
        raise usage(o, "give expressions or --clear, not both")
    if o.clear or o.expressions:
        watches = ctx.on_session(lambda sid: ctx.client.set_watches(sid, o.expressions))
    else:
        watches = ctx.on_session(ctx.client.watches)
    return ctx.emit(watches, lambda: "\n".join(watches) if watches
                    else f"session {o.session} has no watches")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `history` and `watch` to the CLI's subparsers."""

    def add(name: str, run: Any, text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=text,
                                                    description=text)
        p.add_argument("session", help="session id (or a unique prefix of one)")
        p.set_defaults(run=run, parser=p)
        return p

    p = add("history", run_history, "print the stop history: one block per stop (where, "
            "the top frame's variables, the watches)")
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep printing each stop's snapshot as it is taken, until the "
                   "session ends")
    p.add_argument("--since", type=int, default=0, metavar="SEQ",
                   help="only snapshots after this number")
    p = add("watch", run_watch, "set the expressions evaluated at every stop (replacing "
            "the ones set); with none, show them")
    p.add_argument("expressions", nargs="*", metavar="EXPR",
                   help="an expression, evaluated in the top frame at every stop")
    p.add_argument("--clear", action="store_true", help="remove every watch")
