"""The arguments of DAP requests, checked before anything reads them. Pure functions.

Two checks, one module:

- `check_request` applies the full table of DAP's argument types (written from the
  Debug Adapter Protocol specification, debugAdapterProtocol.json): every worker runs
  it before its debugger sees a request. Debuggers trust these types (pydevd drops its
  connection on a `threadId` of 1.0, lldb-dap 19 exits on a negative line, our gdb
  adapter raised on a list where an object belongs), so a request whose arguments do
  not fit is answered `success: false` with a sentence naming the field and value, and
  never relayed. Fields the table does not name pass (DAP allows extensions, and
  launch/attach are the adapter's own); so do commands it does not know: each adapter
  decides about those. The check is a dict lookup and a few isinstance calls per
  request (the step path).
- `argument_error` checks the few fields the mux and the session read themselves
  (`initialize`, `cancel`, the breakpoint requests, `stackTrace`) on the server, for
  every client, before they are read. A client's bad shape gets an error response
  (or, for an unusable `seq`, BadMessage: its transport closes) naming the value,
  never an exception in our code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .messages import Message

#: The largest `seq` a client may use: JavaScript clients cannot count past it exactly.
MAX_SEQ = 2**53 - 1


class BadMessage(ValueError):
    """A client's message is not a DAP message the mux can answer (its transport should
    close with 1007): the sentence says what is wrong."""


def shown(value: Any) -> str:
    """A client's value in an error sentence: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def is_int(value: Any) -> bool:
    """Whether `value` is a JSON integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


# -- the full table (workers) -------------------------------------------------

#: DAP's ids, lines, columns and counts are 0 .. 2^31-1; offsets may be negative.
MAX_INT = 2**31 - 1
MIN_INT = -(2**31)

# A field's kind: "id" (an integer 0..2^31-1: ids, lines, columns, counts), "offset"
# (a 32-bit signed integer), "str", "path" (a string without NUL: no file name has one,
# and pydevd's reader thread died on it), "bool", "object" (any JSON object), a name of
# _OBJECTS (an object whose own fields are checked), or "[kind]" (an array of them).
# A trailing "!" marks a required field.
Schema = dict[str, str]

_SOURCE: Schema = {"name": "str", "path": "path", "sourceReference": "id",
                   "presentationHint": "str", "origin": "str", "sources": "[source]",
                   "checksums": "[object]"}
_OBJECTS: dict[str, Schema] = {
    "source": _SOURCE,
    "sourceBreakpoint": {"line": "id!", "column": "id", "condition": "str",
                         "hitCondition": "str", "logMessage": "str", "mode": "str"},
    "functionBreakpoint": {"name": "str!", "condition": "str", "hitCondition": "str"},
    "dataBreakpoint": {"dataId": "str!", "accessType": "str", "condition": "str",
                       "hitCondition": "str"},
    "instructionBreakpoint": {"instructionReference": "str!", "offset": "offset",
                              "condition": "str", "hitCondition": "str", "mode": "str"},
    "exceptionFilterOptions": {"filterId": "str!", "condition": "str", "mode": "str"},
    "exceptionOptions": {"path": "[object]", "breakMode": "str!"},
}

_STEP: Schema = {"threadId": "id!", "singleThread": "bool", "granularity": "str"}

#: DAP request → the types of its arguments' fields.
REQUESTS: dict[str, Schema] = {
    "cancel": {"requestId": "id", "progressId": "str"},
    "initialize": {"clientID": "str", "clientName": "str", "adapterID": "str",
                   "locale": "str", "linesStartAt1": "bool", "columnsStartAt1": "bool",
                   "pathFormat": "str"},
    "configurationDone": {},
    "launch": {"noDebug": "bool"},
    "attach": {},
    "restart": {"arguments": "object"},
    "disconnect": {"restart": "bool", "terminateDebuggee": "bool",
                   "suspendDebuggee": "bool"},
    "terminate": {"restart": "bool"},
    "breakpointLocations": {"source": "source!", "line": "id!", "column": "id",
                            "endLine": "id", "endColumn": "id"},
    "setBreakpoints": {"source": "source!", "breakpoints": "[sourceBreakpoint]",
                       "lines": "[id]", "sourceModified": "bool"},
    "setFunctionBreakpoints": {"breakpoints": "[functionBreakpoint]!"},
    "setExceptionBreakpoints": {"filters": "[str]!",
                                "filterOptions": "[exceptionFilterOptions]",
                                "exceptionOptions": "[exceptionOptions]"},
    "dataBreakpointInfo": {"variablesReference": "id", "name": "str!", "frameId": "id",
                           "bytes": "id", "asAddress": "bool", "mode": "str"},
    "setDataBreakpoints": {"breakpoints": "[dataBreakpoint]!"},
    "setInstructionBreakpoints": {"breakpoints": "[instructionBreakpoint]!"},
    "continue": {"threadId": "id!", "singleThread": "bool"},
    "next": _STEP,
    "stepIn": {**_STEP, "targetId": "id"},
    "stepOut": _STEP,
    "stepBack": _STEP,
    "reverseContinue": {"threadId": "id!", "singleThread": "bool"},
    "restartFrame": {"frameId": "id!"},
    "goto": {"threadId": "id!", "targetId": "id!"},
    "pause": {"threadId": "id!"},
    "stackTrace": {"threadId": "id!", "startFrame": "id", "levels": "id", "format": "object"},
    "scopes": {"frameId": "id!"},
    "variables": {"variablesReference": "id!", "filter": "str", "start": "id",
                  "count": "id", "format": "object"},
    "setVariable": {"variablesReference": "id!", "name": "str!", "value": "str!",
                    "format": "object"},
    # sourceReference is required by the spec, yet clients that have a `source` with a
    # path send only that (and adapters take it): not required here.
    "source": {"source": "source", "sourceReference": "id"},
    "threads": {},
    "terminateThreads": {"threadIds": "[id]"},
    "modules": {"startModule": "id", "moduleCount": "id"},
    "loadedSources": {},
    "evaluate": {"expression": "str!", "frameId": "id", "line": "id", "column": "id",
                 "source": "source", "context": "str", "format": "object"},
    "setExpression": {"expression": "str!", "value": "str!", "frameId": "id",
                      "format": "object"},
    "stepInTargets": {"frameId": "id!"},
    "gotoTargets": {"source": "source!", "line": "id!", "column": "id"},
    "completions": {"frameId": "id", "text": "str!", "column": "id!", "line": "id"},
    "exceptionInfo": {"threadId": "id!"},
    "readMemory": {"memoryReference": "str!", "offset": "offset", "count": "id!"},
    "writeMemory": {"memoryReference": "str!", "offset": "offset", "allowPartial": "bool",
                    "data": "str!"},
    "disassemble": {"memoryReference": "str!", "offset": "offset",
                    "instructionOffset": "offset", "instructionCount": "id!",
                    "resolveSymbols": "bool"},
    "locations": {"locationReference": "id!"},
}


class ArgumentError(ValueError):
    """A request's arguments do not fit DAP's types; the message names field and value."""


def check_request(message: dict[str, Any]) -> None:
    """Raise ArgumentError unless the request's arguments fit its DAP schema."""
    schema = REQUESTS.get(message["command"])
    if schema is None:
        return  # not a DAP request: the adapter decides
    arguments = message.get("arguments")
    if arguments is None:
        arguments = {}
    elif not isinstance(arguments, dict):
        raise ArgumentError(f"the arguments of '{message['command']}' must be an object, "
                            f"not {shown(arguments)}")
    _check_object(schema, arguments, "")


def _check_object(schema: Schema, value: dict[str, Any], where: str) -> None:
    for name, kind in schema.items():
        field = value.get(name)
        if field is None:
            if kind.endswith("!"):
                raise ArgumentError(f"'{where}{name}' is required")
            continue
        _check(kind.rstrip("!"), field, f"{where}{name}")


def _check(kind: str, value: Any, name: str) -> None:
    if kind in ("id", "offset"):
        low = 0 if kind == "id" else MIN_INT
        if type(value) is not int or not low <= value <= MAX_INT:
            raise ArgumentError(f"'{name}' must be an integer from {low} to {MAX_INT}, "
                                f"not {shown(value)}")
    elif kind in ("str", "path"):
        if not isinstance(value, str):
            raise ArgumentError(f"'{name}' must be a string, not {shown(value)}")
        if kind == "path" and "\x00" in value:
            raise ArgumentError(f"'{name}' {shown(value)} contains a NUL character, which "
                                "no file name can contain")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise ArgumentError(f"'{name}' must be true or false, not {shown(value)}")
    elif kind.startswith("["):
        if not isinstance(value, list):
            raise ArgumentError(f"'{name}' must be an array, not {shown(value)}")
        item_kind = kind[1:-1]
        for index, item in enumerate(value):
            _check(item_kind, item, f"{name}[{index}]")
    else:  # "object" or a checked object
        if not isinstance(value, dict):
            raise ArgumentError(f"'{name}' must be an object, not {shown(value)}")
        if kind != "object":
            _check_object(_OBJECTS[kind], value, f"{name}.")


# -- the fields the server reads (the mux, the session) ------------------------

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
