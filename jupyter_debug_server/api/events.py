"""WebSocket /api/debug/sessions/{id}/events: state changes, stops, output, exit."""

from __future__ import annotations

import json
from http.client import responses
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketHandler

from ..runner.state import FINAL_STATES
from .redaction import redact_finished_request
from .session_ws import SessionSocket, internal_error

#: What `?only=` may select (comma-separated) between the current and the final state.
_KINDS = ("end", "state", "dap", "snapshot")


class SessionEventsHandler(SessionSocket, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Stream one session's events as JSON text frames (read-only for every client).

    The current state comes first and the final state last, whatever the filter.
    `?only=KIND[,KIND…]` selects what comes between: `snapshot` (each stop's snapshot),
    `state` (every state change), `dap` (the debugger's events, output among them), or
    `end` (nothing: for a client that waits for the end, the forward, without the cost of
    every stop's location and output).
    """

    socket_name = "a session's event stream"
    message_name = "events"
    log_name = "the event stream of session"
    _unsubscribe: Any = None
    _counted = False  # in the session's `clients`
    only_end = False
    query_arguments = {"GET": ("only",)}
    kinds: frozenset[str] | None = None  # the message types `?only=` selects; None: all

    def check_arguments(self) -> None:
        only = self.get_query_argument("only", None)
        if only is None:
            return
        kinds = frozenset(only.split(","))
        wrong = sorted(kinds - set(_KINDS))
        if wrong:
            raise web.HTTPError(400, f"only={only!r:.60} is not a filter of session events: "
                                f"{wrong[0]!r:.40} is none of {', '.join(_KINDS)} (comma-"
                                "separated), or give no filter", reason="bad-argument")
        self.kinds = kinds - {"end"}
        self.only_end = not self.kinds

    def open(self, *args: Any, **kwargs: Any) -> None:
        try:
            self._subscribe()
        except Exception as exc:
            internal_error(self, exc)

    def _subscribe(self) -> None:
        self.watch_token()
        session = self.debug_session
        session.clients += 1
        self._counted = True
        self.send_json({"type": "state", "session": session.model(self.base_url)})
        if self.only_end:
            self._unsubscribe = session.when_ended(lambda ended: self.send_json(
                {"type": "state", "session": ended.model(self.base_url)}))
        elif self.kinds is not None:
            self._unsubscribe = session.subscribe(self._send_selected)
        else:
            self._unsubscribe = session.subscribe(self.send_json)

    def _send_selected(self, event: dict[str, Any]) -> None:
        """`event`, if `?only=` selects it (a final state always is)."""
        assert self.kinds is not None
        kind = event.get("type")
        if kind in self.kinds or (kind == "state" and event["session"]["state"] in
                                  FINAL_STATES):
            self.send_json(event)

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen on this socket; anything they send is ignored."""

    def on_close(self) -> None:
        self.unwatch_token()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._counted:
            self._counted = False
            self.debug_session.clients -= 1

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A refused upgrade answers JSON like the REST routes, not an HTML page."""
        exc = kwargs.get("exc_info", (None, None))[1]
        message = getattr(exc, "log_message", None) or responses.get(status_code, "Unknown")
        reason = getattr(exc, "reason", None) if isinstance(exc, web.HTTPError) else None
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": reason}))

    def _log(self) -> None:
        redact_finished_request(self)  # before the access log line (jupyter_server's)
        super()._log()
