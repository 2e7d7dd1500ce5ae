"""DapMux: one upstream DAP connection shared by many clients.

The upstream is the session's channel to its worker; each client speaks DAP as
if it had the debugger to itself. The mux renumbers what crosses it: a client's
request goes upstream under a fresh upstream seq and its response comes back to
that client only, carrying the client's own seq as `request_seq`; every message
a client receives is numbered from that client's own counter. Events are
broadcast. The session lifecycle belongs to the owner of the upstream, so a
client's `initialize`, `launch`, `attach`, `configurationDone`, `disconnect` and
`terminate` are answered here and never reach the debugger; so are the Jupyter kernel
requests JupyterLab's debugger sends (jupyter.py): `debugInfo` from the mux's state, the
others refused.

Ending the shared program is one rule: a control client may end the session, by
`terminate` or by `disconnect` with `terminateDebuggee: true` (the mux answers, then
asks the owner through `on_end`); an observer never can (an error response); a plain
`disconnect` only leaves.

A large request (large.py) comes with its arguments as the client's own bytes: the same
rules apply (the helper checked what `argument_error` checks), it is forwarded without
being parsed or encoded here, and the requests the mux answers itself read the scalar
fields the helper kept. Breakpoint requests, which the mux merges, are refused when large.

Owned by one event loop; every method runs on it and none blocks.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from .arguments import MAX_SEQ, BadMessage, argument_error, is_int, shown
from .breakpoints import Owner
from .channel import ChannelClosed, DapChannel
from .jupyter import debug_info, kernel_only
from .messages import LARGE_MESSAGE, Message, RawArguments, Send
from .policy import (
    CONTROL,
    CONTROL_CAPABILITIES,
    KERNEL_ONLY_COMMANDS,
    NO_REPLAY_COMMANDS,
    OBSERVE,
    OBSERVE_CAPABILITIES,
    OBSERVE_COMMANDS,
    PRIVATE_EVENTS,
    RESUMING_COMMANDS,
    ROLES,
)
from .shared_breakpoints import SharedBreakpoints

__all__ = ["CONTROL", "MAX_SEQ", "OBSERVE", "OBSERVE_COMMANDS", "ROLES", "BadMessage",
           "DapMux", "MuxClient", "argument_error"]

log = logging.getLogger(__name__)


class MuxClient:
    """One client of a mux; feed it the client's messages with `receive`."""

    def __init__(self, mux: DapMux, send: Send, role: str, name: str, *,
                 user: str | None = None, token_id: str | None = None) -> None:
        self.mux = mux
        self.role = role
        self.name = name
        self.user = user  # who connected, and with which session token (for the audit)
        self.token_id = token_id
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

    def receive(self, message: Message, raw: RawArguments | None = None) -> None:
        """Handle one message from the client (already checked to be DAP-shaped); `raw`:
        the arguments of a large request, as its client sent them (see the module's text).

        Raises BadMessage when it cannot be answered (its `seq` is unusable); a request
        with bad arguments is answered with an error response instead.
        """
        if self.closed:
            return
        seq = message.get("seq", 0)
        if not is_int(seq) or not 0 <= seq <= MAX_SEQ:
            raise BadMessage(f"DAP message seq {shown(seq)} is not an integer from 0 to "
                             f"{MAX_SEQ}")
        if message.get("type") != "request":
            # We never send reverse requests, so a client has nothing to answer.
            log.debug("%s: ignoring a client %s", self.name, message.get("type"))
            return
        command = str(message["command"])
        if self.role != CONTROL and command not in OBSERVE_COMMANDS:
            self.respond(message, success=False, message=(
                f"this client observes session {self.mux.name}; {shown(command)} is not a "
                "read request and could change the program; ask for a control connection"))
            return
        wrong = (argument_error(command, message.get("arguments")) if raw is None
                 else raw.wrong)
        if wrong is not None:
            self.respond(message, success=False, message=wrong)
            return
        if command not in NO_REPLAY_COMMANDS:
            # A client that skipped configurationDone still learns where things are.
            self._replay()
        handler = _LOCAL.get(command)
        if handler is None:
            self._forward(message, raw)
        elif raw is not None and command in _MERGED:
            self.respond(message, success=False, message=(
                f"{shown(command)} with {raw.size} bytes of arguments is more than session "
                f"{self.mux.name} merges with other clients' breakpoints; send them in "
                f"requests under {LARGE_MESSAGE} bytes"))
        else:
            handler(self, message)

    def _forward(self, request: Message, raw: RawArguments | None = None) -> None:
        seq = int(request.get("seq", 0))
        command = str(request["command"])
        arguments = request.get("arguments")
        # The stop this request resumes from: a newer one may arrive before the response.
        resumed = self.mux.stopped if command in RESUMING_COMMANDS else None

        def on_response(response: Message) -> None:
            self._pending.pop(seq, None)
            if response.get("success") and command in RESUMING_COMMANDS:
                if resumed is not None:
                    self.mux.forget_stop(resumed)
            elif command in RESUMING_COMMANDS and self.mux.resuming is self:
                self.mux.resuming = None  # refused: no `continued` is coming
            if response.get("closed"):
                self.respond(request, success=False, message=(
                    f"session {self.mux.name} ended while {shown(command)} was pending"))
                return
            self.mux.responded(request, response)
            answer = {k: v for k, v in response.items() if k != "seq"}
            answer["request_seq"] = seq
            self.send(answer)

        upstream = self.mux.upstream
        if upstream is None or upstream.is_closed:
            self.respond(request, success=False, message=(
                f"session {self.mux.name} has no debugger to talk to (it has ended); "
                f"{shown(command)} cannot be answered"))
            return
        if command in RESUMING_COMMANDS:
            self.mux.resumes()  # before it is written: the owner's requests stop now
        try:
            if raw is None:
                self._pending[seq] = upstream.send_request(command, arguments, on_response)
            else:
                self._pending[seq] = upstream.send_raw_request(command, raw.pieces,
                                                               on_response)
        except ChannelClosed:
            self.respond(request, success=False, message=(
                f"session {self.mux.name} ended; {shown(command)} cannot be answered"))
            return
        except (ValueError, RecursionError) as exc:
            # Not encodable for the debugger (nested too deeply; a lone surrogate where
            # the encoder keeps text as UTF-8): nothing was written, the session is intact.
            self.respond(request, success=False, message=(
                f"{shown(command)} cannot be passed to the debugger of session "
                f"{self.mux.name}: its arguments cannot be encoded as JSON "
                f"({type(exc).__name__})"))
            return
        if command in RESUMING_COMMANDS:
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
                f"session {self.mux.name} uses file paths, not {shown(args['pathFormat'])}; "
                "initialize with pathFormat: 'path'"))
            return
        self._replayed = False  # a re-initializing client starts over
        self.respond(request, body=self.mux.capabilities_for(self.role))
        self.event("initialized")

    def _start(self, request: Message) -> None:
        # The session runs already: this client joins it. (DAP reserves `message` for
        # failures: a success carries none.)
        self.respond(request)

    def _configuration_done(self, request: Message) -> None:
        self.respond(request)
        self._replay()

    def _disconnect(self, request: Message) -> None:
        # A plain disconnect only leaves; with terminateDebuggee it ends the session.
        if (request.get("arguments") or {}).get("terminateDebuggee") is True:
            self._end(request)
        else:
            self.respond(request)

    def _terminate(self, request: Message) -> None:
        self._end(request)

    def _end(self, request: Message) -> None:
        """End the session for every client, if this client may."""
        command = str(request.get("command"))
        if self.role != CONTROL:
            self.respond(request, success=False, message=(
                f"this client observes session {self.mux.name}; it cannot end the program "
                f"({shown(command)} with terminateDebuggee); disconnect without it to leave"
                if command == "disconnect" else
                f"this client observes session {self.mux.name}; {shown(command)} would end "
                "the program for every client; ask for a control connection"))
            return
        if self.mux.on_end is None:
            self.respond(request, success=False, message=(
                f"session {self.mux.name} cannot be ended from a DAP connection; end it "
                "with DELETE on its URL"))
            return
        self.respond(request)  # DAP: the response first, `terminated` follows
        self.mux.on_end(self, command)

    def _debug_info(self, request: Message) -> None:
        # (Whoever asks, before or after initialize: it reads, and replays nothing.)
        self.respond(request, body=debug_info(
            self.mux.name, self.mux.shared.book.listing(self), self.mux.stopped))

    def _kernel_only(self, request: Message) -> None:
        self.respond(request, success=False,
                     message=kernel_only(str(request["command"]), self.mux.name))

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

    def _set_breakpoints(self, request: Message) -> None:
        args = request.get("arguments") or {}
        command = str(request["command"])
        if command == "setBreakpoints" and not isinstance(
                (args.get("source") or {}).get("path"), str):
            self._forward(request)  # (a sourceReference: not shared, nothing to merge)
            return
        seq = request.get("seq", 0)

        def on_response(response: Message) -> None:
            if response.get("closed"):
                self.respond(request, success=False, message=(
                    f"session {self.mux.name} ended while {command!r} was pending"))
                return
            answer = {k: v for k, v in response.items() if k != "seq"}
            self.send({**answer, "request_seq": seq, "command": command})

        if not self.mux.set_breakpoints(self, args, on_response, command):
            self.respond(request, success=False, message=(
                f"session {self.mux.name} has no debugger to talk to (it has ended); "
                f"{command!r} cannot be answered"))

    def _replay(self) -> None:
        if self._replayed:
            return
        self._replayed = True
        for event in self.mux.current_state():
            self.send(self.mux.for_client(event, self))

    def close(self) -> None:
        """Detach from the mux (idempotent); answers still in flight are dropped, and the
        client's breakpoints are removed from the debugger."""
        if not self.closed:
            self.closed = True
            self.mux.clients.discard(self)
            self.mux.shared.drop(self)


_LOCAL: dict[str, Callable[[MuxClient, Message], None]] = {
    "initialize": MuxClient._initialize,
    "launch": MuxClient._start,
    "attach": MuxClient._start,
    "configurationDone": MuxClient._configuration_done,
    "disconnect": MuxClient._disconnect,
    "terminate": MuxClient._terminate,
    "cancel": MuxClient._cancel,
    "setBreakpoints": MuxClient._set_breakpoints,
    "setFunctionBreakpoints": MuxClient._set_breakpoints,
    "debugInfo": MuxClient._debug_info,
    **dict.fromkeys(KERNEL_ONLY_COMMANDS, MuxClient._kernel_only),
}
#: The requests the mux merges across clients: it must read all of their arguments.
_MERGED = frozenset({"setBreakpoints", "setFunctionBreakpoints"})

class DapMux:
    """One upstream, many clients: renumbers requests, routes responses, shares events."""

    def __init__(self, name: str, *, capabilities: Callable[[], dict[str, Any]],
                 on_response: Callable[[Message, Message], None] | None = None,
                 on_end: Callable[[MuxClient, str], None] | None = None,
                 on_resume: Callable[[], None] | None = None) -> None:
        self.name = name
        self.upstream: DapChannel | None = None
        self.capabilities = capabilities
        self.clients: set[MuxClient] = set()
        self._on_response = on_response
        # Called (after the client's answer) when a control client ends the session:
        # `on_end(client, "terminate" | "disconnect")`; None: the session cannot be ended so.
        self.on_end = on_end
        # Called when a client's request would run the program on (continue, a step),
        # just before it goes upstream: the owner stops queueing requests of its own
        # about the stop ahead of it.
        self.on_resume = on_resume
        self.shared = SharedBreakpoints(lambda: self.upstream, lambda: self.clients)
        # Our breakpoint ids of the remembered stop's hitBreakpointIds (see for_client).
        self._stop_hits: list[int] = []
        self.stopped: Message | None = None
        self._ended: list[Message] = []
        # The debugger's `process` event: some clients (LLVM's dap_server.py) wait for it.
        self._process: Message | None = None
        # The client whose resuming request is under way: its response already says the
        # program runs, so the `continued` that follows is not sent to it (DAP: an adapter
        # need not send `continued` for a request that implies it). One message fewer per
        # step through every hop.
        self.resuming: MuxClient | None = None

    def connect(self, send: Send, *, role: str, name: str, user: str | None = None,
                token_id: str | None = None) -> MuxClient:
        """Add a client; `send` hands a message to its transport (it must not block)."""
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        client = MuxClient(self, send, role, name, user=user, token_id=token_id)
        self.clients.add(client)
        return client

    def capabilities_for(self, role: str) -> dict[str, Any]:
        """The debugger's capabilities as a client of `role` may use them."""
        ours = CONTROL_CAPABILITIES if role == CONTROL else OBSERVE_CAPABILITIES
        return {**self.capabilities(), **ours}

    def broadcast(self, event: Message) -> None:
        """Pass one upstream event to every client, and remember what a late joiner needs."""
        name = event.get("event")
        if name in PRIVATE_EVENTS:
            return
        skip = None
        if name == "breakpoint":
            self.shared.upstream_event(event)
            return
        if name == "stopped":
            self.stopped = event
            self._stop_hits = self.shared.book.from_upstream(
                (event.get("body") or {}).get("hitBreakpointIds"))
            self.resuming = None
        elif name == "continued":
            self.stopped = None
            skip, self.resuming = self.resuming, None
        elif name == "process":
            self._process = event
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
                client.send(self.for_client(event, client))
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
        """The events that tell a late joiner which program this is and where it is."""
        # Once ended, only the end: the process and its last stop are history.
        state = self._ended or [e for e in (self._process, self.stopped) if e is not None]
        return [{k: v for k, v in e.items() if k != "seq"} for e in state]

    # -- breakpoints (shared_breakpoints.py) -------------------------------------------

    def set_breakpoints(self, owner: Owner, arguments: Message,
                        done: Callable[[Message], None],
                        command: str = "setBreakpoints") -> bool:
        """`owner` replaces its breakpoints of one source, or its function breakpoints
        (shared_breakpoints.py); False if there is no debugger to ask."""
        return self.shared.set(owner, arguments, done, command)

    def hits_of(self, owner: Owner) -> list[int]:
        """The remembered stop's hitBreakpointIds that are `owner`'s, in our ids."""
        mine = self.shared.book.ids_of(owner)
        return [i for i in self._stop_hits if i in mine]

    def for_client(self, event: Message, client: Owner) -> Message:
        """`event` as `client` sees it: a stop's hitBreakpointIds are its own (or none)."""
        body = event.get("body")
        if event.get("event") != "stopped" or not isinstance(body, dict) or (
                "hitBreakpointIds" not in body):
            return event
        hits = self.hits_of(client)
        shown = {k: v for k, v in body.items() if k != "hitBreakpointIds"}
        if hits:
            shown["hitBreakpointIds"] = hits
        return {**event, "body": shown}

    def resumes(self) -> None:
        """Tell the owner a client's request is about to run the program on."""
        if self.on_resume is not None:
            try:
                self.on_resume()
            except Exception:
                log.exception("%s: resume hook failed", self.name)

    def responded(self, request: Message, response: Message) -> None:
        """Tell the owner about a forwarded request's answer (e.g. to track breakpoints)."""
        if self._on_response is not None:
            try:
                self._on_response(request, response)
            except Exception:
                log.exception("%s: response hook failed for %s", self.name,
                              request.get("command"))
