"""The session commands of `jupyter-debug-server`: thin wrappers over the client library.

Each command is `run_x(ctx) -> exit status`; `register(subparsers, common)` adds them to
the CLI's parser. Other command groups (token, revoke, forward, mcp) register the same
way through `parser.COMMAND_GROUPS`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

from ..client import DebugServerClient, Json, render
from ..client.arguments import attach_target, parse_breakpoint, parse_env, parse_exceptions
from .context import Context, usage
from .tokens import positive_seconds

# -- debuggers and sessions -------------------------------------------------------------


def run_debuggers(ctx: Context) -> int:
    items = ctx.client.debuggers(refresh=ctx.options.refresh)
    return ctx.emit(items, lambda: render.debuggers_table(items))


def _create(ctx: Context, spec: Json) -> int:
    model = ctx.client.create_session(spec)
    if ctx.options.wait or spec.get("stop_on_entry"):
        # The first stop may come just after POST answers: wait for it, so the next
        # command (stack, vars) finds the session stopped.
        model = ctx.client.wait_settled(model["id"], ctx.options.wait_timeout)
    return ctx.emit(model, lambda: render.summary(model))


def run_launch(ctx: Context) -> int:
    o = ctx.options
    args = list(o.args)
    if o.module is not None and o.program is not None:
        args.insert(0, o.program)  # after -m, every positional is an argument
    spec: Json = {"debugger": o.debugger, "args": args}
    if o.module is not None:
        spec["module"] = o.module
    elif o.program is not None:
        spec["program"] = o.program
    else:
        raise usage(o, "launch needs a PROGRAM or -m MODULE")
    _common_spec(o, spec)
    if o.env:
        spec["env"] = dict(o.env)
    if o.stop_on_entry:
        spec["stop_on_entry"] = True
    return _create(ctx, spec)


def run_attach(ctx: Context) -> int:
    o = ctx.options
    spec = attach_target(o.pid, o.core, o.program, o.debugger)
    if spec is None:
        if o.pid is not None:
            raise usage(o, "give either --pid, or --core with --program")
        raise usage(o, "attach needs --pid N, or --core FILE with --program EXECUTABLE")
    _common_spec(o, spec)
    return _create(ctx, spec)


def _common_spec(o: argparse.Namespace, spec: Json) -> None:
    if o.cwd is not None:
        spec["cwd"] = o.cwd
    if o.name is not None:
        spec["name"] = o.name
    if o.breakpoints:
        spec["breakpoints"] = o.breakpoints
    if o.functions:
        spec["function_breakpoints"] = o.functions
    if o.exceptions is not None:
        spec["exception_breakpoints"] = o.exceptions
    if o.watches:
        spec["watches"] = o.watches


def run_list(ctx: Context) -> int:
    models = ctx.client.sessions()
    return ctx.emit(models, lambda: render.sessions_table(models) if models
                    else "no debug sessions")


def run_show(ctx: Context) -> int:
    model = ctx.on_session(ctx.client.session)
    return ctx.emit(model, lambda: render.session_details(model))


def run_stop(ctx: Context) -> int:
    model = ctx.on_session(ctx.client.terminate)
    return ctx.emit(model, lambda: render.summary(model))


def run_logs(ctx: Context) -> int:
    o = ctx.options

    def write(chunk: Json) -> None:
        if ctx.json:
            sys.stdout.write(json.dumps(chunk) + "\n")
            sys.stdout.flush()
            return
        # The program's stderr, and the debugger's own messages, go to our stderr.
        stream = sys.stdout if chunk["category"] == "stdout" else sys.stderr
        stream.write(chunk["output"])
        stream.flush()

    if o.follow:
        ctx.on_session(lambda sid: ctx.client.follow_output(sid, write, o.since))
    else:
        def print_all(sid: str) -> None:
            for chunk in ctx.client.iter_output(sid, o.since):
                write(chunk)

        ctx.on_session(print_all)
    return 0


# -- control ----------------------------------------------------------------------------


def run_break(ctx: Context) -> int:
    o = ctx.options
    client = ctx.client
    results: list[Json] = []
    for path in o.clear:
        results.append(ctx.on_session(partial(_clear, client, path)))
    if o.specs:
        results += ctx.on_session(lambda sid: client.add_breakpoints(sid, o.specs))
    if not o.specs and not o.clear:
        results = ctx.on_session(client.breakpoints)
    return ctx.emit(results, lambda: render.breakpoints_text(results))


def _clear(client: DebugServerClient, path: str, sid: str) -> Json:
    return client.clear_breakpoints(sid, path)


def run_continue(ctx: Context) -> int:
    model = ctx.on_session(lambda sid: ctx.client.continue_(sid, ctx.options.thread))
    return ctx.emit(model, lambda: render.where(model))


def run_step(ctx: Context) -> int:
    model = ctx.on_session(lambda sid: ctx.client.step(sid, ctx.options.kind,
                                                       ctx.options.thread))
    return ctx.emit(model, lambda: render.where(model))


def run_pause(ctx: Context) -> int:
    model = ctx.on_session(lambda sid: ctx.client.pause(sid, ctx.options.thread))
    return ctx.emit(model, lambda: render.where(model))


def run_stack(ctx: Context) -> int:
    o = ctx.options
    stack = ctx.on_session(lambda sid: ctx.client.stack(sid, o.thread, o.start, o.levels))
    return ctx.emit(stack, lambda: render.stack_table(stack))


def run_vars(ctx: Context) -> int:
    o = ctx.options
    result = ctx.on_session(lambda sid: ctx.client.variables(sid, o.frame, o.ref, o.start,
                                                             o.count))
    return ctx.emit(result, lambda: render.variables_text(result))


def run_eval(ctx: Context) -> int:
    o = ctx.options
    result = ctx.on_session(lambda sid: ctx.client.evaluate(sid, o.expression, o.frame,
                                                            o.context))

    def text() -> str:
        ref = result.get("variablesReference") or 0
        more = f"\n(its children: vars {o.session} --ref {ref})" if ref else ""
        return str(result["result"]) + more
    return ctx.emit(result, text)


# -- the parser -------------------------------------------------------------------------


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the session commands to the CLI's subparsers."""

    def add(name: str, run: Callable[[Context], int], help_text: str,
            session: bool = True) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=help_text,
                                                    description=help_text)
        if session:
            p.add_argument("session", help="session id (or a unique prefix of one)")
        p.set_defaults(run=run, parser=p)
        return p

    p = add("debuggers", run_debuggers, "list the debuggers and whether each works here",
            session=False)
    p.add_argument("--refresh", action="store_true", help="probe again instead of the cache")

    p = add("launch", run_launch, "launch a program under a debugger", session=False)
    p.add_argument("--debugger", default="debugpy", help="debugpy (default), gdb or lldb")
    p.add_argument("-m", "--module", help="run a Python module (as python -m MODULE)")
    p.add_argument("program", nargs="?", help="the program (a path on the server, "
                   "relative to --cwd or the server's root_dir)")
    p.add_argument("args", nargs="*", help="the program's arguments, after --")
    p.add_argument("-e", "--env", action="append", type=parse_env, default=[],
                   metavar="KEY=VALUE", help="add to the program's environment (repeatable)")
    p.add_argument("--stop-on-entry", action="store_true",
                   help="stop at the first line (implies --wait)")
    _add_spec_options(p)

    p = add("attach", run_attach, "attach to a running process, or open a core file",
            session=False)
    p.add_argument("--pid", type=int, help="the process to attach to")
    p.add_argument("--core", help="a core file to open post mortem (with --program)")
    p.add_argument("--program", help="the executable that dumped --core")
    p.add_argument("--debugger", help="debugpy (default for --pid) or gdb (default for --core)")
    _add_spec_options(p)

    _register_sessions(add)
    _register_control(add)


Adder = Callable[..., argparse.ArgumentParser]


def _register_sessions(add: Adder) -> None:
    add("list", run_list, "list sessions, newest first", session=False)
    add("show", run_show, "show one session")
    add("stop", run_stop, "end a session (idempotent)")

    p = add("logs", run_logs, "print a session's captured output")
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep printing output as it arrives, until the session ends")
    p.add_argument("--since", type=int, default=0, metavar="SEQ",
                   help="only chunks after this sequence number")



def _register_control(add: Adder) -> None:
    p = add("break", run_break, "add breakpoints, clear a file's, or list them")
    p.add_argument("specs", nargs="*", type=parse_breakpoint, metavar="FILE:LINE[:CONDITION]",
                   help="breakpoints to add (none: list every breakpoint)")
    p.add_argument("--clear", action="append", default=[], metavar="FILE",
                   help="remove every breakpoint of FILE (repeatable)")

    p = add("continue", run_continue, "resume; print where it stops next, or how it ended")
    _thread(p)
    p = add("step", run_step, "step over (default), in or out; print the new location")
    p.add_argument("kind", nargs="?", choices=("over", "in", "out"), default="over")
    _thread(p)
    p = add("pause", run_pause, "interrupt a running session; print where it stopped")
    _thread(p)

    p = add("stack", run_stack, "print the call stack of the stopped thread")
    _thread(p)
    p.add_argument("--start", type=int, default=0, help="first frame (0: innermost)")
    p.add_argument("--levels", type=int, default=50, help="most frames to print")

    p = add("vars", run_vars, "print the variables of a frame, or of one reference")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--frame", type=int, help="frame id (default: the top frame)")
    which.add_argument("--ref", type=int, help="a variables reference (REF column)")
    p.add_argument("--start", type=int, default=0, help="first variable of the page")
    p.add_argument("--count", type=int, default=100, help="variables per page (0: all)")

    p = add("eval", run_eval, "evaluate an expression in a frame of the stopped thread")
    p.add_argument("expression")
    p.add_argument("--frame", type=int, help="frame id (default: the top frame)")
    p.add_argument("--context", choices=("repl", "watch", "hover", "clipboard", "variables"),
                   help="DAP evaluate context (default repl)")


def _add_spec_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-b", "--break", dest="breakpoints", action="append",
                   type=parse_breakpoint, default=[], metavar="FILE:LINE[:CONDITION]",
                   help="a breakpoint set before the target runs on (repeatable)")
    p.add_argument("--function", dest="functions", action="append", default=[],
                   metavar="NAME", help="a function breakpoint (repeatable)")
    p.add_argument("--exceptions", type=parse_exceptions, metavar="FILTER[,FILTER…]|none",
                   help="where the program stops on exceptions: the debugger's exception "
                   "filters (`debuggers` lists them, e.g. uncaught,raised for debugpy), or "
                   "none for no exception stops (default: the debugger's defaults)")
    p.add_argument("--watch", dest="watches", action="append", default=[], metavar="EXPR",
                   help="an expression evaluated at every stop, for the stop history "
                   "(repeatable; see `history`)")
    p.add_argument("--cwd", help="working directory on the server (default: its root_dir)")
    p.add_argument("--name", help="display name of the session")
    p.add_argument("--wait", action="store_true",
                   help="return once the session has stopped or ended")
    p.add_argument("--wait-timeout", type=positive_seconds, default=30, metavar="SECONDS",
                   help="how long --wait waits (default 30)")


def _thread(p: argparse.ArgumentParser) -> None:
    p.add_argument("--thread", type=int, help="thread id (default: the thread that stopped)")

