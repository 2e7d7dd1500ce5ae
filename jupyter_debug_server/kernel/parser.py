"""The argument parser of `%debug_session`: one argparse subcommand per command, built
on IPython's `MagicArgumentParser` (bad usage raises `UsageError`, never exits)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser

from ..client.arguments import parse_breakpoint, parse_env, parse_place

PROG = "%debug_session"


class Parser(MagicArgumentParser):
    """A magic's parser whose errors are sentences with the command's usage."""

    def __init__(self, **kwargs: Any) -> None:
        # argparse's own formatter: IPython's prefixes a second `%` and `::` to the usage
        super().__init__(**kwargs, formatter_class=argparse.HelpFormatter)  # type: ignore[no-untyped-call]
        #: the subcommands' parsers, by name (for the usage text)
        self.commands: dict[str, Parser] = {}

    def parse_argstring(self, argstring: str, *, partial: bool = False) -> Any:
        """Split `argstring` as a POSIX shell would (quotes group words and go away,
        unlike IPython's default splitting, which keeps them) and parse it."""
        try:
            argv = shlex.split(argstring)
        except ValueError as exc:  # shlex's "No closing quotation"
            raise UsageError(f"{self.prog}: cannot split {argstring!r} into words: "
                             f"{str(exc).lower()}.") from None
        return self.parse_known_args(argv) if partial else self.parse_args(argv)

    def error(self, message: str) -> NoReturn:
        usage = " ".join(self.format_usage().split()).removeprefix("usage: ")
        raise UsageError(f"{self.prog}: {message}. Usage: {usage} (`{PROG}?` describes "
                         "every command).")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value


def _launch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stop-on-entry", action="store_true", help="stop at the first line")
    p.add_argument("-e", "--env", action="append", type=parse_env, default=[],
                   metavar="K=V", help="add to the program's environment (repeatable)")
    p.add_argument("--watch", dest="watches", action="append", default=[], metavar="EXPR",
                   help="an expression evaluated at every stop (repeatable)")
    p.add_argument("--name", help="display name of the session")
    p.add_argument("--wait-timeout", type=float, default=30, metavar="S",
                   help="longest wait for the first stop when there are breakpoints or "
                   "--stop-on-entry (default 30; the kernel waits meanwhile)")


def build_parser() -> Parser:
    """The parser of the line magic (its `command` is None for a bare `%debug_session`)."""
    parser = Parser(prog=PROG, description="Drive debug sessions of this notebook's "
                    "Jupyter server.")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")

    def add(name: str, text: str, **kwargs: Any) -> Any:
        command = parser.commands[name] = sub.add_parser(name, help=text, description=text,
                                                         **kwargs)
        return command

    p = add("launch", "launch a program under a debugger, make it current, show it")
    p.add_argument("-d", "--debugger", default="debugpy", help="debugpy (default), gdb, lldb")
    p.add_argument("-b", "--break", dest="breakpoints", action="append", default=[],
                   type=parse_breakpoint, metavar="FILE:LINE[:COND]",
                   help="a breakpoint set before the program runs (repeatable)")
    p.add_argument("--cwd", help="working directory (default: the kernel's)")
    p.add_argument("-m", "--module", help="run a Python module (as python -m MODULE)")
    _launch_options(p)
    p.add_argument("program", nargs="?", metavar="PROGRAM", help="the program (relative to "
                   "the kernel's working directory)")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS",
                   help="the program's arguments")

    p = add("attach", "attach to a running process, make it current, show it")
    p.add_argument("-p", "--pid", type=_positive, required=True, help="the process")
    p.add_argument("-d", "--debugger", default="debugpy", help="debugpy (default), gdb, lldb")
    p.add_argument("-b", "--break", dest="breakpoints", action="append", default=[],
                   type=parse_breakpoint, metavar="FILE:LINE[:COND]",
                   help="a breakpoint set on attaching (repeatable)")
    p.add_argument("--name", help="display name of the session")
    p.add_argument("--wait-timeout", type=float, default=30, metavar="S",
                   help="longest wait for the first stop when there are breakpoints "
                   "(default 30)")

    add("use", "make a session current").add_argument(
        "session", metavar="ID", help="a session id or a unique prefix of one")
    add("show", "show a session (default: the current one)").add_argument(
        "session", nargs="?", metavar="ID",
        help="a session id or a unique prefix of one")
    add("stack", "the call stack of the stopped thread")
    p = add("vars", "the variables of a frame (default the top one), or of a reference")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--frame", type=int, help="a frame id (see stack)")
    which.add_argument("--ref", type=int, help="a variables reference (REF column)")
    add("eval", "evaluate an expression in the top frame (the rest of the line, as typed)",
        usage="%(prog)s EXPR")
    add("step", "step over (default), in or out").add_argument(
        "kind", nargs="?", choices=("over", "in", "out"), default="over",
        metavar="over|in|out")
    add("continue", "resume; show where it stops next, or how it ended")
    add("pause", "interrupt; show where it stopped")
    add("stop", "end a session (default: the current one)").add_argument(
        "session", nargs="?", metavar="ID",
        help="a session id or a unique prefix of one")
    add("break", "add breakpoints (none given: list them)").add_argument(
        "specs", nargs="*", type=parse_breakpoint, metavar="FILE:LINE[:COND]")
    add("clear", "remove one breakpoint, or every breakpoint of a file").add_argument(
        "place", type=parse_place, metavar="FILE[:LINE]")
    add("logs", "the captured output").add_argument(
        "-f", "--follow", action="store_true", help="follow it live (in a widget)")
    p = add("token", "issue a session token to share the current session")
    p.add_argument("--scope", choices=("control", "observe"), default="control",
                   metavar="control|observe")
    p.add_argument("--ttl", type=_positive, metavar="S", help="lifetime in seconds "
                   "(default: the server's)")
    return parser


def build_cell_parser() -> Parser:
    """The parser of the cell magic: `%%debug_session launch [-b LINE]…`."""
    parser = Parser(prog=f"%{PROG}", description="Debug this cell's code under debugpy.")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND",
                                required=True)
    text = "(cell magic) write the cell to a file and debug it under debugpy"
    p = parser.commands["launch"] = sub.add_parser("launch", help=text, description=text)
    p.add_argument("-b", "--break", dest="lines", action="append", default=[],
                   type=_positive, metavar="LINE",
                   help="a breakpoint at the cell's LINE (from 1, the magic line excluded)")
    _launch_options(p)
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS",
                   help="the program's arguments (sys.argv)")
    return parser


def usage_text() -> str:
    """Every command's usage, for the magic's docstring (`%debug_session?`)."""
    lines = [f"{PROG}\n    list the server's sessions"]
    for parser in (build_parser(), build_cell_parser()):
        for command in parser.commands.values():
            usage = " ".join(command.format_usage().split()).removeprefix("usage: ")
            lines.append(f"{usage}\n    {command.description}")
    return "\n".join(lines)
