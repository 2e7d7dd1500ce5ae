"""Who may act on one session: a session token for it, or Jupyter's identity and authorizer.

A request that presents a credential in the session-token format (`jds_…`) is judged by
that token alone, for that request only: Jupyter's identity provider and authorizer are
not asked, and nothing else (a cookie, Jupyter's token) can rescue a refused token. Any
other request goes through Jupyter's authentication and authorizer exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Literal, TypeVar

from jupyter_core.utils import ensure_async
from jupyter_server.auth import User
from jupyter_server.base.call_context import CallContext
from jupyter_server.base.handlers import JupyterHandler
from tornado import httputil, web

from ..runner.errors import TokenRefused
from ..runner.tokens import Grant, looks_like_token
from .redaction import redact_uri

__all__ = ["AUTH_RESOURCE", "Principal", "authenticate_token", "presented_token",
           "redact_uri", "session_authorized", "session_principal", "user_principal"]

#: The authorizer resource of every route of this extension.
AUTH_RESOURCE = "debug"

#: read: GET routes; execute: anything that changes the session or runs code;
#: stream: open a WebSocket (Jupyter users need `execute`; both token scopes may, and an
#: `observe` token's stream is read-only).
Action = Literal["read", "execute", "stream"]
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

_AUTH_HEADER = re.compile(r"(?:bearer|token)\s+(\S+)\s*$", re.IGNORECASE)
@dataclass(frozen=True)
class Principal:
    """Who is acting on a session: a Jupyter user, or the holder of one of its tokens."""

    role: str  # "user" (Jupyter identity + authorizer), or a token scope: control, observe
    user: str
    token_id: str | None = None

    @property
    def read_only(self) -> bool:
        """Whether this principal may only read (an `observe` token)."""
        return self.role == "observe"


def presented_token(request: httputil.HTTPServerRequest, *, websocket: bool) -> str | None:
    """The session token a request carries, if any (not whether it is valid).

    `Authorization: Bearer jds_…` (or Jupyter's `token` scheme) everywhere; a `token` query
    argument only on WebSockets, since browsers cannot set their headers.
    """
    match = _AUTH_HEADER.match(request.headers.get("Authorization", ""))
    if match and looks_like_token(match.group(1)):
        return match.group(1)
    if websocket:
        for raw in request.query_arguments.get("token", []):
            value = raw.decode(errors="replace")
            if looks_like_token(value):
                return value
    return None


async def authenticate_token(handler: JupyterHandler, secret: str) -> Grant:
    """Authenticate a request by its session token instead of Jupyter's identity provider.

    Called from `prepare()` in place of JupyterHandler.prepare. XSRF is not checked: a
    header or query credential is not sent by browsers on their own, unlike a cookie.
    """
    CallContext.set(CallContext.JUPYTER_HANDLER, handler)
    if not handler.check_host():
        raise web.HTTPError(403)
    session_id = handler.path_kwargs.get("session_id")
    if session_id is None or not getattr(handler, "accepts_session_tokens", False):
        raise web.HTTPError(
            403, "a session token is not accepted on this route: it is valid only on its "
            "own session's routes (model, control, inspection, output, WebSockets); use "
            "Jupyter's authentication here", reason=TokenRefused.reason)
    manager = await handler.settings["debug_app"].ready()
    try:
        grant: Grant = manager.tokens.check(secret, session_id)
    except TokenRefused as exc:
        raise web.HTTPError(exc.status, exc.message, reason=exc.reason) from None
    handler.session_grant = grant  # type: ignore[attr-defined]
    handler.session_secret = secret  # type: ignore[attr-defined]
    user = User(username=f"session-token:{grant.token_id}")
    handler.current_user = handler._jupyter_current_user = user
    handler.set_cors_headers()
    return grant


async def session_principal(handler: JupyterHandler, session_id: str,
                            action: Action) -> Principal:
    """Authorize `action` on one session for this request, before the session is looked up.

    A token request is checked again (it may have been revoked since `prepare`) and
    against its scope; any other request is asked of Jupyter's authorizer on `debug`.
    """
    secret: str | None = getattr(handler, "session_secret", None)
    if secret is not None:
        manager = await handler.settings["debug_app"].ready()
        try:
            grant = manager.tokens.check(secret, session_id)
        except TokenRefused as exc:
            raise web.HTTPError(exc.status, exc.message, reason=exc.reason) from None
        if grant.read_only and action == "execute":
            # (No request path in the message: tornado would double a "%" of base_url.)
            route = handler.request.path.rsplit(f"/{session_id}", 1)[-1]
            raise web.HTTPError(
                403, f"an observe token may only read session {session_id}; "
                f"{handler.request.method} …/{session_id}{route} needs a control token",
                reason=TokenRefused.reason)
        return Principal(grant.scope, f"session-token:{grant.token_id}", grant.token_id)
    return await user_principal(handler, action)


async def user_principal(handler: JupyterHandler, action: Action) -> Principal:
    """Authorize `action` for this request's Jupyter user with Jupyter's authorizer on
    `debug` (`stream` asks for `execute`); never for the holder of a session token."""
    if getattr(handler, "session_secret", None) is not None:
        # (authenticate_token refuses them on routes without a session already)
        raise web.HTTPError(403, "a session token is not accepted on this route; use "
                            "Jupyter's authentication here", reason=TokenRefused.reason)
    user = handler.current_user
    asked = "read" if action == "read" else "execute"
    message = f"User is not authorized to {asked} on resource: {AUTH_RESOURCE}."
    if not user:
        raise web.HTTPError(403, message)
    # An Authorizer may answer with a coroutine (jupyter_server accepts both).
    if not await ensure_async(handler.authorizer.is_authorized(
            handler, user, asked, AUTH_RESOURCE)):
        raise web.HTTPError(403, message)
    return Principal("user", str(getattr(user, "username", user)))


def session_authorized(action: Action) -> Callable[[F], F]:
    """Decorate a method of a session route (first argument `session_id`): authorize it."""

    def decorate(method: F) -> F:
        @wraps(method)
        async def inner(self: JupyterHandler, session_id: str, *args: Any,
                        **kwargs: Any) -> Any:
            await session_principal(self, session_id, action)
            return await method(self, session_id, *args, **kwargs)

        return inner  # type: ignore[return-value]

    return decorate
