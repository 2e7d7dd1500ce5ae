"""WebSocket /api/debug/sessions/{id}/dap: the DAP tunnel, one DAP message per text frame.

The same path answers POST with one raw request (api/control.py); tornado routes a
path to one class, so the tunnel is a base of that handler and owns GET.
Each connection is one client of the session's DapMux (dap/mux.py).

A message of LARGE_MESSAGE bytes or more arrives as chunks of bytes (websocket/large.py)
and is checked by the manager's helper process (dap/large.py), not parsed on the event
loop; its refusals are the small path's, in the same words.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketHandler

from ..dap import CONTROL, ROLES, FramingError, MuxClient
from ..dap.framing import check_message, from_json, to_json
from ..dap.messages import LARGE_MESSAGE, Message, RawArguments
from ..dap.mux import BadMessage
from ..websocket import NOT_UTF8, LargeMessage
from .base import DebugAPIHandler
from .session_ws import CLOSE_INVALID, SessionSocket, close_reason, internal_error

_NOT_BINARY = "send each DAP message as one JSON text frame, not binary"
# Frames up to this much over c.DebugServerApp.max_dap_message are read and refused with
# an error response naming the limit; larger ones are cut off (close 1009).
_FRAME_HEADROOM = 1024 * 1024


def _utf8(message: dict[str, Any]) -> bytes:
    """`message` as the UTF-8 JSON of one text frame; never raises for a lone surrogate
    (a file name decoded with surrogateescape, a thread name): that is escaped."""
    text = to_json(message)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode()


class DapTunnel(SessionSocket, WebSocketMixin, WebSocketHandler, DebugAPIHandler):
    """GET with `Upgrade: websocket`: join the session's DAP multiplexer."""

    socket_name = "a DAP tunnel"
    message_name = "DAP messages"
    log_name = "DAP tunnel to session"
    _client: MuxClient | None = None
    _max_frame = 64 * 1024 * 1024
    #: Messages this large come to on_large_message (see the module's text).
    large_message_threshold = LARGE_MESSAGE

    async def prepare(self) -> None:  # type: ignore[override]
        """The WebSocket authenticates as SessionSocket says; POST as a REST route."""
        if self.request.method != "GET":
            await DebugAPIHandler.prepare(self)
            return
        await self.authenticate_socket()

    def check_arguments(self) -> None:
        """Who connects, and as `control` or `observe`.

        A Jupyter user who passes the authorizer's `execute` check, or the holder of a
        control token of this session, is `control` unless they ask for `?role=observe`;
        an observe token is `observe` whatever it asks.
        """
        role = self.get_query_argument("role", CONTROL)
        if role not in ROLES:
            raise web.HTTPError(400, f"role {role!r:.60} is not one of {', '.join(ROLES)}",
                                reason="bad-argument")
        principal = self.principal
        self.role = "observe" if principal.read_only else role
        self.user = self.user_name if principal.token_id is None else principal.user

    def check_upgrade(self) -> None:
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise web.HTTPError(400, "GET on a session's /dap opens a WebSocket (send "
                                "'Upgrade: websocket'); to send one DAP request, POST it",
                                reason="upgrade-required")
        self._max_frame = self.manager.config.max_dap_message

    def check_origin(self, origin: str | None = None) -> bool:
        """REST requests: Jupyter's rule; the WebSocket: the sockets' one."""
        if self.request.method != "GET":
            return bool(JupyterHandler.check_origin(self))
        return SessionSocket.check_origin(self, origin)

    @property
    def max_message_size(self) -> int:
        """The largest frame read (see _FRAME_HEADROOM)."""
        return self._max_frame + _FRAME_HEADROOM

    # -- the connection ----------------------------------------------------------

    def open(self, *args: Any, **kwargs: Any) -> None:
        """Join the multiplexer."""
        try:
            self._join()
        except Exception as exc:
            internal_error(self, exc)

    def _join(self) -> None:
        WebSocketMixin.open(self)  # keep-alive pings
        self.set_nodelay(True)
        self._client = self.debug_session.connect(
            self._send, self.role, name=f"{self.user}@{self.request.remote_ip}/{self.role}",
            user=self.user, token_id=self.principal.token_id)
        self.log.info("DAP tunnel to session %s opened by %s as %s", self.debug_session.id,
                      self.user, self.role)
        self.watch_token()  # the connection lives only as long as its token

    def _send(self, message: dict[str, Any]) -> None:
        self.send_bounded(_utf8(message))

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
            self.cut_off(1003, _NOT_BINARY)
            return
        size = len(message) if message.isascii() else len(message.encode())
        try:
            parsed = from_json(message)
            check_message(parsed)
        except (ValueError, FramingError) as exc:
            self.cut_off(CLOSE_INVALID, f"frame is not a DAP message: {exc}")
            return
        except RecursionError:
            self.cut_off(CLOSE_INVALID, "frame is not a DAP message this server reads: its "
                         "JSON is nested too deeply")
            return
        self._admit(parsed, size)

    async def on_large_message(self, message: LargeMessage) -> None:
        """A message of large_message_threshold bytes or more: checked by the helper
        process, forwarded without being parsed here. Nothing raises out of here."""
        if self._client is None or self._client.closed:
            return
        try:
            await self._receive_large(message)
        except Exception as exc:  # a bug of ours, or no helper: logged redacted, 1011
            internal_error(self, exc)

    async def _receive_large(self, message: LargeMessage) -> None:
        if message.binary:
            self.cut_off(1003, _NOT_BINARY)
            return
        found = await self.manager.large_messages.inspect(message.chunks, message.size)
        if self._client is None or self._client.closed:
            return  # gone meanwhile
        if found.not_utf8:
            self.cut_off(CLOSE_INVALID, NOT_UTF8)
        elif found.refused is not None:
            self.cut_off(CLOSE_INVALID, f"frame is not a DAP message: {found.refused}")
        elif found.message is None:
            self.cut_off(CLOSE_INVALID, "frame is not a DAP message this server reads: "
                         f"{found.unreadable}")
        else:
            self._admit(found.message, message.size, found.raw)

    def _admit(self, parsed: Message, size: int, raw: RawArguments | None = None) -> None:
        """A DAP message of `size` bytes for the mux, unless it is over the limit."""
        assert self._client is not None
        if size > self._max_frame:
            text = (f"a DAP message of {size} bytes exceeds the limit of {self._max_frame} "
                    "bytes (c.DebugServerApp.max_dap_message)")
            if parsed.get("type") != "request":
                self.cut_off(1009, text)
            else:
                self._client.respond(parsed, success=False, message=text)
            return
        try:
            if raw is None:
                self._client.receive(parsed)
            else:
                self._client.receive(parsed, raw)
        except BadMessage as exc:
            self.cut_off(CLOSE_INVALID, str(exc))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Leave the session at once and close the WebSocket (e.g. on token revocation)."""
        self._leave()
        super().close(code, None if reason is None else close_reason(reason))

    def _leave(self) -> None:
        self.unwatch_token()
        if self._client is not None:
            self.debug_session.disconnect(self._client)

    def on_close(self) -> None:
        """The client left; the session carries on."""
        if self._client is not None and not self._client.closed:
            self.log.info("DAP tunnel to session %s closed (%s)", self.debug_session.id,
                          self.close_reason or self.close_code)
        self._leave()
