"""The checks of a client's DAP request before the mux or the session read it (the
workers check argument types again, for every client: dap/argument_types.py).

A client's bad shape gets an error response (or, for an unusable `seq`, BadMessage: its
transport closes) naming the value, never an exception in our code. Pure functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Message = dict[str, Any]

#: The largest `seq` a client may use: JavaScript clients cannot count past it exactly.
MAX_SEQ = 2**53 - 1


class BadMessage(ValueError):
    """A client's message is not a DAP message the mux can answer (its transport should
    close with 1007): the sentence says what is wrong."""


def shown(value: Any) -> str:
    """A client's value in an error sentence: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_types(command: str, args: Message, fields: dict[str, tuple[str, type]]) -> str | None:
    """Why one of `fields` of `args` (name -> (what it must be, type)) is wrong, or None."""
    for name, (what, kind) in fields.items():
        value = args.get(name)
        if value is None:
            continue
        wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        if wrong:
            return (f"{command}: argument {name!r} must be {what}, not {_type_name(value)} "
                    f"({shown(value)})")
    return None


def _check_initialize(args: Message) -> str | None:
    return _check_types("initialize", args, {
        "linesStartAt1": ("a boolean", bool), "columnsStartAt1": ("a boolean", bool),
        "pathFormat": ("a string", str)})


def _check_cancel(args: Message) -> str | None:
    wrong = _check_types("cancel", args, {"requestId": ("an integer", int),
                                          "progressId": ("a string", str)})
    if wrong is None and args.get("requestId") is not None and \
            not 0 <= args["requestId"] <= MAX_SEQ:
        wrong = f"cancel: requestId {args['requestId']} is not the seq of a request"
    return wrong


def _check_set_breakpoints(args: Message) -> str | None:
    source = args.get("source")
    if not isinstance(source, dict):
        return ("setBreakpoints: argument 'source' must be an object such as "
                f'{{"path": "/abs/file.py"}}, not {_type_name(source)} ({shown(source)})')
    wrong = _check_types("setBreakpoints", source, {"path": ("a string", str),
                                                    "sourceReference": ("an integer", int)})
    if wrong is not None:
        return wrong.replace("argument", "source field", 1)
    breakpoints = args.get("breakpoints")
    if breakpoints is not None:
        if not isinstance(breakpoints, list):
            return ("setBreakpoints: argument 'breakpoints' must be an array of objects, "
                    f"not {_type_name(breakpoints)} ({shown(breakpoints)})")
        for index, item in enumerate(breakpoints):
            if not isinstance(item, dict) or not is_int(item.get("line")):
                return (f"setBreakpoints: breakpoints[{index}] must be an object with an "
                        f"integer 'line', not {shown(item)}")
    lines = args.get("lines")
    if lines is not None and (not isinstance(lines, list)
                              or not all(is_int(line) for line in lines)):
        return f"setBreakpoints: argument 'lines' must be an array of integers, not {shown(lines)}"
    return None


def _check_set_function_breakpoints(args: Message) -> str | None:
    breakpoints = args.get("breakpoints")
    if not isinstance(breakpoints, list):
        return ("setFunctionBreakpoints: argument 'breakpoints' must be an array of objects, "
                f"not {_type_name(breakpoints)} ({shown(breakpoints)})")
    for index, item in enumerate(breakpoints):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return (f"setFunctionBreakpoints: breakpoints[{index}] must be an object with a "
                    f"string 'name', not {shown(item)}")
    return None


def _check_stack_trace(args: Message) -> str | None:
    return _check_types("stackTrace", args, {"threadId": ("an integer", int),
                                             "startFrame": ("an integer", int),
                                             "levels": ("an integer", int)})


#: The arguments the mux or the session read, checked before they are: a client's bad
#: shape gets an error response naming it, never an exception in our code.
_ARGUMENT_CHECKS: dict[str, Callable[[Message], str | None]] = {
    "initialize": _check_initialize,
    "cancel": _check_cancel,
    "setBreakpoints": _check_set_breakpoints,
    "setFunctionBreakpoints": _check_set_function_breakpoints,
    "stackTrace": _check_stack_trace,
}


def argument_error(command: str, arguments: Any) -> str | None:
    """Why a request's `arguments` cannot be taken as they are, or None (DAP: they are
    an object, and the fields the server reads have their protocol types)."""
    if arguments is None:
        return None
    if not isinstance(arguments, dict):
        return (f"the arguments of {shown(command)} must be a JSON object, not "
                f"{_type_name(arguments)} ({shown(arguments)})")
    check = _ARGUMENT_CHECKS.get(command)
    return None if check is None else check(arguments)
