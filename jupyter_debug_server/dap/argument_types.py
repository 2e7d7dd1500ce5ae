"""The types of DAP requests' arguments, checked before any debugger sees them.

A compact table written from the Debug Adapter Protocol specification
(debugAdapterProtocol.json): for each request, its argument fields, their types and
which are required. Debuggers trust these types (pydevd drops its connection on a
`threadId` of 1.0, lldb-dap 19 exits on a negative line, our gdb adapter raised on a
list where an object belongs), so a request whose arguments do not fit is answered
`success: false` with a sentence naming the field and value, and never relayed.

Fields the table does not name pass (DAP allows extensions, and launch/attach are the
adapter's own); so do commands it does not know: each adapter decides about those.
The check is a dict lookup and a few isinstance calls per request (the step path).
"""

from __future__ import annotations

from typing import Any

#: DAP's ids, lines, columns and counts are 0 .. 2^31-1; offsets may be negative.
MAX_INT = 2**31 - 1
MIN_INT = -(2**31)

# A field's kind: "id" (an integer 0..2^31-1: ids, lines, columns, counts), "offset"
# (a 32-bit signed integer), "str", "path" (a string without NUL: no file has one in its
# name, and pydevd's reader thread dies on it), "bool", "object" (any JSON object), a name of
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
                            f"not {_show(arguments)}")
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
                                f"not {_show(value)}")
    elif kind in ("str", "path"):
        if not isinstance(value, str):
            raise ArgumentError(f"'{name}' must be a string, not {_show(value)}")
        if kind == "path" and "\x00" in value:
            raise ArgumentError(f"'{name}' {_show(value)} contains a NUL character, which "
                                "no file name can contain")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise ArgumentError(f"'{name}' must be true or false, not {_show(value)}")
    elif kind.startswith("["):
        if not isinstance(value, list):
            raise ArgumentError(f"'{name}' must be an array, not {_show(value)}")
        item_kind = kind[1:-1]
        for index, item in enumerate(value):
            _check(item_kind, item, f"{name}[{index}]")
    else:  # "object" or a checked object
        if not isinstance(value, dict):
            raise ArgumentError(f"'{name}' must be an object, not {_show(value)}")
        if kind != "object":
            _check_object(_OBJECTS[kind], value, f"{name}.")


def _show(value: Any) -> str:
    """A short rendering of a bad value for an error sentence."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
