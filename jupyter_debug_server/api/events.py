"""WebSocket /api/debug/sessions/{id}/events: state changes, stops, output, exit."""

from __future__ import annotations

import json
from http.client import responses
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketHandler

from .redaction import redact_finished_request
from .session_ws import SessionSocket, internal_error


class SessionEventsHandler(SessionSocket, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Stream one session's events as JSON text frames (read-only for every client).

    `?only=end` streams the current state and then only the final one: for a client that
    waits for the end (the forward), without the cost of every stop's location and output.
    """

    socket_name = "a session's event stream"
    message_name = "events"
    log_name = "the event stream of session"
    _unsubscribe: Any = None
    _counted = False  # in the session's `clients`
    only_end = False
    query_arguments = {"GET": ("only",)}

    def check_arguments(self) -> None:
        only = self.get_query_argument("only", None)
        if only not in (None, "end"):
            raise web.HTTPError(400, f"only={only!r:.60} is not a filter of session events; "
                                "use only=end, or no filter", reason="bad-argument")
        self.only_end = only == "end"

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
        self._send({"type": "state", "session": session.model(self.base_url)})
        if self.only_end:
            self._unsubscribe = session.when_ended(lambda ended: self._send(
                {"type": "state", "session": ended.model(self.base_url)}))
        else:
            self._unsubscribe = session.subscribe(self._send)

    def _send(self, event: dict[str, Any]) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return  # (cut off or gone: on_close unsubscribes)
        # ASCII JSON: a lone surrogate (a file name decoded with surrogateescape, a thread
        # name) is escaped, so the frame always encodes as UTF-8.
        self.send_bounded(json.dumps(event, ensure_ascii=True).encode())

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
