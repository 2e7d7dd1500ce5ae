"""WebSocket /api/debug/sessions/{id}/events: state changes, stops, output, exit."""

from __future__ import annotations

import json
from typing import Any

from tornado import web
from tornado.websocket import WebSocketClosedError

from ..websocket_write import write_text
from .session_ws import CLOSE_POLICY, SessionWebSocket, internal_error

# A client this many messages behind is cut off rather than buffered without bound (its
# bytes are bounded by c.DebugServerApp.max_client_backlog too).
_MAX_UNSENT = 2000


class SessionEventsHandler(SessionWebSocket):
    """Stream one session's events as JSON text frames (read-only for every client).

    `?only=end` streams the current state and then only the final one: for a client that
    waits for the end (the forward), without the cost of every stop's location and output.
    """

    socket_name = "a session's event stream"
    _unsubscribe: Any = None
    _unsent = 0
    _unsent_bytes = 0
    _counted = False  # in the session's `clients`
    _max_backlog = 16 * 1024 * 1024
    only_end = False

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
        super().open()
        self._max_backlog = self.settings["debug_app"].max_client_backlog
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
        if self._unsent > _MAX_UNSENT or self._unsent_bytes > self._max_backlog:
            reason = (f"client too slow: {self._unsent} events ({self._unsent_bytes} bytes) "
                      f"unsent; the limit is {self._max_backlog} bytes "
                      "(c.DebugServerApp.max_client_backlog)")
            self.log.warning("Closing the event stream of session %s: %s",
                             self.debug_session.id, reason)
            self.close(CLOSE_POLICY, reason)
            return
        # ASCII JSON: a lone surrogate (a file name decoded with surrogateescape, a thread
        # name) is escaped, so the frame always encodes as UTF-8.
        data = json.dumps(event, ensure_ascii=True).encode()
        try:
            future = write_text(self.ws_connection, data)
        except WebSocketClosedError:
            return
        if future is None:
            return  # written already
        size = len(data)
        self._unsent += 1
        self._unsent_bytes += size

        def sent(_future: Any) -> None:
            self._unsent -= 1
            self._unsent_bytes -= size

        future.add_done_callback(sent)

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen on this socket; anything they send is ignored."""

    def on_close(self) -> None:
        super().on_close()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._counted:
            self._counted = False
            self.debug_session.clients -= 1
