"""What one session's WebSockets share: authorize before the upgrade, one origin policy, a
cap on connections per token and per user, redacted logs, close with the token.

The events socket is a `SessionWebSocket`; the DAP tunnel (api/tunnel.py) shares its path
with a REST handler, so it uses the functions here rather than the class.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.utils import origin_matches_pat
from tornado import web
from tornado.websocket import WebSocketHandler

from ..runner.errors import DebugServerError
from ..websocket_read import BatchReadingProtocol
from .base import DebugAPIHandler
from .redaction import (
    log_exception,
    redact_finished_request,
    redact_text,
    request_secrets,
    request_summary,
)
from .session_auth import (
    AUTH_RESOURCE,
    Principal,
    authenticate_token,
    presented_token,
    session_principal,
)

if TYPE_CHECKING:
    from ..runner.manager import SessionManager
    from ..runner.session import Session
    from ..runner.tokens import Grant

# WebSocket close code for "policy violation": the credential is no longer valid.
CLOSE_POLICY = 1008
# RFC 6455 close codes: "invalid frame payload data" and "internal error".
CLOSE_INVALID = 1007
CLOSE_INTERNAL = 1011
MAX_CLOSE_REASON = 120  # RFC 6455 allows 123 bytes
_MAX_LOGGED = 300  # characters of a client's text in one log line


# -- the origin policy -------------------------------------------------------------------

def origin_refusal(handler: JupyterHandler, what: str) -> str | None:
    """Why a browser page of another origin may not open `what` (a sentence), or None.

    Stricter than Jupyter's own WebSocket check, which waives it for token-authenticated
    requests: these sockets show and run code as the user, and a token can leak into a page.
    """
    origin = handler.request.headers.get("Origin")
    if origin is None:
        return None  # not a browser: scripts, the CLI, IDE forwarders
    host = (handler.request.headers.get("Host") or "").lower()
    if urlparse(origin.lower()).netloc == host:
        return None
    allow_origin = handler.settings.get("allow_origin", "")
    pattern = handler.settings.get("allow_origin_pat")
    if allow_origin in ("*", origin) or (pattern and origin_matches_pat(pattern, origin)):
        return None
    return (f"origin {_clip(origin)!r} may not open {what} on this server (allow it with "
            "c.ServerApp.allow_origin)")


# -- connections per token and per user ----------------------------------------------------

class ConnectionLedger:
    """Open session WebSockets (tunnels and event streams) per session token and per user.

    One per server (in the tornado settings); owned by the event loop.
    """

    def __init__(self) -> None:
        self._open: Counter[tuple[str, str]] = Counter()

    def admit(self, key: tuple[str, str], limit: int) -> Callable[[], None]:
        """Count one more connection of `key` ("token"|"user", id), or raise a 429 naming
        the limit; returns the function that uncounts it (call it once)."""
        kind, name = key
        if limit and self._open[key] >= limit:
            trait = f"max_connections_per_{kind}"
            who = f"session token {name}" if kind == "token" else f"user {name!r}"
            raise web.HTTPError(
                429, f"{who} has {self._open[key]} WebSocket connections open to debug "
                f"sessions, the limit (c.DebugServerApp.{trait} = {limit}); close one first",
                reason="too-many-connections")
        self._open[key] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._open[key] -= 1
                if self._open[key] <= 0:
                    del self._open[key]

        return release


def admit_connection(handler: JupyterHandler, principal: Principal) -> Callable[[], None]:
    """Count a session WebSocket about to open against its token's or user's cap (429
    beyond it, before the upgrade); returns what uncounts it when the connection ends."""
    app = handler.settings["debug_app"]
    ledger = handler.settings.setdefault("debug_connection_ledger", ConnectionLedger())
    if principal.token_id is not None:
        return cast(Callable[[], None], ledger.admit(("token", principal.token_id),
                                                     app.max_connections_per_token))
    return cast(Callable[[], None], ledger.admit(("user", user_name(handler)),
                                                 app.max_connections_per_user))


def user_name(handler: JupyterHandler) -> str:
    """The user a Jupyter-authenticated request counts against (as DebugAPIHandler names
    session owners: stable for token clients that keep no cookie)."""
    name = cast(property, DebugAPIHandler.user_name).fget
    assert name is not None
    return str(name(handler))


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…"


# -- logs without secrets: one implementation for REST and sockets (api/redaction.py) ----

def redacted(handler: JupyterHandler, text: str) -> str:
    """`text` (a client's words, an exception's message) fit for a log line: cut short,
    with session secrets, the server's token and this request's credentials hidden."""
    # Cut after hiding: a secret cut in half would not be recognized any more.
    text = redact_text(text, request_secrets(handler))
    return _clip(text, _MAX_LOGGED)


def log_socket_exception(handler: JupyterHandler, typ: type[BaseException] | None,
                         value: BaseException | None, tb: TracebackType | None) -> None:
    """tornado's `log_exception` for our sockets: what the REST handlers log (a redacted
    summary, our code's locations), never tornado's `repr(request)` with its `?token=`."""
    log_exception(handler, value, tb)


def internal_error(handler: JupyterHandler, exc: Exception) -> None:
    """A bug of ours in a socket handler (one of ours: a WebSocketHandler too): log it
    redacted, close the socket with 1011."""
    log_socket_exception(handler, type(exc), exc, exc.__traceback__)
    cast(WebSocketHandler, handler).close(CLOSE_INTERNAL,
                                          "internal error of the server; see its log")


def close_reason(reason: str) -> str:
    """`reason` cut to what a close frame carries (whole UTF-8 characters)."""
    data = reason.encode(errors="backslashreplace")  # (a lone surrogate: escaped)
    return data[:MAX_CLOSE_REASON].decode(errors="ignore")


# -- the events socket's base --------------------------------------------------------------

class SessionWebSocket(WebSocketMixin, WebSocketHandler, JupyterHandler):
    """A WebSocket under /api/debug/sessions/{id}/ (events here; the DAP tunnel uses the
    same functions).

    Before the upgrade: refuse a foreign origin, authenticate (Jupyter, or a token of this
    session in the `Authorization` header or the `token` query argument), authorize the
    `stream` action, look the session up, count the connection against its token's or
    user's cap. A connection opened with a token closes (code 1008) as soon as the token
    is revoked, expires or its session ends. Subclasses implement `open()` and call
    `super().open()` first; `self.principal.read_only` says whether the client may only
    read.
    """

    auth_resource = AUTH_RESOURCE
    accepts_session_tokens = True
    session_grant: Grant | None = None
    session_secret: str | None = None
    principal: Principal
    manager: SessionManager
    debug_session: Session
    #: What the refusal of a foreign origin calls this socket.
    socket_name = "a session's WebSocket"
    #: Largest frame a client may send (clients of the events socket only listen).
    max_client_frame = 64 * 1024
    _unwatch: Callable[[], None] | None = None

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        secret = presented_token(self.request, websocket=True)
        if secret is None:
            await super().prepare(*args, **kwargs)  # Jupyter's authentication
        else:
            await authenticate_token(self, secret)

    @ws_authenticated
    async def get(self, session_id: str, *args: Any, **kwargs: Any) -> None:
        # Nothing here may tell an unauthorized or foreign caller whether the session exists.
        refusal = origin_refusal(self, self.socket_name)
        if refusal is not None:
            raise web.HTTPError(403, refusal, reason="foreign-origin")
        self.principal = await session_principal(self, session_id, "stream")
        self.check_arguments()
        self.manager = await self.settings["debug_app"].ready()
        try:
            self.debug_session = await self.manager.live(session_id)
        except DebugServerError as exc:
            raise web.HTTPError(exc.status, exc.message, reason=exc.reason) from None
        release = admit_connection(self, self.principal)
        try:
            await super().get(session_id, *args, **kwargs)  # returns when the socket ends
        finally:
            release()

    def check_origin(self, origin: str | None = None) -> bool:
        """Ours, checked in `get` already (Jupyter's waives it for tokens)."""
        return origin_refusal(self, self.socket_name) is None

    def check_arguments(self) -> None:
        """Refuse bad query arguments (an HTTPError), after authorization and before the
        session is looked up."""

    def get_websocket_protocol(self) -> Any:
        # Strict RFC 6455 frame checks (masking, close frames, UTF-8) and batched reads.
        return BatchReadingProtocol.replacing(super().get_websocket_protocol())

    @property
    def max_message_size(self) -> int:
        """tornado's hard cap on an incoming message (close 1009 beyond it)."""
        return self.max_client_frame

    def open(self, *args: Any, **kwargs: Any) -> None:
        """Close this connection when the token that opened it dies."""
        if self.principal.token_id is not None:
            self._unwatch = self.manager.tokens.watch(self.principal.token_id,
                                                      self._token_died)

    def _token_died(self, why: str) -> None:
        self.close(CLOSE_POLICY, f"the session token {why}")

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the WebSocket (the reason cut to what a close frame carries)."""
        super().close(code, None if reason is None else close_reason(reason))

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

    def log_exception(self, typ: type[BaseException] | None, value: BaseException | None,
                      tb: TracebackType | None) -> None:
        log_socket_exception(self, typ, value, tb)

    def _request_summary(self) -> str:
        # tornado logs this with every HTTPError message: never with a secret in it.
        return request_summary(self)

    def _log(self) -> None:
        redact_finished_request(self)  # before the access log line (jupyter_server's)
        super()._log()
