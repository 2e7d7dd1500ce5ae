"""WebSocket /api/debug/sessions/{id}/dap: the DAP tunnel, one DAP message per text frame.

The same path answers POST with one raw request (api/control.py); tornado routes a
path to one class, so the tunnel is a mixin of that handler and owns GET.
Each connection is one client of the session's DapMux (dap/mux.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.utils import origin_matches_pat
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..dap import CONTROL, ROLES, FramingError, MuxClient
from ..dap.framing import check_message, from_json, to_json
from ..runner.errors import DebugServerError
from ..websocket_read import BatchReadingProtocol
from ..websocket_write import write_text
from .base import DebugAPIHandler
from .events import _MAX_UNSENT
from .session_auth import authenticate_token, presented_token, session_principal
from .session_ws import CLOSE_POLICY

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..runner.session import Session

# Frames up to this much over c.DebugServerApp.max_dap_message are read and refused with
# an error response naming the limit; larger ones are cut off by tornado (close 1009).
_FRAME_HEADROOM = 1024 * 1024
# A client this many bytes behind is cut off, whatever the message count.
_MIN_UNSENT_BYTES = 32 * 1024 * 1024
_MAX_CLOSE_REASON = 120  # RFC 6455 allows 123 bytes


class DapTunnel(WebSocketMixin, WebSocketHandler, DebugAPIHandler):
    """GET with `Upgrade: websocket`: join the session's DAP multiplexer."""

    debug_session: Session
    accepts_session_tokens = True
    _client: MuxClient | None = None
    _token_id: str | None = None
    _unwatch: Callable[[], None] | None = None
    _max_frame = 64 * 1024 * 1024
    _unsent = 0
    _unsent_bytes = 0

    async def prepare(self) -> None:  # type: ignore[override]
        """A WebSocket gets 403 without credentials, never a login redirect; a session
        token (header or `token` query argument) authenticates it instead of Jupyter."""
        if self.request.method != "GET":
            await DebugAPIHandler.prepare(self)
            return
        secret = presented_token(self.request, websocket=True)
        if secret is None:
            await JupyterHandler.prepare(self, _redirect_to_login=False)
        else:
            await authenticate_token(self, secret)

    @ws_authenticated
    async def get(self, session_id: str, *args: Any, **kwargs: Any) -> None:
        """Authenticate, authorize and check the origin, then find the session and upgrade."""
        # Nothing here may tell an unauthorized or foreign caller whether the session exists.
        refusal = self._origin_refusal()
        if refusal is not None:
            raise web.HTTPError(403, refusal, reason="foreign-origin")
        self.user, self.role = await self._principal(session_id)
        self.manager = await self.settings["debug_app"].ready()
        try:
            self.debug_session = await self.manager.live(session_id)
        except DebugServerError as exc:
            raise web.HTTPError(exc.status, exc.message, reason=exc.reason) from None
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise web.HTTPError(400, "GET on a session's /dap opens a WebSocket (send "
                                "'Upgrade: websocket'); to send one DAP request, POST it",
                                reason="upgrade-required")
        self._max_frame = self.manager.config.max_dap_message
        await WebSocketHandler.get(self, session_id, *args, **kwargs)

    async def _principal(self, session_id: str) -> tuple[str, str]:
        """Who connects, and as `control` or `observe`: (user, role).

        A Jupyter user who passes the authorizer's `execute` check, or the holder of a
        control token of this session, is `control` unless they ask for `?role=observe`;
        an observe token is `observe` whatever it asks.
        """
        principal = await session_principal(self, session_id, "stream")
        role = self.get_query_argument("role", CONTROL)
        if role not in ROLES:
            raise web.HTTPError(400, f"role {role!r} is not one of {', '.join(ROLES)}",
                                reason="bad-argument")
        if principal.read_only:
            role = "observe"
        self._token_id = principal.token_id
        user = self.user_name if principal.token_id is None else principal.user
        return user, role

    def _origin_refusal(self) -> str | None:
        """Why a browser page of another origin may not open the tunnel, or None.

        Stricter than Jupyter's own WebSocket check, which waives it for token-authenticated
        requests: this socket runs code as the user, and a token can leak into a page.
        """
        origin = self.request.headers.get("Origin")
        if origin is None:
            return None  # not a browser: scripts, the CLI, IDE forwarders
        host = (self.request.headers.get("Host") or "").lower()
        if urlparse(origin.lower()).netloc == host:
            return None
        allow_origin = self.settings.get("allow_origin", "")
        pattern = self.settings.get("allow_origin_pat")
        if allow_origin in ("*", origin) or (pattern and origin_matches_pat(pattern, origin)):
            return None
        return (f"origin {origin!r} may not open a DAP tunnel to this server (allow it with "
                "c.ServerApp.allow_origin)")

    def check_origin(self, origin: str | None = None) -> bool:
        """REST requests: Jupyter's rule; the WebSocket: ours (already checked in get)."""
        if self.request.method != "GET":
            return bool(JupyterHandler.check_origin(self))
        return self._origin_refusal() is None

    @property
    def max_message_size(self) -> int:
        """tornado's hard cap on an incoming frame."""
        return self._max_frame + _FRAME_HEADROOM

    # -- the connection ----------------------------------------------------------

    def get_websocket_protocol(self) -> Any:
        # A stepping client's requests are read with one read per arrival.
        return BatchReadingProtocol.replacing(super().get_websocket_protocol())

    def open(self, *args: Any, **kwargs: Any) -> None:
        """Join the multiplexer."""
        super().open(*args, **kwargs)  # keep-alive pings
        self.set_nodelay(True)
        self._client = self.debug_session.connect(
            self._send, self.role, name=f"{self.user}@{self.request.remote_ip}/{self.role}")
        self.log.info("DAP tunnel to session %s opened by %s as %s", self.debug_session.id,
                      self.user, self.role)
        if self._token_id is not None:  # the connection lives only as long as its token
            self._unwatch = self.manager.tokens.watch(
                self._token_id, lambda why: self.close(CLOSE_POLICY, f"the session token {why}"))

    def _send(self, message: dict[str, Any]) -> None:
        """Write one message; cut off a client that does not read (bounded memory)."""
        if self._unsent >= _MAX_UNSENT or self._unsent_bytes >= max(
                _MIN_UNSENT_BYTES, 2 * self._max_frame):
            self._cut_off(1008, f"client too slow: {self._unsent} DAP messages "
                          f"({self._unsent_bytes} bytes) unsent")
            return
        text = to_json(message)
        try:
            future = write_text(self.ws_connection, text)
        except WebSocketClosedError:
            return
        if future is None:
            return  # written already: nothing is waiting for the client
        size = len(text)
        self._unsent += 1
        self._unsent_bytes += size

        def sent(_future: Any) -> None:
            self._unsent -= 1
            self._unsent_bytes -= size

        future.add_done_callback(sent)

    def on_message(self, message: str | bytes) -> None:
        """One frame from the client: one DAP message."""
        if self._client is None or self._client.closed:
            return
        if isinstance(message, bytes):
            self._cut_off(1003, "send each DAP message as one JSON text frame, not binary")
            return
        size = len(message) if message.isascii() else len(message.encode())
        try:
            parsed = from_json(message)
            check_message(parsed)
        except (ValueError, FramingError) as exc:
            self._cut_off(1007, f"frame is not a DAP message: {exc}")
            return
        if size > self._max_frame:
            text = (f"a DAP message of {size} bytes exceeds the limit of {self._max_frame} "
                    "bytes (c.DebugServerApp.max_dap_message)")
            if parsed.get("type") != "request":
                self._cut_off(1009, text)
            else:
                self._client.respond(parsed, success=False, message=text)
            return
        self._client.receive(parsed)

    def _cut_off(self, code: int, reason: str) -> None:
        self.log.warning("Closing DAP tunnel to session %s: %s", self.debug_session.id, reason)
        self.close(code, reason)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Leave the session at once and close the WebSocket (e.g. on token revocation)."""
        self._leave()
        if reason is not None:
            reason = reason.encode()[:_MAX_CLOSE_REASON].decode(errors="ignore")
        super().close(code, reason)

    def _leave(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        if self._client is not None:
            self.debug_session.disconnect(self._client)

    def on_close(self) -> None:
        """The client left; the session carries on."""
        if self._client is not None and not self._client.closed:
            self.log.info("DAP tunnel to session %s closed (%s)", self.debug_session.id,
                          self.close_reason or self.close_code)
        self._leave()
