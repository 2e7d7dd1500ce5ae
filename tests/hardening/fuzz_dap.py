"""Seeded hostile DAP messages: JSON texts that a client (or the server) could send.

Every generator takes a `random.Random`, so a run is reproduced by its seed. A message is
a `Hostile(kind, text, outcome)`: `kind` names the attack (what the report counts), `text`
is the JSON text, `outcome` what the receiver must do: `ANSWER` (keep the connection; a
request gets a response), `CLOSE` (the text is not a DAP message: the receiver drops the
connection, with an error, and stays up) or `EITHER`.
"""

# JSON texts are built from templates: %-formatting keeps their braces literal.
# ruff: noqa: UP031

from __future__ import annotations

import json
import os
import random
from typing import Any, NamedTuple

ANSWER = "answer"
CLOSE = "close"
EITHER = "either"  # an error response or a close (with an error): both keep the server up

DEFAULT_SEED = 20261204
#: The largest seq a DAP message may carry (JSON numbers are exact up to 2^53 - 1).
MAX_SEQ = 2**53 - 1


def seed() -> int:
    """The run's seed: `HARDENING_SEED` or a fixed default (printed by every test)."""
    return int(os.environ.get("HARDENING_SEED") or DEFAULT_SEED)


def scale() -> float:
    """`HARDENING_SCALE`: 1.0 is the full volume of DESIGN.md §4, 0.05 a developer's run."""
    return float(os.environ.get("HARDENING_SCALE") or 1.0)


def scaled(full: int, minimum: int = 1) -> int:
    return max(minimum, round(full * scale()))


class Hostile(NamedTuple):
    kind: str
    text: str
    outcome: str


# Every DAP request there is (and a few a client may not send, like reverse requests).
ALL_COMMANDS = (
    "initialize", "launch", "attach", "configurationDone", "disconnect", "terminate",
    "restart", "setBreakpoints", "setFunctionBreakpoints", "setExceptionBreakpoints",
    "setInstructionBreakpoints", "setDataBreakpoints", "dataBreakpointInfo",
    "breakpointLocations", "continue", "next", "stepIn", "stepOut", "stepBack",
    "reverseContinue", "restartFrame", "goto", "gotoTargets", "pause", "stackTrace",
    "scopes", "variables", "setVariable", "setExpression", "source", "threads",
    "terminateThreads", "modules", "loadedSources", "evaluate", "stepInTargets",
    "completions", "exceptionInfo", "readMemory", "writeMemory", "disassemble", "cancel",
    "runInTerminal", "startDebugging", "locations",
)
# A control client may legitimately end or wreck its session (run code, write memory,
# kill threads, restart): the fuzzer leaves those to the observe client, which must be
# refused. `evaluate`/`completions` keep only harmless expressions (a gdb console runs
# `k` as kill), `setVariable`/`setExpression` are left out (pydevd evaluates the value).
_DESTRUCTIVE = frozenset({
    "terminate", "restart", "disconnect", "launch", "attach", "terminateThreads",
    "writeMemory", "setVariable", "setExpression", "goto", "restartFrame", "runInTerminal",
    "startDebugging",
})
CONTROL_COMMANDS = tuple(c for c in ALL_COMMANDS if c not in _DESTRUCTIVE)
# What an observe client may send (dap/mux.py OBSERVE_COMMANDS): anything else must fail.
OBSERVE_ALLOWED = frozenset({
    "initialize", "launch", "attach", "configurationDone", "disconnect", "cancel",
    "threads", "stackTrace", "scopes", "variables", "source", "loadedSources", "modules",
    "exceptionInfo", "debugInfo", "dumpCell", "richInspectVariables", "copyToGlobals",
    "inspectVariables",
})
# Code an observer tries to run: it must never get a successful answer.
_OBSERVER_PAYLOADS = (
    "__import__('os')._exit(3)", "shell kill -9 $PPID", "kill", "quit", "k",
    "platform shell kill -9 0", "process kill", "-exec kill",
)
# Expressions safe for a control client in every debugger (no gdb/lldb command prefix,
# no call, no assignment): the attack is in their form, not their meaning.
_SAFE_EXPRESSIONS = (
    "counter", "counter + 1", "1+1", "((((", "))", "'\u00e9\u4e2d'", "$pc", "", "   ",
    "\x00", "counter" * 500, "[" * 200, "\u202e\u2066", "\U0001f600", "1e400", "0x" + "f" * 80,
    "%s%s%n", "{counter}", "\\", "\"", "\n\n", "counter\r\n",
)
_HOSTILE_STRINGS = (
    "", " ", "\x00", "\x00" * 64, "\u2028\u2029", "\ufeff", "\U0001f4a9" * 20, "../" * 40,
    "/etc/passwd", "C:\\Windows\\system32", "%s%n%x", "${jndi:ldap://x}", "<script>",
    "\u202eevil", "a" * 70_000, "é" * 1000, "\t\r\n\v\f", "null", "true", "0", "-1",
    "NaN", "__proto__", "constructor", "threads", "*", "\\u0000", "file:///etc/shadow",
)
_KEYS = ("threadId", "frameId", "variablesReference", "source", "path", "line",
         "breakpoints", "lines", "filters", "expression", "context", "requestId",
         "progressId", "levels", "startFrame", "format", "name", "value", "memoryReference",
         "count", "offset", "instructionCount", "sourceReference", "start", "__proto__",
         "", "\x00", "seq", "type", "command", "arguments", "singleThread", "granularity",
         "terminateDebuggee", "restart", "adapterID", "linesStartAt1", "pathFormat")


def hostile_int(rng: random.Random) -> int:
    return rng.choice((0, -1, 1, 2, 3, 7, 1000, 2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1,
                       2**63 - 1, 2**63, 2**64 + 5, -(2**64), 10 ** rng.randint(20, 400)))


def hostile_scalar(rng: random.Random) -> Any:
    pick = rng.randrange(9)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice((True, False))
    if pick in (2, 3):
        return hostile_int(rng)
    if pick == 4:
        return rng.choice((0.5, -0.0, 1e308, 5e-324, 3.0))
    if pick == 5:
        return rng.choice(_HOSTILE_STRINGS)
    if pick == 6:
        return "".join(chr(rng.choice((rng.randint(1, 0x7F), rng.randint(0x80, 0xD7FF),
                                       rng.randint(0xE000, 0x10FFFF))))
                       for _ in range(rng.randint(0, 40)))
    if pick == 7:
        return []
    return {}


def hostile_value(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value, shaped to be wrong where a DAP field is expected."""
    pick = rng.randrange(10)
    if depth > 3 or pick < 6:
        return hostile_scalar(rng)
    if pick < 8:
        return [hostile_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {rng.choice(_KEYS): hostile_value(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def nested(depth: int, rng: random.Random) -> str:
    """JSON text nested `depth` deep (lists or objects)."""
    if rng.random() < 0.5:
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def _arguments(rng: random.Random, command: str, role: str) -> Any:
    """Arguments that are wrong in type, range or shape (and sometimes right)."""
    pick = rng.randrange(10)
    if pick == 0:
        return rng.choice((None, [], "threads", 0, -1, True, [1], [[]], "", 1.5))
    if command in ("evaluate", "completions"):
        pool = _SAFE_EXPRESSIONS if role == "control" else _OBSERVER_PAYLOADS
        args: dict[str, Any] = {"expression": rng.choice(pool), "text": rng.choice(pool),
                                "column": hostile_value(rng)}
        if rng.random() < 0.5:
            args["context"] = rng.choice(("repl", "watch", "hover", "clipboard", "variables",
                                          None, 7, "", "\x00"))
        if rng.random() < 0.5:
            args["frameId"] = hostile_value(rng)
        if rng.random() < 0.2:
            args["expression"] = hostile_value(rng)
        return args
    return {rng.choice(_KEYS): hostile_value(rng) for _ in range(rng.randint(0, 6))}


def hostile_request(rng: random.Random, role: str, seq: int) -> dict[str, Any]:
    """One DAP-shaped request (passes the shape check) with hostile content."""
    pick = rng.randrange(20)
    if role == "observe":
        command = rng.choice(ALL_COMMANDS)
    elif pick == 0:  # unknown commands
        command = rng.choice(("", "x" * 1000, "__proto__", "Threads", "threads\n",
                              "\x00", "evaluate ", "\u202ethreads", "jupyterDebugServer.x"))
    else:
        command = rng.choice(CONTROL_COMMANDS)
    message: dict[str, Any] = {"type": "request", "seq": seq, "command": command}
    if rng.random() < 0.85:
        message["arguments"] = _arguments(rng, command, role)
    if command == "cancel" and rng.random() < 0.7:  # cancel of unknown or foreign ids
        message["arguments"] = {"requestId": rng.choice((seq + 1, seq - 1, 0, -5, 2**40)),
                                **({"progressId": "p"} if rng.random() < 0.3 else {})}
    if rng.random() < 0.1:
        message[rng.choice(_KEYS)] = hostile_value(rng)  # unknown top-level fields
        message["type"] = "request"
        message["command"] = command
        message["seq"] = seq
    return message


def _request_kind(request: dict[str, Any]) -> str:
    """"request", or the name of a shape that a request handled by the server itself
    (`initialize`, `cancel`) does not expect."""
    arguments = request.get("arguments")
    if request["command"] == "initialize" and arguments and not isinstance(arguments, dict):
        return "initialize-shape"
    if request["command"] == "cancel" and arguments:
        if not isinstance(arguments, dict):
            return "cancel-shape"
        if isinstance(arguments.get("requestId"), list | dict):
            return "cancel-shape"
    return "request"


def _text(rng: random.Random, message: Any) -> str:
    return json.dumps(message, ensure_ascii=rng.random() < 0.5,
                      separators=rng.choice(((",", ":"), (", ", ": "))))


def dap_message(rng: random.Random, role: str, seq: int) -> Hostile:
    """A message a client may send that must be answered (or ignored), never fatal."""
    pick = rng.randrange(100)
    if pick < 30 and role == "control":
        return typed_request(rng, seq)
    if pick < 70:
        request = hostile_request(rng, role, seq)
        return Hostile(_request_kind(request), _text(rng, request), ANSWER)
    if pick < 75:  # seq collisions: a seq used before, or 0 (seqs outside 0..2^53-1
        # cannot be answered: not_dap sends those, and the server closes)
        message = hostile_request(rng, role, seq)
        message["seq"] = rng.choice((1, 0, MAX_SEQ))
        # (its answer cannot be told from another's: a kind that is not tracked)
        return Hostile("seq-collision", _text(rng, message), ANSWER)
    if pick < 80:  # duplicate keys: the parser keeps the last one
        first = rng.choice(ALL_COMMANDS)
        text = ('{"type":"request","seq":%d,"command":"%s","arguments":{"threadId":1,'
                '"threadId":"x"},"command":"threads"}' % (seq, first))
        return Hostile("duplicate-keys", text, ANSWER)
    if pick < 85:  # responses and events from a client: nothing asked for them
        kind = rng.choice(("response", "event"))
        message = ({"type": "response", "seq": seq, "request_seq": hostile_int(rng),
                    "command": rng.choice(ALL_COMMANDS), "success": hostile_value(rng),
                    "body": hostile_value(rng)} if kind == "response" else
                   {"type": "event", "seq": seq, "event": rng.choice(
                       ("stopped", "terminated", "exited", "output", "initialized",
                        "jupyterDebugServer.target", "")), "body": hostile_value(rng)})
        return Hostile(f"client-{kind}", _text(rng, message), ANSWER)
    if pick < 90:  # moderately deep nesting inside arguments
        depth = rng.randint(50, 500)
        text = ('{"type":"request","seq":%d,"command":"%s","arguments":%s}'
                % (seq, rng.choice(("threads", "variables", "evaluate")), nested(depth, rng)))
        return Hostile("nesting", text, ANSWER)
    if pick < 93:  # finite numbers where integers are expected: an error response
        text = ('{"type":"request","seq":%d,"command":"stackTrace","arguments":'
                '{"threadId":%s,"levels":%s}}' % (
                    seq, rng.choice(("1.0", "1e300", "-0.0", "1e-400")),
                    rng.choice(("0.5", "1e308", "-1", "2e1"))))
        return Hostile("float-for-int", text, ANSWER)
    if pick < 95:
        return Hostile("big-int", '{"type":"request","seq":%d,"command":"variables",'
                       '"arguments":{"variablesReference":%s}}' % (seq, "9" * 4000), ANSWER)
    if pick < 97:  # a lone surrogate escape: valid JSON, not encodable as UTF-8
        text = ('{"type":"request","seq":%d,"command":"%s","arguments":{"expression":'
                '"a\\ud800b","path":"\\udc80"}}' % (seq, rng.choice(("evaluate", "source",
                                                                      "threads"))))
        return Hostile("lone-surrogate", text, ANSWER)
    if pick < 98:  # `cancel` whose arguments are not an object, or an unhashable id
        arguments = rng.choice(('"abc"', "[1]", "7", '{"requestId":[1]}',
                                '{"requestId":{"a":1}}', '{"requestId":"x"}'))
        return Hostile("cancel-shape", '{"type":"request","seq":%d,"command":"cancel",'
                       '"arguments":%s}' % (seq, arguments), ANSWER)
    # `initialize` (handled by the server itself) with arguments that are not an object
    arguments = rng.choice(("[1]", '"x"', "7", "true", '{"pathFormat":[1]}'))
    return Hostile("initialize-shape", '{"type":"request","seq":%d,"command":"initialize",'
                   '"arguments":%s}' % (seq, arguments), ANSWER)


def not_dap(rng: random.Random, seq: int) -> Hostile:
    """A text that is not a DAP message: the receiver must close, with an error."""
    pick = rng.randrange(12)
    texts = (
        "", " ", "{", "}", "null", "[]", "[1,2]", '"request"', "1", "true",
        '{"seq":1}', '{"type":"request"}', '{"type":"request","seq":1}',
        '{"type":"request","seq":"1","command":"threads"}',
        '{"type":"request","seq":1.5,"command":"threads"}',
        '{"type":"request","seq":1,"command":7}', '{"type":"req","seq":1,"command":"x"}',
        '{"type":"event","seq":1}', '{"type":"response","seq":1,"request_seq":"2"}',
        '{"type":"request","seq":1,"command":"threads"} trailing',
        '{"type":"request","seq":1,"command":"threads"}{"type":"request"}',
        "{'type':'request'}", '{"type":"request","seq":01,"command":"x"}',
    )
    if pick < 5:
        return Hostile("not-dap", rng.choice(texts), CLOSE)
    if pick == 5:  # numbers JSON has no way to write, and seqs outside 0..2^53-1
        return rng.choice((
            Hostile("non-finite", '{"type":"request","seq":%d,"command":"stackTrace",'
                    '"arguments":{"threadId":1,"levels":%s}}' % (seq, rng.choice((
                        "NaN", "Infinity", "-Infinity", "1e999", "-1e400"))), CLOSE),
            Hostile("seq-out-of-range", '{"type":"request","seq":%s,"command":"threads"}'
                    % rng.choice(("-1", "9007199254740992", "1" + "0" * 30, "true")),
                    CLOSE)))
    if pick < 8:  # more digits than Python converts
        return Hostile("huge-int-digits", '{"type":"request","seq":%s,"command":"threads"}'
                       % ("9" * rng.randint(4301, 20000)), CLOSE)
    if pick < 10:
        junk = bytes(rng.randrange(32, 127) for _ in range(rng.randint(1, 300)))
        return Hostile("not-json", junk.decode("ascii"), CLOSE)
    # deeper than the parser's recursion limit
    depth = rng.randint(5000, 100_000)
    return Hostile("deep-nesting", '{"type":"request","seq":%d,"command":"threads",'
                   '"arguments":%s}' % (seq, nested(depth, rng)), EITHER)


def _small_int(rng: random.Random) -> int:
    return rng.choice((0, 1, 2, 3, -1, 1000, 2**31 - 1, -(2**31), rng.randint(0, 5000)))


def _count(rng: random.Random) -> int:
    return rng.choice((0, 1, 20, 2**31 - 1, rng.randint(0, 100)))


def _name(rng: random.Random) -> str:
    return str(rng.choice(_HOSTILE_STRINGS))[:2000]


#: Arguments of the right JSON types (as the DAP schema says) with hostile values: what a
#: debugger must answer with an error at worst. name -> builder.
_TYPED: dict[str, Any] = {
    "threads": lambda rng: {},
    "stackTrace": lambda rng: {"threadId": _small_int(rng), "startFrame": _count(rng),
                               "levels": _count(rng)},
    "scopes": lambda rng: {"frameId": _small_int(rng)},
    "variables": lambda rng: {"variablesReference": _small_int(rng), "start": _count(rng),
                              "count": _count(rng),
                              "filter": rng.choice(("indexed", "named"))},
    "source": lambda rng: {"sourceReference": _small_int(rng),
                           "source": {"path": _name(rng)}},
    "evaluate": lambda rng: {"expression": rng.choice(_SAFE_EXPRESSIONS),
                             "frameId": _small_int(rng),
                             "context": rng.choice(("watch", "hover", "variables"))},
    "exceptionInfo": lambda rng: {"threadId": _small_int(rng)},
    "modules": lambda rng: {"startModule": _count(rng), "moduleCount": _count(rng)},
    "setExceptionBreakpoints": lambda rng: {"filters": [_name(rng)
                                                        for _ in range(rng.randint(0, 3))]},
    "setFunctionBreakpoints": lambda rng: {"breakpoints": [
        {"name": _name(rng)} for _ in range(rng.randint(0, 3))]},
    "setBreakpoints": lambda rng: {"source": {"path": _name(rng)}, "breakpoints": [
        {"line": _small_int(rng)} for _ in range(rng.randint(0, 3))]},
    "breakpointLocations": lambda rng: {"source": {"path": _name(rng)},
                                        "line": _small_int(rng)},
    "pause": lambda rng: {"threadId": _small_int(rng)},
    "next": lambda rng: {"threadId": _small_int(rng)},
    "stepIn": lambda rng: {"threadId": _small_int(rng)},
    "stepOut": lambda rng: {"threadId": _small_int(rng)},
    "continue": lambda rng: {"threadId": _small_int(rng)},
    "completions": lambda rng: {"text": rng.choice(_SAFE_EXPRESSIONS), "column": _count(rng),
                                "frameId": _small_int(rng)},
    "disassemble": lambda rng: {"memoryReference": rng.choice(("0x0", "0x401000", "x", "")),
                                "instructionCount": rng.randint(0, 50),
                                "offset": rng.randint(-10, 10)},
    "readMemory": lambda rng: {"memoryReference": rng.choice(("0x0", "0x401000", "x", "")),
                               "count": rng.randint(0, 4096), "offset": rng.randint(-10, 10)},
    "dataBreakpointInfo": lambda rng: {"variablesReference": _small_int(rng),
                                       "name": _name(rng)},
    "gotoTargets": lambda rng: {"source": {"path": _name(rng)}, "line": _small_int(rng)},
    "stepInTargets": lambda rng: {"frameId": _small_int(rng)},
}
TYPED_COMMANDS = tuple(sorted(_TYPED))


def typed_request(rng: random.Random, seq: int, commands: tuple[str, ...] = TYPED_COMMANDS
                  ) -> Hostile:
    """A request with arguments of the schema's types and hostile values."""
    command = rng.choice(commands)
    message = {"type": "request", "seq": seq, "command": command,
               "arguments": _TYPED[command](rng)}
    return Hostile("typed-request", _text(rng, message), ANSWER)
