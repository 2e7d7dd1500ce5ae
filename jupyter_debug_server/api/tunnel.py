"""WebSocket /api/debug/sessions/{id}/dap: the DAP tunnel, one DAP message per text frame.

The same path answers POST with one raw request (api/control.py); tornado routes a
path to one class, so the tunnel is a mixin of that handler and owns GET.
Each connection is one client of the session's DapMux (dap/mux.py).
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..dap import CONTROL, ROLES, FramingError, MuxClient
from ..dap.framing import check_message, from_json, to_json
from ..dap.mux import BadMessage
from ..runner.errors import DebugServerError
from ..websocket_read import BatchReadingProtocol
from ..websocket_write import write_text
from .base import DebugAPIHandler
from .events import _MAX_UNSENT
from .redaction import request_summary
from .session_auth import Principal, authenticate_token, presented_token, session_principal
from .session_ws import (
    CLOSE_INVALID,
    CLOSE_POLICY,
    admit_connection,
    close_reason,
    internal_error,
    log_socket_exception,
    origin_refusal,
    redacted,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..runner.session import Session

# Frames up to this much over c.DebugServerApp.max_dap_message are read and refused with
# an error response naming the limit; larger ones are cut off by tornado (close 1009).
_FRAME_HEADROOM = 1024 * 1024
_SOCKET_NAME = "a DAP tunnel"


def _utf8(message: dict[str, Any]) -> bytes:
    """`message` as the UTF-8 JSON of one text frame; never raises for a lone surrogate
    (a file name decoded with surrogateescape, a thread name): that is escaped."""
    text = to_json(message)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode()


class DapTunnel(WebSocketMixin, WebSocketHandler, DebugAPIHandler):
    """GET with `Upgrade: websocket`: join the session's DAP multiplexer."""

    debug_session: Session
    accepts_session_tokens = True
    _client: MuxClient | None = None
    _token_id: str | None = None
    _unwatch: Callable[[], None] | None = None
    _max_frame = 64 * 1024 * 1024
    _max_backlog = 16 * 1024 * 1024
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
        refusal = origin_refusal(self, _SOCKET_NAME)
        if refusal is not None:
            raise web.HTTPError(403, refusal, reason="foreign-origin")
        principal = await session_principal(self, session_id, "stream")
        self.user, self.role = self._identity(principal)
        self.manager = await self.settings["debug_app"].ready()
        try:
            self.debug_session = await self.manager.live(session_id)
        except DebugServerError as exc:
            raise web.HTTPError(exc.status, exc.message, reason=exc.reason) from None
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise web.HTTPError(400, "GET on a session's /dap opens a WebSocket (send "
                                "'Upgrade: websocket'); to send one DAP request, POST it",
                                reason="upgrade-required")
        app = self.settings["debug_app"]
        self._max_frame = self.manager.config.max_dap_message
        self._max_backlog = app.max_client_backlog
        release = admit_connection(self, principal)
        try:
            # (returns when the connection has ended)
            await WebSocketHandler.get(self, session_id, *args, **kwargs)
        finally:
            release()

    def _identity(self, principal: Principal) -> tuple[str, str]:
        """Who connects, and as `control` or `observe`: (user, role).

        A Jupyter user who passes the authorizer's `execute` check, or the holder of a
        control token of this session, is `control` unless they ask for `?role=observe`;
        an observe token is `observe` whatever it asks.
        """
        role = self.get_query_argument("role", CONTROL)
        if role not in ROLES:
            raise web.HTTPError(400, f"role {role!r:.60} is not one of {', '.join(ROLES)}",
                                reason="bad-argument")
        if principal.read_only:
            role = "observe"
        self._token_id = principal.token_id
        user = self.user_name if principal.token_id is None else principal.user
        return user, role

    def check_origin(self, origin: str | None = None) -> bool:
        """REST requests: Jupyter's rule; the WebSocket: ours (already checked in get)."""
        if self.request.method != "GET":
            return bool(JupyterHandler.check_origin(self))
        return origin_refusal(self, _SOCKET_NAME) is None

    def log_exception(self, typ: type[BaseException] | None, value: BaseException | None,
                      tb: TracebackType | None) -> None:
        """Never tornado's: it logs the request's repr, with `?token=…` in clear."""
        log_socket_exception(self, typ, value, tb)

    def _request_summary(self) -> str:
        return request_summary(self)

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
        try:
            self._join()
        except Exception as exc:
            internal_error(self, exc)

    def _join(self) -> None:
        super().open()  # keep-alive pings
        self.set_nodelay(True)
        self._client = self.debug_session.connect(
            self._send, self.role, name=f"{self.user}@{self.request.remote_ip}/{self.role}",
            user=self.user, token_id=self._token_id)
        self.log.info("DAP tunnel to session %s opened by %s as %s", self.debug_session.id,
                      self.user, self.role)
        if self._token_id is not None:  # the connection lives only as long as its token
            self._unwatch = self.manager.tokens.watch(
                self._token_id, lambda why: self.close(CLOSE_POLICY, f"the session token {why}"))

    def _send(self, message: dict[str, Any]) -> None:
        """Write one message; cut off a client that does not read (bounded memory: one
        message always goes when nothing waits, whatever its size)."""
        if self._unsent >= _MAX_UNSENT or self._unsent_bytes >= self._max_backlog:
            self._cut_off(CLOSE_POLICY, f"client too slow: {self._unsent} DAP messages "
                          f"({self._unsent_bytes} bytes) unsent; the limit is "
                          f"{self._max_backlog} bytes (c.DebugServerApp.max_client_backlog)")
            return
        data = _utf8(message)
        try:
            future = write_text(self.ws_connection, data)
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

    def on_message(self, message: str | bytes) -> None:
        """One frame from the client: one DAP message. Nothing raises out of here: bad
        input gets an error response or a close with its code, a bug of ours 1011."""
        if self._client is None or self._client.closed:
            return
        try:
            self._receive(message)
        except Exception as exc:  # a bug of ours: logged redacted, the client told 1011
            internal_error(self, exc)

    def _receive(self, message: str | bytes) -> None:
        assert self._client is not None
        if isinstance(message, bytes):
            self._cut_off(1003, "send each DAP message as one JSON text frame, not binary")
            return
        size = len(message) if message.isascii() else len(message.encode())
        try:
            parsed = from_json(message)
            check_message(parsed)
        except (ValueError, FramingError) as exc:
            self._cut_off(CLOSE_INVALID, f"frame is not a DAP message: {exc}")
            return
        except RecursionError:
            self._cut_off(CLOSE_INVALID, "frame is not a DAP message this server reads: its "
                          "JSON is nested too deeply")
            return
        if size > self._max_frame:
            text = (f"a DAP message of {size} bytes exceeds the limit of {self._max_frame} "
                    "bytes (c.DebugServerApp.max_dap_message)")
            if parsed.get("type") != "request":
                self._cut_off(1009, text)
            else:
                self._client.respond(parsed, success=False, message=text)
            return
        try:
            self._client.receive(parsed)
        except BadMessage as exc:
            self._cut_off(CLOSE_INVALID, str(exc))

    def _cut_off(self, code: int, reason: str) -> None:
        self.log.warning("Closing DAP tunnel to session %s: %s", self.debug_session.id,
                         redacted(self, reason))
        self.close(code, reason)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Leave the session at once and close the WebSocket (e.g. on token revocation)."""
        self._leave()
        super().close(code, None if reason is None else close_reason(reason))

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
