"""What the tests of the in-process server (pytest-jupyter's) share: requests built by
hand (jp_fetch always adds Jupyter's token), an Authorizer that denies `execute`, and the
session and session-token helpers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from jupyter_server.auth import Authorizer
from jupyter_server.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

LOOP = "targets/loop.py"
UNKNOWN_ID = "0123456789ab"

# tests/conftest.py's `api` fixture: `await api("POST", "sessions", body)` -> (status, JSON).
Api = Callable[..., Awaitable[tuple[int, Any]]]

# Bodies that would do real work if a request got through.
BODIES: dict[str, Any] = {
    "sessions": {"program": LOOP, "stop_on_entry": True},
    "dap": {"command": "threads"},
    "step": {"kind": "over"},
    "evaluate": {"expression": "__import__('os').getpid()"},
    "breakpoints": {"path": LOOP, "breakpoints": [{"line": 13}]},
    "tokens": {"ttl": 60, "scope": "control"},
}


def request_body(path: str, method: str) -> bytes | None:
    """The body a hand-built request to `path` sends: one that would do real work."""
    if method in ("GET", "DELETE"):
        return None
    return json.dumps(BODIES.get(path.rsplit("/", 1)[-1], {})).encode()


class Server:
    """Hand-built requests against the test server."""

    def __init__(self, port: int, base_url: str, token: str) -> None:
        self.port = port
        self.base_url = base_url
        self.token = token
        self.token_header = {"Authorization": f"token {token}"}

    def url(self, path: str, scheme: str = "http", query: str = "") -> str:
        full = url_path_join(self.base_url, path)
        return f"{scheme}://127.0.0.1:{self.port}{full}" + (f"?{query}" if query else "")

    async def fetch(self, method: str, path: str, headers: dict[str, str] | None = None,
                    query: str = "", body: bytes | None = None) -> tuple[int, Any]:
        if body is None and method in ("POST", "PUT"):
            body = request_body(path, method)
        request = HTTPRequest(self.url(path, query=query), method=method, body=body,
                              headers=headers or {}, request_timeout=30,
                              follow_redirects=False)
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        text = response.body.decode(errors="replace") if response.body else ""
        try:
            return response.code, json.loads(text) if text else None
        except json.JSONDecodeError:
            return response.code, text

    def ws(self, path: str, headers: dict[str, str] | None = None,
           query: str = "") -> Awaitable[WebSocketClientConnection]:
        request = HTTPRequest(self.url(path, "ws", query), headers=headers or {},
                              request_timeout=30)
        return websocket_connect(request)


class DenyDebugExecute(Authorizer):
    """Allows everything except the "execute" action on the "debug" resource."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[str, str, str]] = []

    def decide(self, handler: Any, action: str, resource: str) -> bool:
        self.calls.append((handler.request.method, action, resource))
        return not (action == "execute" and resource == "debug")

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return self.decide(handler, action, resource)


class AsyncDenyDebugExecute(DenyDebugExecute):
    """The same decisions from a coroutine (jupyter_server allows awaitable answers)."""

    async def is_authorized(  # type: ignore[override]
            self, handler: Any, user: Any, action: str, resource: str) -> bool:
        await asyncio.sleep(0)
        return self.decide(handler, action, resource)


def bearer(secret: str) -> dict[str, str]:
    """The Authorization header of a session token."""
    return {"Authorization": f"Bearer {secret}"}


async def launch_stopped(api: Any, manager: Any, **spec: Any) -> str:
    """Launch targets/loop.py stopped on entry (or as `spec` says: it must stop); its
    session id, once stopped."""
    status, model = await api("POST", "sessions",
                              {"program": LOOP, **(spec or {"stop_on_entry": True})})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 30), session.error
    return str(model["id"])


async def issue(api: Any, sid: str, scope: str = "control", **body: Any) -> dict[str, Any]:
    """Issue a session token through the REST API."""
    status, token = await api("POST", f"sessions/{sid}/tokens", {"scope": scope, **body})
    assert status == 201, token
    return dict(token)
