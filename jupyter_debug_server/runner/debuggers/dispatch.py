"""Request handler registries of the DAP adapters, and how their failures are answered.

A handler is registered together with the capability it implements, so an
adapter cannot advertise a capability that has no handler. Registries are
built at import and never change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from ...dap import DapChannel, DapRequestError
from ...dap.arguments import ArgumentError, check_request
from .gdb.mi import MIError

log = logging.getLogger(__name__)

Message = dict[str, Any]
A = TypeVar("A")
Handler = Callable[[A, Message], Awaitable[None]]


class AdapterError(Exception):
    """An expected failure, answered as `success: false` with this sentence."""


class Registry(Generic[A]):
    """Handlers of one adapter, keyed by DAP command, and the capabilities they bring."""

    def __init__(self, base_capabilities: dict[str, Any] | None = None) -> None:
        self.handlers: dict[str, Handler[A]] = {}
        self.capabilities: dict[str, Any] = dict(base_capabilities or {})

    def request(self, command: str, *, capability: str | None = None,
                value: Any = True) -> Callable[[Handler[A]], Handler[A]]:
        """Register the handler of `command`, advertising `capability` with it."""

        def register(handler: Handler[A]) -> Handler[A]:
            if command in self.handlers:
                raise ValueError(f"two handlers for DAP command {command!r}")
            self.handlers[command] = handler
            if capability is not None:
                self.capabilities[capability] = value
            return handler

        return register


def checking_arguments(client: DapChannel,
                       on_request: Callable[[Message], None]) -> Callable[[Message], None]:
    """`on_request` behind DAP's argument types (dap/argument_types.py): one check for every
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


async def answer(client: DapChannel, handler: Handler[A], adapter: A, message: Message) -> None:
    """Run a handler; turn expected failures into error responses, log bugs."""
    try:
        await handler(adapter, message)
    except AdapterError as exc:
        client.send_response(message, success=False, message=str(exc))
    except DapRequestError as exc:
        client.send_response(message, success=False, message=exc.message)
    except MIError as exc:  # gdb refused the command: its sentence is the answer
        client.send_response(message, success=False, message=f"gdb: {exc.message}")
    except ConnectionError as exc:  # ChannelClosed, GdbExited: the debugger is gone
        client.send_response(message, success=False, message=f"the debugger is gone: {exc}")
    except Exception as exc:
        log.exception("%s failed", message.get("command"))
        client.send_response(message, success=False, message=f"internal error: {exc}")
