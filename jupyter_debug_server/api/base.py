"""What every route shares: the manager, JSON bodies, errors as sentences."""

from __future__ import annotations

import json
import os
import pwd
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..runner.errors import DebugServerError
from .session_auth import AUTH_RESOURCE, authenticate_token, presented_token, redact_uri

if TYPE_CHECKING:
    from ..runner.manager import SessionManager
    from ..runner.tunnels import Grant

__all__ = ["AUTH_RESOURCE", "DebugAPIHandler", "body_int", "body_str", "mapped_errors"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

#: Jupyter's own identity providers know a single principal (whoever holds the server's
#: token or password) and invent a random anonymous user for every token-authenticated
#: request that carries no cookie: their users are all the server's own user.
_SINGLE_USER_PROVIDERS = (IdentityProvider, PasswordIdentityProvider)


def _server_user() -> str:
    """The name of the OS user running the server."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid {os.getuid()}"


def mapped_errors(method: F) -> F:
    """Turn the runner's expected failures into HTTP errors with their sentence."""

    @wraps(method)
    async def wrapper(self: DebugAPIHandler, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except DebugServerError as exc:
            raise web.HTTPError(exc.status, exc.message, reason=exc.reason) from None

    return wrapper  # type: ignore[return-value]


class DebugAPIHandler(APIHandler):
    """Base of the REST handlers: reaches the session manager, parses input."""

    auth_resource = AUTH_RESOURCE
    manager: SessionManager
    #: Whether a session token of the session in the URL authenticates (session routes).
    accepts_session_tokens = False
    #: Set when the request was authenticated by a session token.
    session_grant: Grant | None = None
    session_secret: str | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        """Authenticate (session token or Jupyter); make sure the extension has started."""
        secret = presented_token(self.request, websocket=False)
        if secret is None:
            await super().prepare()
        else:
            await authenticate_token(self, secret)
            if not self.check_origin():  # what APIHandler.prepare checks after auth
                raise web.HTTPError(404)
        self.manager = await self.settings["debug_app"].ready()

    def _request_summary(self) -> str:
        # tornado logs this with every HTTPError message: never with a secret in it.
        return (f"{self.request.method} {redact_uri(self.request.uri or '')} "
                f"({self.request.remote_ip})")

    @property
    def user_name(self) -> str:
        """The authenticated user's name, recorded as a session's owner.

        Stable across requests, so per-user limits hold for clients that authenticate
        with the server's token and keep no cookie (scripts, the CLI).
        """
        if self.session_grant is not None:
            return f"session token {self.session_grant.token_id}"
        if type(self.identity_provider) in _SINGLE_USER_PROVIDERS:
            return _server_user()
        user = self.current_user
        return str(getattr(user, "username", user))

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object, within the configured size limit."""
        limit = int(self.settings.get("debug_max_request_body", 1024 * 1024))
        body = self.request.body or b""
        if len(body) > limit:
            raise web.HTTPError(413, f"the request body has {len(body)} bytes; the limit is "
                                f"{limit} (c.DebugServerApp.max_request_body)",
                                reason="body-too-large")
        if not body.strip():
            return {}
        try:
            value = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise web.HTTPError(400, f"the request body is not valid JSON: {exc}",
                                reason="bad-json") from None
        if not isinstance(value, dict):
            raise web.HTTPError(400, "the request body must be a JSON object, not "
                                f"{type(value).__name__}", reason="bad-json")
        return value

    def int_arg(self, name: str, default: int | None, *, minimum: int = 0,
                maximum: int | None = None) -> int | None:
        """An integer query argument, with a clear error when it is not one."""
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise web.HTTPError(400, f"query argument {name}={raw!r} is not an integer",
                                reason="bad-argument") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise web.HTTPError(400, f"query argument {name}={value} must be {bound}",
                                reason="bad-argument")
        return value

    def write_json(self, value: Any, status: int = 200) -> None:
        """Finish the request with a JSON document."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(value))


def body_int(body: dict[str, Any], name: str) -> int | None:
    """An optional integer field of a JSON body."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise web.HTTPError(400, f"'{name}' must be an integer, not {value!r:.60}",
                            reason="bad-argument")
    return value


def body_str(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    """An optional (or required) string field of a JSON body."""
    value = body.get(name)
    if value is None:
        if required:
            raise web.HTTPError(400, f"the request body needs a string '{name}'",
                                reason="bad-argument")
        return None
    if not isinstance(value, str):
        raise web.HTTPError(400, f"'{name}' must be a string, not {value!r:.60}",
                            reason="bad-argument")
    return value
