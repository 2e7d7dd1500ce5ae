"""The breakpoint book (breakpoints.py) wired to a mux: it sends the debugger the union of
every owner's breakpoints, answers the owner, and tells the other clients.

Held by `DapMux` (mux.py). Owned by the mux's event loop; nothing here blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Protocol

from .breakpoints import BreakpointBook, Owner
from .channel import ChannelClosed, DapChannel
from .messages import Message


class Listener(Protocol):
    """What the mux's clients offer here: events of ours, and messages passed on."""

    def event(self, event: str, body: Any = None) -> None:
        """Send the client an event of our own."""

    def send(self, message: Message) -> None:
        """Pass the client a message (numbered from its own counter)."""


class SharedBreakpoints:
    """Every owner's breakpoints on one debugger; see the module docstring."""

    def __init__(self, upstream: Callable[[], DapChannel | None],
                 clients: Callable[[], Collection[Listener]]) -> None:
        self._upstream = upstream  # the mux's channel to the debugger, when it has one
        self._clients = clients
        self.book = BreakpointBook(self._notify)

    def set(self, owner: Owner, arguments: Message, done: Callable[[Message], None],
            command: str) -> bool:
        """`owner` (a client, or the session's REST route) replaces its breakpoints of
        one source (`setBreakpoints`), or its function breakpoints
        (`setFunctionBreakpoints`); `done(response)` gets the debugger's response made
        the owner's. False if there is no debugger to ask."""
        upstream = self._upstream()
        if upstream is None or upstream.is_closed:
            return False
        request, answer = (self.book.replace(owner, arguments)
                           if command == "setBreakpoints"
                           else self.book.replace_functions(owner, arguments))

        def on_response(response: Message) -> None:
            done(response if response.get("closed") else answer(response))

        try:
            upstream.send_request(command, request, on_response)
        except ChannelClosed:
            return False
        return True

    def drop(self, owner: Owner) -> None:
        """`owner` left: remove its breakpoints from the debugger (the others are told)."""
        upstream = self._upstream()
        for command, request, handle in self.book.drop(owner):
            if upstream is None or upstream.is_closed:
                return
            try:
                upstream.send_request(command, request, handle)
            except ChannelClosed:
                return

    def _notify(self, skip: object, body: Message) -> None:
        # (`skip`: the owner not to tell, or None; owners are clients or the REST route)
        for client in list(self._clients()):
            if client is not skip:
                client.event("breakpoint", body)

    def upstream_event(self, event: Message) -> None:
        """The debugger changed a breakpoint: tell every client, in our ids."""
        body = event.get("body") or {}
        breakpoint = body.get("breakpoint")
        ours = (self.book.update_from_upstream(breakpoint)
                if isinstance(breakpoint, dict) else [])
        if not ours:  # not one of a source's (a function breakpoint, say): as it came
            for client in list(self._clients()):
                client.send(event)
            return
        for one in ours:
            self._notify(None, {**body, "breakpoint": one})
