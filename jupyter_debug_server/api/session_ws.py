"""What our WebSockets share: authorize before the upgrade, one origin policy, a cap on
connections per token and per user, redacted logs, one bounded sender: `DebugSocket`, the
base of the server's session stream (api/server_events.py) and of `SessionSocket`, which
adds what one session's sockets share (its token, its lookup) and is the first base of the
session's events socket (api/events.py) and of the DAP tunnel (api/tunnel.py, which
shares its path with a REST handler).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import urlparse

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import origin_matches_pat
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..runner.errors import DebugServerError
from ..websocket import ServerConnection, send_text
from .base import DebugAPIHandler, check_query_arguments
from .redaction import (
    log_exception,
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
    user_principal,
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


# -- the base of every socket of ours ---------------------------------------------------------

#: A client this many messages behind is cut off rather than buffered without bound (its
#: bytes are bounded by c.DebugServerApp.max_client_backlog too).
MAX_UNSENT = 2000


class DebugSocket:
    """What every WebSocket of ours shares, as the first base of each (with
    WebSocketMixin, WebSocketHandler and a JupyterHandler after it).

    Before the upgrade (`get`): authenticate (Jupyter, or a session token where the
    subclass accepts one), refuse a foreign origin (one policy for all sockets:
    `origin_refusal`), authorize (`authorize`), check the query arguments, find what the
    socket is about (`find`), count the connection against its token's or user's cap.
    After it: frames by websocket/ (`ServerConnection`); `send_bounded` cuts off a client
    that stops reading. Subclasses implement `open()`.
    """

    # (for the type checker: what the handler classes after this one provide)
    if TYPE_CHECKING:
        request: Any
        settings: dict[str, Any]
        ws_connection: Any
        log: Any

    auth_resource = AUTH_RESOURCE
    #: Whether a session token of the session in the URL authenticates (session sockets).
    accepts_session_tokens = False
    session_grant: Grant | None = None
    session_secret: str | None = None
    principal: Principal
    manager: SessionManager
    #: What the refusal of a foreign origin calls this socket.
    socket_name = "a WebSocket of the debug server"
    #: What its messages are called when a slow client is cut off, and what the log line
    #: that says so calls the socket ("Closing {log_subject}: why").
    message_name = "messages"
    log_name = "a WebSocket of the debug server"
    #: Largest message a client may send (clients of the event streams only listen).
    max_client_frame = 64 * 1024
    #: The query arguments of the upgrade request (GET), besides `token`: any other is a
    #: 400 naming it, after authorization and before the upgrade.
    query_arguments: ClassVar[dict[str, tuple[str, ...]]] = {}
    _max_backlog = 16 * 1024 * 1024
    _unsent = 0
    _unsent_bytes = 0

    async def authenticate_socket(self) -> None:
        """A WebSocket gets 403 without credentials, never a login redirect; a session
        token (header or `token` query argument) authenticates it instead of Jupyter
        (refused with 403 unless the socket is one of that session's)."""
        secret = presented_token(self.request, websocket=True)
        if secret is None:
            await JupyterHandler.prepare(cast(JupyterHandler, self), _redirect_to_login=False)
        else:
            await authenticate_token(cast(JupyterHandler, self), secret)

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        await self.authenticate_socket()

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Refuse, or upgrade and run the connection (returns when it has ended)."""
        handler = cast(JupyterHandler, self)
        # Nothing here may tell an unauthorized or foreign caller whether a session exists.
        refusal = origin_refusal(handler, self.socket_name)
        if refusal is not None:
            raise web.HTTPError(403, refusal, reason="foreign-origin")
        self.principal = await self.authorize(*args, **kwargs)
        check_query_arguments(handler, self.query_arguments)
        self.check_arguments()
        app = self.settings["debug_app"]
        self.manager = await app.ready()
        await self.find(*args, **kwargs)
        self.check_upgrade()
        self._max_backlog = app.max_client_backlog
        release = admit_connection(handler, self.principal)
        try:
            await WebSocketHandler.get(cast(WebSocketHandler, self), *args, **kwargs)
        finally:
            release()

    async def authorize(self, *args: Any, **kwargs: Any) -> Principal:
        """Who connects, once allowed to open this socket (else an HTTPError); the path's
        arguments come as tornado passes them to `get`."""
        return await user_principal(cast(JupyterHandler, self), "stream")

    def check_arguments(self) -> None:
        """Refuse bad query arguments (an HTTPError), after authorization and before
        `find`."""

    async def find(self, *args: Any, **kwargs: Any) -> None:
        """Look up what the socket is about (an HTTPError if there is no such thing)."""

    def check_upgrade(self) -> None:
        """Refuse (an HTTPError) once `find` has found it, before the upgrade."""

    def check_origin(self, origin: str | None = None) -> bool:
        """Ours, checked in `get` already (Jupyter's waives it for tokens)."""
        return origin_refusal(cast(JupyterHandler, self), self.socket_name) is None

    def get_websocket_protocol(self) -> Any:
        # Frames by `websockets` on a socket taken over from tornado (websocket/).
        return ServerConnection(cast(WebSocketHandler, self))

    @property
    def max_message_size(self) -> int:
        """The largest message a client may send (close 1009 beyond it)."""
        return self.max_client_frame

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the WebSocket (the reason cut to what a close frame carries)."""
        WebSocketHandler.close(cast(WebSocketHandler, self), code,
                               None if reason is None else close_reason(reason))

    # -- sending -------------------------------------------------------------------

    def send_json(self, message: dict[str, Any]) -> None:
        """Send `message` as one ASCII JSON text frame, bounded; nothing once closing."""
        if self.ws_connection is None or self.ws_connection.is_closing():
            return  # (cut off or gone: on_close cleans up)
        # ASCII JSON: a lone surrogate (a file name decoded with surrogateescape, a thread
        # name) is escaped, so the frame always encodes as UTF-8.
        self.send_bounded(json.dumps(message, ensure_ascii=True).encode())

    def send_bounded(self, data: bytes) -> None:
        """Send one text frame (UTF-8 `data`); cut off a client that does not read
        (bounded memory: one message always goes when nothing waits, whatever its size)."""
        if self._unsent >= MAX_UNSENT or self._unsent_bytes >= self._max_backlog:
            self.cut_off(CLOSE_POLICY, f"client too slow: {self._unsent} "
                         f"{self.message_name} ({self._unsent_bytes} bytes) unsent; the "
                         f"limit is {self._max_backlog} bytes "
                         "(c.DebugServerApp.max_client_backlog)")
            return
        try:
            future = send_text(self.ws_connection, data)
        except WebSocketClosedError:
            return
        if future is None:
            return  # written already: nothing is waiting for the client
        size = len(data)
        self._unsent += 1
        self._unsent_bytes += size

        def sent(_future: Any) -> None:
            self._unsent -= 1
            self._unsent_bytes -= size

        future.add_done_callback(sent)

    @property
    def log_subject(self) -> str:
        """What the server's log calls this connection."""
        return self.log_name

    def cut_off(self, code: int, reason: str) -> None:
        """Close with `code`, saying why in the server's log (redacted) and to the client."""
        self.log.warning("Closing %s: %s", self.log_subject,
                         redacted(cast(JupyterHandler, self), reason))
        self.close(code, reason)

    # -- logs ----------------------------------------------------------------------------

    def log_exception(self, typ: type[BaseException] | None, value: BaseException | None,
                      tb: TracebackType | None) -> None:
        """Never tornado's: it logs the request's repr, with `?token=…` in clear."""
        log_socket_exception(cast(JupyterHandler, self), typ, value, tb)

    def _request_summary(self) -> str:
        # tornado logs this with every HTTPError message: never with a secret in it.
        return request_summary(cast(JupyterHandler, self))


# -- the base of both session sockets -------------------------------------------------------

class SessionSocket(DebugSocket):
    """What the events socket and the DAP tunnel of one session share, as the first base
    of each.

    Authentication may be a token of this session in the `Authorization` header or the
    `token` query argument; authorization is the `stream` action on the session, before
    the session is looked up (a 404 or 409 after it). A connection opened with a token
    closes (1008) as soon as the token is revoked, expires or its session ends.
    Subclasses call `watch_token()` in `open()`; `self.principal.read_only` says whether
    the client may only read.
    """

    accepts_session_tokens = True
    debug_session: Session
    socket_name = "a session's WebSocket"
    log_name = "a WebSocket of session"
    _unwatch: Callable[[], None] | None = None

    async def authorize(self, *args: Any, **kwargs: Any) -> Principal:
        """A session token of this session, or a Jupyter user allowed to `execute`."""
        return await session_principal(cast(JupyterHandler, self),
                                       _session_id(args, kwargs), "stream")

    async def find(self, *args: Any, **kwargs: Any) -> None:
        try:
            self.debug_session = await self.manager.live(_session_id(args, kwargs))
        except DebugServerError as exc:
            raise web.HTTPError(exc.status, exc.message, reason=exc.reason) from None

    @property
    def log_subject(self) -> str:
        return f"{self.log_name} {self.debug_session.id}"

    # -- while open --------------------------------------------------------------------

    def watch_token(self) -> None:
        """Close this connection when the token that opened it dies."""
        if self.principal.token_id is not None:
            self._unwatch = self.manager.tokens.watch(self.principal.token_id,
                                                      self._token_died)

    def _token_died(self, why: str) -> None:
        self.close(CLOSE_POLICY, f"the session token {why}")

    def unwatch_token(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None


def _session_id(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The session id of a session socket's path (tornado passes it by name)."""
    return str(kwargs["session_id"] if "session_id" in kwargs else args[0])
