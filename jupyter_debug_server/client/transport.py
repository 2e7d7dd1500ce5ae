"""Blocking JSON over HTTP(S) to one Jupyter server, with TCP_NODELAY on our sockets.

Owned by the calling thread; one keep-alive connection is reused across requests (the
magics and MCP issue many small ones) and reopened once if the server closed it.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from typing import Any
from urllib.parse import urlencode, urlsplit

from .errors import DebugServerClientError, ServerNotFound

#: Session tokens (issued by POST …/tokens) start with this; they go as Bearer tokens.
SESSION_TOKEN_PREFIX = "jds_"

# A stale keep-alive connection fails in one of these ways before the server saw anything.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def auth_header(token: str) -> dict[str, str]:
    """The Authorization header for a Jupyter token or a session token (none if empty)."""
    if not token:
        return {}
    scheme = "Bearer" if token.startswith(SESSION_TOKEN_PREFIX) else "token"
    return {"Authorization": f"{scheme} {token}"}


class _NoDelayHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        # Small request/response pairs: Nagle would add delayed-ACK stalls.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _NoDelayHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Transport:
    """Send JSON requests to `url` (scheme, host, port and base_url) with `token`."""

    def __init__(self, url: str, token: str = "", *, timeout: float = 120,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DebugServerClientError(
                None, "bad-url", f"server URL {url!r} is not an http:// or https:// URL")
        self.url = url.rstrip("/")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.base_path = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return _NoDelayHTTPSConnection(self.host, self.port, timeout=self.timeout,
                                           context=self.ssl_context)
        return _NoDelayHTTPConnection(self.host, self.port, timeout=self.timeout)

    def close(self) -> None:
        """Close the kept-alive connection, if any."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def path(self, route: str, query: dict[str, Any] | None = None) -> str:
        """The URL path of `route` (relative to base_url) with the non-None `query` args."""
        args = {k: v for k, v in (query or {}).items() if v is not None}
        return f"{self.base_path}{route}" + (f"?{urlencode(args)}" if args else "")

    def request(self, method: str, route: str, body: Any = None, *,
                query: dict[str, Any] | None = None) -> Any:
        """Send one request; return the decoded JSON answer or raise the server's error."""
        path = self.path(route, query)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", **auth_header(self.token)}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = self._connect()
            try:
                self._conn.request(method, path, body=data, headers=headers)
                response = self._conn.getresponse()
                raw = response.read()
            except _STALE:
                self.close()
                if reused and attempt == 1:
                    continue  # the server had closed the idle connection: open a new one
                raise ServerNotFound(
                    f"the server at {self.url} closed the connection during {method} "
                    f"{route}") from None
            except OSError as exc:
                self.close()
                raise ServerNotFound(f"cannot reach the server at {self.url}: "
                                     f"{exc.strerror or exc}") from None
            if response.will_close:
                self.close()
            return _decode(response.status, response.reason, raw, method, route)
        raise AssertionError("unreachable")


def _decode(status: int, phrase: str, raw: bytes, method: str, route: str) -> Any:
    """The JSON of a 2xx answer; for any other status, the server's error as an exception."""
    try:
        value = json.loads(raw) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        value = None
        if 200 <= status < 300:
            raise DebugServerClientError(
                status, "bad-response",
                f"the server answered {method} {route} with something that is not JSON "
                f"(HTTP {status})") from None
    if 200 <= status < 300:
        return value
    if isinstance(value, dict) and isinstance(value.get("message"), str) and value["message"]:
        reason = value.get("reason")
        raise DebugServerClientError(status, reason if isinstance(reason, str) else None,
                                     value["message"])
    raise DebugServerClientError(status, None,
                                 f"the server answered {method} {route} with HTTP {status} "
                                 f"{phrase}")
