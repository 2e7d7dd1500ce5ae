"""Request handlers of the DAP adapters: how they are declared, called and answered.

A handler is a coroutine function whose parameters after the adapter are the request's
DAP arguments, keyword-only and named as on the wire (gdb's DAP server does the same):

    @request("next", capability="supportsSteppingGranularity", events_after_response=True)
    async def next_(gdb: GdbAdapter, *, threadId: int, granularity: str = "statement") -> None:

Arguments it does not name are ignored (`**rest` takes them all); a required one that is
missing is answered with a sentence naming it. What it returns is the response body, an
`Answer` (a body and what follows the response), or a `Relay` when the debugger behind
the adapter answers. A capability is declared with its
handler, so an adapter cannot advertise one without the other. Argument *types* are
checked once, before any handler (dap/arguments.py, `checking_arguments`).

Registries are built at import, by an adapter's composition root, and never change.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Generic, Protocol, TypeVar

from ...dap import DapChannel, DapRequestError
from ...dap.arguments import ArgumentError, check_request
from ...dap.messages import Message

log = logging.getLogger(__name__)

A = TypeVar("A")
#: A request as the dispatcher runs it: (adapter, message) → what to answer.
Handler = Callable[[A, Message], Awaitable[Any]]

_SPEC = "__dap_request__"


class AdapterError(Exception):
    """An expected failure, answered as `success: false` with this sentence."""


class DebuggerRefusal(Exception):
    """The debugger refused a command: answered with its own sentence, prefixed by its
    name ("gdb: No symbol "x" in current context.")."""

    debugger = "the debugger"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Responder(Protocol):
    """Where answers go: the client's channel, or an adapter that also releases what
    waits for an answer (see AdapterBase.send_response)."""

    def send_response(self, request: Message, *, success: bool = True, body: Any = None,
                      message: str | None = None) -> None: ...


@dataclass(frozen=True)
class Answer:
    """A handler's outcome: the response `body`, then `after()` once it has been sent
    (a `terminated` event that must follow the response to `disconnect`)."""

    body: Any = None
    after: Callable[[], None] | None = None


@dataclass(frozen=True)
class Relay:
    """A handler's outcome: `upstream` answers the request (with `arguments`, or the
    client's own). Its response goes back from the upstream's read loop, so it reaches
    the client before any event that follows it."""

    upstream: DapChannel | None
    arguments: Any = None
    name: str = "the debugger"
    #: Seconds after which, unanswered, the client is answered `late_body` (success) or
    #: `late_error` (failure), and the upstream's late answer is dropped: for requests a
    #: debugger may never answer (pydevd, a `continue` with nothing to resume).
    deadline: float | None = None
    late_body: Any = None
    late_error: str | None = None

    def send(self, message: Message, client: Responder) -> None:
        """Forward `message` upstream; answer the client with what comes back."""
        if self.upstream is None or self.upstream.is_closed:
            client.send_response(message, success=False, message=(
                f"cannot handle '{message['command']}': {self.name} is not running "
                "(send 'launch' or 'attach' first, or it has ended)"))
            return
        arguments = message.get("arguments") if self.arguments is None else self.arguments
        answered = False

        def relay(response: Message) -> None:
            nonlocal answered
            if not answered:
                answered = True
                if timer is not None:
                    timer.cancel()
                client.send_response(message, success=bool(response.get("success")),
                                     body=response.get("body"),
                                     message=response.get("message"))

        def late() -> None:
            nonlocal answered
            if not answered:
                answered = True
                client.send_response(message, success=self.late_error is None,
                                     body=self.late_body, message=self.late_error)

        timer = (None if self.deadline is None else
                 asyncio.get_running_loop().call_later(self.deadline, late))
        self.upstream.send_request(message["command"], arguments, relay)


@dataclass(frozen=True)
class Spec:
    """How one DAP command is handled."""

    command: str
    call: Handler[Any]
    capability: str | None = None
    value: Any = True
    #: Events the handler sends with `adapter.send_event` wait for its response.
    events_after_response: bool = False
    #: The response is held and sent right after this command's response, with its
    #: outcome (debugpy answers `launch` and `attach` once `configurationDone` is done).
    answered_by: str | None = None


def request(command: str, *, capability: str | None = None, value: Any = True,
            events_after_response: bool = False,
            answered_by: str | None = None) -> Callable[[Callable[..., Awaitable[Any]]],
                                                        Callable[..., Awaitable[Any]]]:
    """Declare `handler` as the handler of `command`, advertising `capability` with it."""

    def declare(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        spec = Spec(command, _caller(command, handler), capability, value,
                    events_after_response, answered_by)
        setattr(handler, _SPEC, spec)
        return handler

    return declare


def _caller(command: str, handler: Callable[..., Awaitable[Any]]) -> Handler[Any]:
    """Call `handler` with the request's arguments as keyword parameters."""
    parameters = list(inspect.signature(handler).parameters.values())
    adapter, named = parameters[0].name, parameters[1:]
    positional = [p.name for p in named if p.kind not in (p.KEYWORD_ONLY, p.VAR_KEYWORD)]
    if positional:  # a declaration mistake: DAP arguments have names, not positions
        raise TypeError(f"the handler of {command!r} takes {positional} by position; DAP "
                        "arguments are keyword-only parameters (after a `*`)")
    keywords = {p.name for p in named if p.kind is p.KEYWORD_ONLY}
    required = [p.name for p in named if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    takes_all = any(p.kind is p.VAR_KEYWORD for p in named)

    async def call(target: Any, message: Message) -> Any:
        arguments = message.get("arguments")
        arguments = arguments if isinstance(arguments, dict) else {}
        missing = [name for name in required if arguments.get(name) is None]
        if missing:
            names = " and ".join(f"'{name}'" for name in missing)
            raise AdapterError(f"'{command}' needs the argument{'s' * (len(missing) > 1)} "
                               f"{names}")
        given = {k: v for k, v in arguments.items()
                 if k != adapter and (takes_all or k in keywords)}
        return await handler(target, **given)

    return call


class Registry(Generic[A]):
    """The handlers of one adapter, keyed by DAP command, and the capabilities they bring."""

    def __init__(self, base_capabilities: dict[str, Any],
                 modules: Iterable[ModuleType]) -> None:
        self.specs: dict[str, Spec] = {}
        self.capabilities: dict[str, Any] = dict(base_capabilities)
        for module in modules:
            for item in vars(module).values():
                spec = getattr(item, _SPEC, None)
                if isinstance(spec, Spec) and item.__module__ == module.__name__:
                    self._add(spec)

    def _add(self, spec: Spec) -> None:
        if spec.command in self.specs:
            raise ValueError(f"two handlers for DAP command {spec.command!r}")
        self.specs[spec.command] = spec
        if spec.capability is not None:
            self.capabilities[spec.capability] = spec.value

    def get(self, command: str) -> Spec | None:
        """The handler of `command`, if this adapter has one."""
        return self.specs.get(command)


def checking_arguments(client: DapChannel,
                       on_request: Callable[[Message], None]) -> Callable[[Message], None]:
    """`on_request` behind DAP's argument types (dap/arguments.py): one check for every
    adapter, so no debugger (nor our own handlers) sees a request whose arguments do not
    fit; such a request is answered with the sentence that names the field."""

    def checked(message: Message) -> None:
        try:
            check_request(message)
        except ArgumentError as exc:
            client.send_response(message, success=False, message=str(exc))
            return
        on_request(message)

    return checked


async def answer(client: Responder, handler: Handler[A], adapter: A, message: Message,
                 on_success: Callable[[Message, Any], None] | None = None) -> None:
    """Run a handler and answer with its outcome; expected failures become error
    responses, bugs are logged. `on_success` takes over a successful outcome."""
    try:
        outcome = await handler(adapter, message)
    except AdapterError as exc:
        client.send_response(message, success=False, message=str(exc))
    except DapRequestError as exc:
        client.send_response(message, success=False, message=exc.message)
    except DebuggerRefusal as exc:  # gdb refused the command: its sentence is the answer
        client.send_response(message, success=False, message=f"{exc.debugger}: {exc.message}")
    except ConnectionError as exc:  # ChannelClosed, GdbExited: the debugger is gone
        client.send_response(message, success=False, message=f"the debugger is gone: {exc}")
    except Exception as exc:
        log.exception("%s failed", message.get("command"))
        client.send_response(message, success=False, message=f"internal error: {exc}")
    else:
        if on_success is not None:
            on_success(message, outcome)
        else:
            deliver(client, message, outcome)


def deliver(client: Responder, message: Message, outcome: Any) -> None:
    """Answer `message` with a handler's outcome (see the module docstring)."""
    if isinstance(outcome, Relay):
        outcome.send(message, client)
    elif isinstance(outcome, Answer):
        client.send_response(message, body=outcome.body)
        if outcome.after is not None:
            outcome.after()
    else:
        client.send_response(message, body=outcome)
