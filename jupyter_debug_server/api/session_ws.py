"""Base of one session's WebSockets: authorize before the upgrade, close with the token."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketHandler

from ..runner.errors import DebugServerError
from .session_auth import (
    AUTH_RESOURCE,
    Principal,
    authenticate_token,
    presented_token,
    redact_uri,
    session_principal,
)

if TYPE_CHECKING:
    from ..runner.manager import SessionManager
    from ..runner.session import Session
    from ..runner.tunnels import Grant

# WebSocket close code for "policy violation": the credential is no longer valid.
CLOSE_POLICY = 1008


class SessionWebSocket(WebSocketMixin, WebSocketHandler, JupyterHandler):
    """A WebSocket under /api/debug/sessions/{id}/ (events here; the DAP tunnel too).

    Before the upgrade: authenticate (Jupyter, or a token of this session in the
    `Authorization` header or the `token` query argument), authorize the `stream` action,
    then look the session up. A connection opened with a token closes (code 1008) as soon
    as the token is revoked, expires or its session ends. Subclasses implement `open()`
    and call `super().open()` first; `self.principal.read_only` says whether the client
    may only read.
    """

    auth_resource = AUTH_RESOURCE
    accepts_session_tokens = True
    session_grant: Grant | None = None
    session_secret: str | None = None
    principal: Principal
    manager: SessionManager
    debug_session: Session
    _unwatch: Callable[[], None] | None = None

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        secret = presented_token(self.request, websocket=True)
        if secret is None:
            await super().prepare(*args, **kwargs)  # Jupyter's authentication
        else:
            await authenticate_token(self, secret)

    @ws_authenticated
    async def get(self, session_id: str, *args: Any, **kwargs: Any) -> None:
        # Authorize before the upgrade and before saying whether the session exists.
        self.principal = await session_principal(self, session_id, "stream")
        self.check_arguments()
        self.manager = await self.settings["debug_app"].ready()
        try:
            self.debug_session = await self.manager.live(session_id)
        except DebugServerError as exc:
            raise web.HTTPError(exc.status, exc.message, reason=exc.reason) from None
        await super().get(session_id, *args, **kwargs)

    def check_arguments(self) -> None:
        """Refuse bad query arguments (an HTTPError), after authorization and before the
        session is looked up."""

    def open(self, *args: Any, **kwargs: Any) -> None:
        """Close this connection when the token that opened it dies."""
        if self.principal.token_id is not None:
            self._unwatch = self.manager.tokens.watch(self.principal.token_id,
                                                      self._token_died)

    def _token_died(self, why: str) -> None:
        self.close(CLOSE_POLICY, f"the session token {why}")

    def on_close(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A refused upgrade answers JSON like the REST routes, not an HTML page."""
        exc = kwargs.get("exc_info", (None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        reason = getattr(exc, "reason", None) if isinstance(exc, web.HTTPError) else None
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": reason}))

    def _request_summary(self) -> str:
        # tornado logs this with every HTTPError message: never with a secret in it.
        return (f"{self.request.method} {redact_uri(self.request.uri or '')} "
                f"({self.request.remote_ip})")
