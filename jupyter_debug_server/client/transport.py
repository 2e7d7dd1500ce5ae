"""Blocking JSON over HTTP(S) to one Jupyter server, directly or through an HTTP proxy.

Safe to share between threads: the MCP server runs its tools in worker threads, and the
events coroutines call REST routes from a thread while the caller's own may use the
client too. Each request takes a kept-alive connection from a small pool (or opens one)
and gives it back afterwards, so the magics and MCP, which issue many small requests,
reuse connections; one the server had closed while idle is reopened once.

Small request/response pairs would stall on Nagle's algorithm and delayed ACKs without
TCP_NODELAY: `http.client` sets it on every socket it connects (CPython ≥ 3.6, checked in
3.11's `HTTPConnection.connect`; HTTPS and proxy tunnels connect through it too), and
tests/client/test_transport.py fails if that ever stops being true.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from .errors import DebugServerClientError, ServerNotFound
from .proxy import Proxy, proxy_for

#: Session tokens (issued by POST …/tokens) start with this; they go as Bearer tokens.
SESSION_TOKEN_PREFIX = "jds_"

# A stale keep-alive connection fails in one of these ways before the server saw anything.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)

#: Idle connections kept for reuse. One caller needs one; MCP's worker threads a few at
#: once (an agent rarely has more than a handful of tool calls in flight).
MAX_IDLE = 4


def quote_segment(text: str) -> str:
    """`text` as one segment of a URL path (a session or token id): `/` and `%` escaped."""
    return quote(text, safe="")


def session_route(session_id: str, tail: str = "") -> str:
    """The route of one session (under base_url), plus `tail` (`/events`, `/dap`, …)."""
    return f"/api/debug/sessions/{quote_segment(session_id)}{tail}"


def auth_header(token: str) -> dict[str, str]:
    """The Authorization header for a Jupyter token or a session token (none if empty)."""
    if not token:
        return {}
    scheme = "Bearer" if token.startswith(SESSION_TOKEN_PREFIX) else "token"
    return {"Authorization": f"{scheme} {token}"}


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
        # Idle kept-alive connections, newest last; a request in flight holds its own.
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._proxy: Proxy | None = None  # that of the latest connection

    @property
    def idle_connections(self) -> tuple[http.client.HTTPConnection, ...]:
        """The kept-alive connections no request is using now (oldest first)."""
        with self._lock:
            return tuple(self._idle)

    def _take(self) -> http.client.HTTPConnection | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def _connect(self) -> http.client.HTTPConnection:
        """A new connection to the server, or to the proxy that tunnels to it (HTTP
        CONNECT; TLS to the server inside the tunnel, checked against its own name)."""
        port = self.port or (443 if self.scheme == "https" else 80)
        proxy = self._proxy = proxy_for(self.scheme, self.host, port)
        host, port = (proxy.host, proxy.port) if proxy is not None else (self.host, port)
        conn: http.client.HTTPConnection
        if self.scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout,
                                               context=self.ssl_context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        if proxy is not None:
            conn.set_tunnel(self.host, self.port, headers=proxy.headers)
        return conn

    def _via(self) -> str:
        """How the server was reached, for messages: through which proxy, if any."""
        if self._proxy is None:
            return ""
        return (f" through the proxy {self._proxy.address} (set NO_PROXY="
                f"{self.host} to connect directly)")

    def close(self) -> None:
        """Close the idle kept-alive connections (one in use closes when its request ends
        with an error, or is kept for the next request)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

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
            conn = self._take()
            reused = conn is not None
            if conn is None:
                conn = self._connect()
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except _STALE:
                conn.close()
                if reused and attempt == 1:
                    continue  # the server had closed the idle connection: open a new one
                raise ServerNotFound(
                    f"the server at {self.url} closed the connection during {method} "
                    f"{route}") from None
            except OSError as exc:
                conn.close()
                raise ServerNotFound(f"cannot reach the server at {self.url}{self._via()}: "
                                     f"{exc.strerror or exc}") from None
            except BaseException:
                # Interrupted mid-answer (KeyboardInterrupt in a kernel, a bug): the
                # connection is in an unknown state and must not be reused.
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                self._give_back(conn)
            return decode_response(response.status, response.reason, raw, method, route)
        raise AssertionError("unreachable")


def decode_response(status: int, phrase: str, raw: bytes, method: str, route: str) -> Any:
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
