"""DapMux: one upstream DAP connection shared by many clients.

The upstream is the session's channel to its worker; each client speaks DAP as
if it had the debugger to itself. The mux renumbers what crosses it: a client's
request goes upstream under a fresh upstream seq and its response comes back to
that client only, carrying the client's own seq as `request_seq`; every message
a client receives is numbered from that client's own counter. Events are
broadcast. The session lifecycle belongs to the owner of the upstream, so a
client's `initialize`, `launch`, `attach`, `configurationDone` and `disconnect`
are answered here and never reach the debugger.

Owned by one event loop; every method runs on it and none blocks.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from .channel import ChannelClosed, DapChannel

log = logging.getLogger(__name__)

Message = dict[str, Any]
Send = Callable[[Message], None]

CONTROL = "control"
OBSERVE = "observe"
ROLES = (CONTROL, OBSERVE)

#: What an observer may ask: reads that cannot change the program. An allow-list, so a
#: command added to DAP later is refused until someone decides it is harmless. Left out on
#: purpose: `evaluate`, `completions` and `setExpression` run code in some adapters.
OBSERVE_COMMANDS = frozenset({
    "initialize", "launch", "attach", "configurationDone", "disconnect", "cancel",
    "threads", "stackTrace", "scopes", "variables", "source", "loadedSources", "modules",
    "exceptionInfo",
})

#: Requests a client sends while configuring, before `configurationDone`.
_CONFIGURATION_COMMANDS = frozenset({
    "initialize", "launch", "attach", "setBreakpoints", "setFunctionBreakpoints",
    "setExceptionBreakpoints", "setInstructionBreakpoints", "setDataBreakpoints",
    "breakpointLocations", "dataBreakpointInfo", "configurationDone",
})

#: Successful responses to these mean the program runs again.
_RESUMING_COMMANDS = frozenset({
    "continue", "next", "stepIn", "stepOut", "stepBack", "reverseContinue", "goto",
    "restartFrame",
})

#: Upstream events that concern the owner only.
_PRIVATE_EVENTS = frozenset({"initialized"})

#: The largest `seq` a client may use: JavaScript clients cannot count past it exactly.
MAX_SEQ = 2**53 - 1


class BadMessage(ValueError):
    """A client's message is not a DAP message the mux can answer (its transport should
    close with 1007): the sentence says what is wrong."""


def _shown(value: Any) -> str:
    """A client's value in an error sentence: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _is_int(value: Any) -> bool:
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
                    f"({_shown(value)})")
    return None


def _check_initialize(args: Message) -> str | None:
    return _check_types("initialize", args, {
        "linesStartAt1": ("a boolean", bool), "columnsStartAt1": ("a boolean", bool),
        "pathFormat": ("a string", str)})


def _check_cancel(args: Message) -> str | None:
    wrong = _check_types("cancel", args, {"requestId": ("an integer", int),
                                          "progressId": ("a string", str)})
    if wrong is None and "requestId" in args and not 0 <= args["requestId"] <= MAX_SEQ:
        wrong = f"cancel: requestId {args['requestId']} is not the seq of a request"
    return wrong


def _check_set_breakpoints(args: Message) -> str | None:
    source = args.get("source")
    if not isinstance(source, dict):
        return ("setBreakpoints: argument 'source' must be an object such as "
                f'{{"path": "/abs/file.py"}}, not {_type_name(source)} ({_shown(source)})')
    wrong = _check_types("setBreakpoints", source, {"path": ("a string", str),
                                                    "sourceReference": ("an integer", int)})
    if wrong is not None:
        return wrong.replace("argument", "source field", 1)
    breakpoints = args.get("breakpoints")
    if breakpoints is not None:
        if not isinstance(breakpoints, list):
            return ("setBreakpoints: argument 'breakpoints' must be an array of objects, "
                    f"not {_type_name(breakpoints)} ({_shown(breakpoints)})")
        for index, item in enumerate(breakpoints):
            if not isinstance(item, dict) or not _is_int(item.get("line")):
                return (f"setBreakpoints: breakpoints[{index}] must be an object with an "
                        f"integer 'line', not {_shown(item)}")
    lines = args.get("lines")
    if lines is not None and (not isinstance(lines, list)
                              or not all(_is_int(line) for line in lines)):
        return f"setBreakpoints: argument 'lines' must be an array of integers, not {_shown(lines)}"
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
    "stackTrace": _check_stack_trace,
}


def argument_error(command: str, arguments: Any) -> str | None:
    """Why a request's `arguments` cannot be taken as they are, or None (DAP: they are
    an object, and the fields the server reads have their protocol types)."""
    if arguments is None:
        return None
    if not isinstance(arguments, dict):
        return (f"the arguments of {_shown(command)} must be a JSON object, not "
                f"{_type_name(arguments)} ({_shown(arguments)})")
    check = _ARGUMENT_CHECKS.get(command)
    return None if check is None else check(arguments)


class MuxClient:
    """One client of a mux; feed it the client's messages with `receive`."""

    def __init__(self, mux: DapMux, send: Send, role: str, name: str) -> None:
        self.mux = mux
        self.role = role
        self.name = name
        self.closed = False
        self._send = send
        self._seq = itertools.count(1)
        self._replayed = False
        # client seq -> upstream seq of requests awaiting their response (for `cancel`).
        self._pending: dict[int, int] = {}

    # -- to the client ---------------------------------------------------------

    def send(self, message: Message) -> None:
        """Number `message` from this client's counter and hand it to the transport."""
        if self.closed:
            return
        self._send({**message, "seq": next(self._seq)})

    def respond(self, request: Message, *, success: bool = True, body: Any = None,
                message: str | None = None) -> None:
        """Answer one of the client's requests."""
        response: Message = {"type": "response", "request_seq": request.get("seq", 0),
                             "command": request.get("command", ""), "success": success}
        if body is not None:
            response["body"] = body
        if message is not None:
            response["message"] = message
        self.send(response)

    def event(self, event: str, body: Any = None) -> None:
        """Send the client an event of our own."""
        message: Message = {"type": "event", "event": event}
        if body is not None:
            message["body"] = body
        self.send(message)

    # -- from the client -------------------------------------------------------

    def receive(self, message: Message) -> None:
        """Handle one message from the client (already checked to be DAP-shaped).

        Raises BadMessage when it cannot be answered (its `seq` is unusable); a request
        with bad arguments is answered with an error response instead.
        """
        if self.closed:
            return
        seq = message.get("seq", 0)
        if not _is_int(seq) or not 0 <= seq <= MAX_SEQ:
            raise BadMessage(f"DAP message seq {_shown(seq)} is not an integer from 0 to "
                             f"{MAX_SEQ}")
        if message.get("type") != "request":
            # We never send reverse requests, so a client has nothing to answer.
            log.debug("%s: ignoring a client %s", self.name, message.get("type"))
            return
        command = str(message["command"])
        if self.role != CONTROL and command not in OBSERVE_COMMANDS:
            self.respond(message, success=False, message=(
                f"this client observes session {self.mux.name}; {_shown(command)} is not a "
                "read request and could change the program; ask for a control connection"))
            return
        wrong = argument_error(command, message.get("arguments"))
        if wrong is not None:
            self.respond(message, success=False, message=wrong)
            return
        if command not in _CONFIGURATION_COMMANDS and command != "disconnect":
            # A client that skipped configurationDone still learns where things are.
            self._replay()
        handler = _LOCAL.get(command)
        if handler is not None:
            handler(self, message)
        else:
            self._forward(message)

    def _forward(self, request: Message) -> None:
        seq = int(request.get("seq", 0))
        command = str(request["command"])
        arguments = request.get("arguments")
        # The stop this request resumes from: a newer one may arrive before the response.
        resumed = self.mux.stopped if command in _RESUMING_COMMANDS else None

        def on_response(response: Message) -> None:
            self._pending.pop(seq, None)
            if response.get("success") and command in _RESUMING_COMMANDS:
                if resumed is not None:
                    self.mux.forget_stop(resumed)
            elif command in _RESUMING_COMMANDS and self.mux.resuming is self:
                self.mux.resuming = None  # refused: no `continued` is coming
            if response.get("closed"):
                self.respond(request, success=False, message=(
                    f"session {self.mux.name} ended while {_shown(command)} was pending"))
                return
            self.mux.responded(request, response)
            answer = {k: v for k, v in response.items() if k != "seq"}
            answer["request_seq"] = seq
            self.send(answer)

        upstream = self.mux.upstream
        if upstream is None or upstream.is_closed:
            self.respond(request, success=False, message=(
                f"session {self.mux.name} has no debugger to talk to (it has ended); "
                f"{_shown(command)} cannot be answered"))
            return
        try:
            self._pending[seq] = upstream.send_request(command, arguments, on_response)
        except ChannelClosed:
            self.respond(request, success=False, message=(
                f"session {self.mux.name} ended; {_shown(command)} cannot be answered"))
            return
        except (ValueError, RecursionError) as exc:
            # Not encodable for the debugger (nested too deeply; a lone surrogate where
            # the encoder keeps text as UTF-8): nothing was written, the session is intact.
            self.respond(request, success=False, message=(
                f"{_shown(command)} cannot be passed to the debugger of session "
                f"{self.mux.name}: its arguments cannot be encoded as JSON "
                f"({type(exc).__name__})"))
            return
        if command in _RESUMING_COMMANDS:
            self.mux.resuming = self

    def _initialize(self, request: Message) -> None:
        args = request.get("arguments") or {}
        # The session talks to the debugger in 1-based lines and plain paths; a client
        # expecting otherwise would read every location off by one.
        for key in ("linesStartAt1", "columnsStartAt1"):
            if args.get(key) is False:
                self.respond(request, success=False, message=(
                    f"session {self.mux.name} numbers lines and columns from 1; "
                    f"initialize with {key}: true"))
                return
        if args.get("pathFormat", "path") != "path":
            self.respond(request, success=False, message=(
                f"session {self.mux.name} uses file paths, not {_shown(args['pathFormat'])}; "
                "initialize with pathFormat: 'path'"))
            return
        self._replayed = False  # a re-initializing client starts over
        self.respond(request, body=self.mux.capabilities())
        self.event("initialized")

    def _start(self, request: Message) -> None:
        self.respond(request, message=(
            f"session {self.mux.name} is already running; this client joined it"))

    def _configuration_done(self, request: Message) -> None:
        self.respond(request)
        self._replay()

    def _disconnect(self, request: Message) -> None:
        # Leaving never ends the session: DELETE the session (or send `terminate`) for that.
        self.respond(request)

    def _cancel(self, request: Message) -> None:
        args = dict(request.get("arguments") or {})  # (checked: an object, requestId an int)
        if args.get("requestId") is not None:
            upstream_seq = self._pending.get(args["requestId"])
            if upstream_seq is None:
                self.respond(request, success=False, message=(
                    f"request {args['requestId']} of this client is not pending"))
                return
            args["requestId"] = upstream_seq
        elif self.role != CONTROL:
            self.respond(request, success=False, message=(
                "an observing client may cancel only its own requests (by requestId)"))
            return
        self._forward({**request, "arguments": args})

    def _replay(self) -> None:
        if self._replayed:
            return
        self._replayed = True
        for event in self.mux.current_state():
            self.send(event)

    def close(self) -> None:
        """Detach from the mux (idempotent); answers still in flight are dropped."""
        if not self.closed:
            self.closed = True
            self.mux.clients.discard(self)


_LOCAL: dict[str, Callable[[MuxClient, Message], None]] = {
    "initialize": MuxClient._initialize,
    "launch": MuxClient._start,
    "attach": MuxClient._start,
    "configurationDone": MuxClient._configuration_done,
    "disconnect": MuxClient._disconnect,
    "cancel": MuxClient._cancel,
}


class DapMux:
    """One upstream, many clients: renumbers requests, routes responses, shares events."""

    def __init__(self, name: str, *, capabilities: Callable[[], dict[str, Any]],
                 on_response: Callable[[Message, Message], None] | None = None) -> None:
        self.name = name
        self.upstream: DapChannel | None = None
        self.capabilities = capabilities
        self.clients: set[MuxClient] = set()
        self._on_response = on_response
        self.stopped: Message | None = None
        self._ended: list[Message] = []
        # The client whose resuming request is under way: its response already says the
        # program runs, so the `continued` that follows is not sent to it (DAP: an adapter
        # need not send `continued` for a request that implies it). One message fewer per
        # step through every hop.
        self.resuming: MuxClient | None = None

    def connect(self, send: Send, *, role: str, name: str) -> MuxClient:
        """Add a client; `send` hands a message to its transport (it must not block)."""
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        client = MuxClient(self, send, role, name)
        self.clients.add(client)
        return client

    def broadcast(self, event: Message) -> None:
        """Pass one upstream event to every client, and remember what a late joiner needs."""
        name = event.get("event")
        if name in _PRIVATE_EVENTS:
            return
        skip = None
        if name == "stopped":
            self.stopped = event
            self.resuming = None
        elif name == "continued":
            self.stopped = None
            skip, self.resuming = self.resuming, None
        elif name == "exited":
            self.stopped = None
            self._ended = [event]
        elif name == "terminated":
            self.stopped = None
            self._ended = [e for e in self._ended if e.get("event") == "exited"] + [event]
        for client in list(self.clients):
            if client is skip:
                continue
            try:
                client.send(event)
            except Exception:
                # One broken transport must not keep the event from the others.
                log.exception("%s: could not pass an event to %s", self.name, client.name)

    def forget_stop(self, stop: Message | None = None) -> None:
        """The program was resumed: forget `stop` (or whatever stop is remembered).

        Passing the stop that was current when the resuming request went out keeps a
        newer stop that arrived with (or right after) its response.
        """
        if stop is None or self.stopped is stop:
            self.stopped = None

    def current_state(self) -> list[Message]:
        """The events that tell a late joiner where the program is."""
        if self._ended:
            return [{k: v for k, v in e.items() if k != "seq"} for e in self._ended]
        if self.stopped is not None:
            return [{k: v for k, v in self.stopped.items() if k != "seq"}]
        return []

    def responded(self, request: Message, response: Message) -> None:
        """Tell the owner about a forwarded request's answer (e.g. to track breakpoints)."""
        if self._on_response is not None:
            try:
                self._on_response(request, response)
            except Exception:
                log.exception("%s: response hook failed for %s", self.name,
                              request.get("command"))
