"""WebSocket /api/debug/events: every session of the server, live (the panel's list)."""

from __future__ import annotations

from typing import Any

from jupyter_server.base.websocket import WebSocketMixin
from tornado.websocket import WebSocketHandler

from ..runner.errors import DebugServerError
from .base import DebugAPIHandler
from .session_ws import CLOSE_INTERNAL, DebugSocket, internal_error


class ServerEventsHandler(DebugSocket, WebSocketMixin, WebSocketHandler, DebugAPIHandler):
    """Stream the server's sessions as JSON text frames (clients only listen).

    First `{"type": "sessions", "sessions": [...]}`, what GET /api/debug/sessions answers;
    then `{"type": "session", "session": <model>}` whenever a session's model changes, in
    order per session. Jupyter users who may `execute` only: a session token, a credential
    for one session, is refused before the upgrade (api/session_auth.py).
    """

    socket_name = "the server's session stream"
    message_name = "events"
    log_name = "the server's session stream"
    query_arguments = {"GET": ()}
    _unwatch: Any = None
    # Models that change while the list is read: sent after it, unless it shows them.
    _pending: list[dict[str, Any]] | None = None

    async def open(self, *args: Any, **kwargs: Any) -> None:
        try:
            await self._start()
        except DebugServerError as exc:  # (the store is busy)
            self.close(CLOSE_INTERNAL, exc.message)
        except Exception as exc:
            internal_error(self, exc)

    async def _start(self) -> None:
        WebSocketMixin.open(self)  # keep-alive pings
        # Watch first, then read the list: no change falls between the two.
        self._pending = []
        self._unwatch = self.manager.watch(self._changed)
        models = await self.manager.list_models(self.base_url)
        # The list was built after every pending change: those of its sessions are in it.
        listed = {model["id"] for model in models}
        pending, self._pending = self._pending, None
        self.send_json({"type": "sessions", "sessions": models})
        for model in pending or ():
            if model["id"] not in listed:  # (created after the store was read)
                self._changed(model)

    def _changed(self, model: dict[str, Any]) -> None:
        if self._pending is not None:
            self._pending.append(model)
        else:
            self.send_json({"type": "session", "session": model})

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen on this socket; anything they send is ignored."""

    def on_close(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        self._pending = None
