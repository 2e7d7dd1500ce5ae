"""DAP messages: the one message type of the package and the typed shapes we read.

A DAP message on the wire is a JSON object; `Message` is how our code holds one
(decoded JSON, so values are `Any` until checked). The TypedDicts name the fields of
the shapes the server builds or reads itself (the protocol's own names, from
debugAdapterProtocol.json), so a reader sees what a function expects. They describe;
they do not check: input is checked by framing.py (the envelope) and arguments.py
(request arguments). Everything of ours that handles DAP messages imports these names
from here instead of defining its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

__all__ = ["LARGE_MESSAGE", "Breakpoint", "Data", "Event", "Message", "RawArguments",
           "Request", "Response", "Send", "Source", "SourceBreakpoint", "StackFrame"]

#: One DAP message (request, response or event) as decoded JSON.
Message = dict[str, Any]
#: Hands one message to a transport (it must not block).
Send = Callable[[Message], None]
#: Bytes as they come off a socket or go to one.
Data = bytes | bytearray | memoryview

#: A client's message of this many bytes or more is large: the server reads it in a helper
#: process, not on its event loop (large.py); smaller ones parse in about a millisecond.
LARGE_MESSAGE = 1024 * 1024


@dataclass(frozen=True)
class RawArguments:
    """A large request's arguments as its client sent them: pieces of its bytes (JSON
    text, checked by large.py's helper), passed to the debugger without being parsed."""

    pieces: list[Data]
    size: int
    wrong: str | None  # why the mux cannot take them (arguments.argument_error), or None


class Request(TypedDict, total=False):
    """A request (`seq`, `type`: "request", `command`, optional `arguments`)."""

    seq: int
    type: Literal["request"]
    command: str
    arguments: dict[str, Any]


class Response(TypedDict, total=False):
    """A response to the request numbered `request_seq`."""

    seq: int
    type: Literal["response"]
    request_seq: int
    command: str
    success: bool
    message: str
    body: Any


class Event(TypedDict, total=False):
    """An event (`stopped`, `output`, `terminated`, …)."""

    seq: int
    type: Literal["event"]
    event: str
    body: Any


class Source(TypedDict, total=False):
    """A source: a file `path` (or a `sourceReference` the debugger serves)."""

    name: str
    path: str
    sourceReference: int


class SourceBreakpoint(TypedDict, total=False):
    """A breakpoint as a client asks for it in `setBreakpoints`."""

    line: int
    column: int
    condition: str
    hitCondition: str
    logMessage: str
    mode: str


class Breakpoint(TypedDict, total=False):
    """A breakpoint as the debugger answers it."""

    id: int
    verified: bool
    message: str
    source: Source
    line: int
    column: int
    endLine: int
    endColumn: int
    reason: str


class StackFrame(TypedDict, total=False):
    """One frame of `stackTrace`'s answer."""

    id: int
    name: str
    source: Source
    line: int
    column: int
