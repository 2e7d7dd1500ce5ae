"""DAP argument types (dap/argument_types.py): pure tests of the table every worker applies
before a debugger sees a request (issue 11: the hardening fuzz found debuggers that drop
their connection, exit or raise on arguments of the wrong type)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jupyter_debug_server.dap.arguments import MAX_INT, REQUESTS, ArgumentError, check_request

from ..support.dap_client import start_worker
from ..support.debuggers import WORKERS

pytestmark = pytest.mark.timeout(30)


def _request(command: str, arguments: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"seq": 1, "type": "request", "command": command}
    if arguments is not None:
        message["arguments"] = arguments
    return message


# What real clients send (VS Code 1.9x's js-debug/cpptools sessions and nvim-dap,
# captured from their DAP logs), and what our own server sends: all accepted.
WELL_FORMED: list[tuple[str, Any]] = [
    ("initialize", {"clientID": "vscode", "clientName": "Visual Studio Code",
                    "adapterID": "debugpy", "pathFormat": "path", "linesStartAt1": True,
                    "columnsStartAt1": True, "supportsVariableType": True,
                    "supportsVariablePaging": True, "supportsRunInTerminalRequest": True,
                    "locale": "en", "supportsProgressReporting": True,
                    "supportsInvalidatedEvent": True, "supportsMemoryReferences": True,
                    "supportsArgsCanBeInterpretedByShell": True,
                    "supportsMemoryEvent": True, "supportsStartDebuggingRequest": True}),
    ("launch", {"name": "Python: Current File", "type": "debugpy", "request": "launch",
                "program": "/home/u/a.py", "console": "integratedTerminal",
                "__sessionId": "4f2c"}),
    ("attach", {"__restart": {"x": 1}}),
    ("setBreakpoints", {"source": {"name": "a.py", "path": "/home/u/a.py"},
                        "lines": [3, 7], "breakpoints": [
                            {"line": 3}, {"line": 7, "condition": "x > 1",
                                          "hitCondition": "2", "logMessage": "x={x}"}],
                        "sourceModified": False}),
    ("setFunctionBreakpoints", {"breakpoints": [{"name": "main"}]}),
    ("setExceptionBreakpoints", {"filters": ["uncaught"], "filterOptions": [
        {"filterId": "raised", "condition": "ValueError"}]}),
    ("configurationDone", None),
    ("threads", None),
    ("stackTrace", {"threadId": 1, "startFrame": 0, "levels": 20}),
    ("scopes", {"frameId": 1000}),
    ("variables", {"variablesReference": 1001, "filter": "named", "start": 0,
                   "count": 100}),
    ("evaluate", {"expression": "x + 1", "frameId": 1000, "context": "hover",
                  "line": 4, "column": 3, "source": {"path": "/home/u/a.py"}}),
    ("continue", {"threadId": 1}),
    ("next", {"threadId": 1, "granularity": "line"}),
    ("stepIn", {"threadId": 1, "targetId": 2, "singleThread": True}),
    ("pause", {"threadId": 0}),
    ("source", {"source": {"path": "/home/u/a.py", "sourceReference": 0},
                "sourceReference": 0}),
    ("source", {"source": {"path": "/home/u/a.py"}}),
    ("completions", {"frameId": 1000, "text": "os.pa", "column": 6, "line": 1}),
    ("readMemory", {"memoryReference": "0x1000", "offset": -16, "count": 64}),
    ("disassemble", {"memoryReference": "0x401000", "offset": 0,
                     "instructionOffset": -50, "instructionCount": 100,
                     "resolveSymbols": True}),
    ("disconnect", {"restart": False, "terminateDebuggee": True}),
    ("cancel", {"requestId": 7}),
    ("loadedSources", None),
    ("myExtension", [1, 2]),  # not a DAP request: the adapter decides
    ("stackTrace", {"threadId": MAX_INT, "vendorField": [1, "x"]}),  # extensions pass
]


@pytest.mark.parametrize(("command", "arguments"), WELL_FORMED)
def test_well_formed_requests_pass(command: str, arguments: Any) -> None:
    check_request(_request(command, arguments))


@pytest.mark.parametrize(("command", "arguments", "sentence"), [
    ("stackTrace", {"threadId": 1.0},
     "'threadId' must be an integer from 0 to 2147483647, not 1.0"),
    ("stackTrace", {"threadId": 1, "levels": True},
     "'levels' must be an integer from 0 to 2147483647, not True"),
    ("continue", {"threadId": 2**31}, "not 2147483648"),
    ("continue", {"threadId": -1}, "not -1"),
    ("continue", {"threadId": "1"}, "not '1'"),
    ("pause", [1], "the arguments of 'pause' must be an object, not [1]"),
    ("pause", "x", "must be an object, not 'x'"),
    ("setBreakpoints", {"source": {"path": "a.c"}, "breakpoints": [{"line": -3}]},
     "'breakpoints[0].line' must be an integer from 0 to 2147483647, not -3"),
    ("setBreakpoints", {"source": {"path": "a.c"}, "lines": [1, -1]},
     "'lines[1]' must be an integer"),
    ("setBreakpoints", {"source": "a.c"}, "'source' must be an object, not 'a.c'"),
    ("setBreakpoints", {"source": {"path": 3}}, "'source.path' must be a string, not 3"),
    ("setBreakpoints", {"source": {"path": "a\x00.py"}},
     "'source.path' 'a\\x00.py' contains a NUL character"),
    ("gotoTargets", {"source": {"path": "\x00"}, "line": 1}, "contains a NUL character"),
    ("setBreakpoints", {"source": {"path": "a.c"}, "breakpoints": {"line": 1}},
     "'breakpoints' must be an array"),
    ("setBreakpoints", {"source": {"path": "a.c"}, "breakpoints": [{}]},
     "'breakpoints[0].line' is required"),
    ("setFunctionBreakpoints", {"breakpoints": [{"name": 5}]},
     "'breakpoints[0].name' must be a string, not 5"),
    ("setExceptionBreakpoints", {"filters": "raised"}, "'filters' must be an array"),
    ("setExceptionBreakpoints", {"filters": [None]}, "'filters[0]' must be a string"),
    ("variables", {"variablesReference": float("inf")}, "not inf"),
    ("completions", {"text": "x", "column": 2**31}, "'column' must be an integer"),
    ("readMemory", {"memoryReference": "0x0", "offset": -(2**31) - 1, "count": 1},
     "'offset' must be an integer from -2147483648 to 2147483647"),
    ("evaluate", {"expression": "x", "format": []}, "'format' must be an object"),
    ("disconnect", {"terminateDebuggee": "yes"}, "'terminateDebuggee' must be true or false"),
    ("cancel", {"requestId": {}}, "'requestId' must be an integer"),
    ("initialize", {"linesStartAt1": 1}, "'linesStartAt1' must be true or false, not 1"),
    ("stackTrace", {"threadId": "x" * 200}, "not 'xxxx"),
])
def test_wrong_types_are_refused_with_a_sentence(command: str, arguments: Any,
                                                 sentence: str) -> None:
    with pytest.raises(ArgumentError) as refused:
        check_request(_request(command, arguments))
    assert sentence in str(refused.value)
    assert len(str(refused.value)) < 200  # a bad value is shown shortened


def _required(schema: dict[str, str]) -> list[str]:
    return [name for name, kind in schema.items() if kind.endswith("!")]


@pytest.mark.parametrize("command", sorted(c for c, s in REQUESTS.items() if _required(s)))
def test_every_required_field_is_required(command: str) -> None:
    for name in _required(REQUESTS[command]):
        with pytest.raises(ArgumentError, match=f"'{name}' is required"):
            check_request(_request(command, {}))
        with pytest.raises(ArgumentError, match=f"'{name}' is required"):
            check_request(_request(command))
        break  # the first required field is the one named


def test_the_table_holds_the_requests_of_the_specification() -> None:
    spec = {"attach", "breakpointLocations", "cancel", "completions", "configurationDone",
            "continue", "dataBreakpointInfo", "disassemble", "disconnect", "evaluate",
            "exceptionInfo", "goto", "gotoTargets", "initialize", "launch", "loadedSources",
            "locations", "modules", "next", "pause", "readMemory", "restart", "restartFrame",
            "reverseContinue", "scopes", "setBreakpoints", "setDataBreakpoints",
            "setExceptionBreakpoints", "setExpression", "setFunctionBreakpoints",
            "setInstructionBreakpoints", "setVariable", "source", "stackTrace", "stepBack",
            "stepIn", "stepInTargets", "stepOut", "terminate", "terminateThreads", "threads",
            "variables", "writeMemory"}
    assert set(REQUESTS) == spec


@pytest.mark.timeout(120)
def test_every_worker_refuses_wrong_types_before_its_debugger(debugger: str) -> None:
    """A real worker of each debugger answers ill-typed requests with the sentence
    (pydevd dropped its connection on threadId 1.0, `pause` with a list raised a
    TypeError in the debugpy worker, lldb-dap exits on a negative line) and goes on."""
    async def scenario() -> None:
        client, proc = await start_worker(WORKERS[debugger])
        try:
            for command, arguments, sentence in [
                ("stackTrace", {"threadId": 1.0}, "'threadId' must be an integer from 0 "
                                                  "to 2147483647, not 1.0"),
                ("pause", [1], "the arguments of 'pause' must be an object, not [1]"),
                ("setBreakpoints", {"source": {"path": "a.c"}, "breakpoints": [
                    {"line": -1}]}, "'breakpoints[0].line' must be an integer"),
            ]:
                response = await asyncio.wait_for(client.send(command, arguments), 30)
                assert not response["success"], response
                assert sentence in response["message"], response
            assert proc.returncode is None
        finally:
            client.channel.close()
            await asyncio.wait_for(proc.wait(), 30)

    asyncio.run(scenario())


@pytest.mark.timeout(120)
def test_the_lldb_worker_refuses_what_lldb_dap_does_not_know() -> None:
    """lldb-dap 19 exits on a command it does not know (found by the hardening fuzz):
    the lldb adapter answers such commands itself, and lldb-dap lives on."""
    async def scenario() -> None:
        client, proc = await start_worker(WORKERS["lldb"])
        try:
            await client.request("initialize", {"adapterID": "test"})
            for command in ("runInTerminal", "startDebugging", "locations", "cancel",
                            "loadedSources", "x-unknown"):
                arguments = {"locationReference": 1}  # (well-typed for `locations`)
                response = await asyncio.wait_for(client.send(command, arguments), 30)
                assert not response["success"], response
                assert f"'{command}' is not supported" in response["message"], response
            # lldb-dap still answers (before a launch, with an error of its own)
            response = await asyncio.wait_for(client.send("threads"), 30)
            assert response["command"] == "threads", response
            assert proc.returncode is None
        finally:
            client.channel.close()
            await asyncio.wait_for(proc.wait(), 30)

    asyncio.run(scenario())
