"""WebSocket /api/debug/sessions/{id}/events: state changes, stops, output, exit."""

from __future__ import annotations

import json
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..runner.errors import DebugServerError
from .base import AUTH_RESOURCE

# A client this many messages behind is cut off rather than buffered without bound.
_MAX_UNSENT = 2000


class SessionEventsHandler(WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Stream one session's events as JSON text frames."""

    auth_resource = AUTH_RESOURCE
    _unsubscribe: Any = None
    _unsent = 0

    @ws_authenticated
    async def get(self, session_id: str, *args: Any, **kwargs: Any) -> None:
        # Authorize before the upgrade and before saying whether the session exists.
        # An Authorizer may answer with a coroutine (jupyter_server accepts both).
        if not await ensure_async(self.authorizer.is_authorized(
                self, self.current_user, "execute", AUTH_RESOURCE)):
            raise web.HTTPError(403, "not authorized to open debug event streams")
        manager = await self.settings["debug_app"].ready()
        try:
            self.debug_session = await manager.live(session_id)
        except DebugServerError as exc:
            raise web.HTTPError(exc.status, exc.message, reason=exc.reason) from None
        await super().get(session_id, *args, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A refused upgrade answers JSON like the REST routes, not an HTML page."""
        exc = kwargs.get("exc_info", (None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        reason = getattr(exc, "reason", None) if isinstance(exc, web.HTTPError) else None
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": reason}))

    def open(self, *args: Any, **kwargs: Any) -> None:
        session = self.debug_session
        session.clients += 1
        self._send({"type": "state", "session": session.model(self.base_url)})
        self._unsubscribe = session.subscribe(self._send)

    def _send(self, event: dict[str, Any]) -> None:
        if self._unsent > _MAX_UNSENT:
            self.close(1008, f"client too slow: more than {_MAX_UNSENT} unsent events")
            return
        try:
            future = self.write_message(json.dumps(event))
        except WebSocketClosedError:
            return
        self._unsent += 1
        future.add_done_callback(self._sent)

    def _sent(self, _future: Any) -> None:
        self._unsent -= 1

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen on this socket; anything they send is ignored."""

    def on_close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
            self.debug_session.clients -= 1
