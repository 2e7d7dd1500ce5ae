"""What every route shares: the manager, JSON bodies, errors as sentences."""

from __future__ import annotations

import json
import os
import pwd
from collections.abc import Awaitable, Callable
from functools import wraps
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..runner.errors import DebugServerError
from . import redaction
from .request_body import BodyBuffer, parse_json_object, too_large
from .session_auth import AUTH_RESOURCE, authenticate_token, presented_token

if TYPE_CHECKING:
    from ..runner.manager import SessionManager
    from ..runner.tokens import Grant

__all__ = ["ALWAYS_ACCEPTED", "AUTH_RESOURCE", "DebugAPIHandler", "body_int", "body_str",
           "check_query_arguments", "mapped_errors"]

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


#: Query arguments every route takes besides its own: Jupyter's authentication reads
#: `token`, tornado's XSRF check `_xsrf`.
ALWAYS_ACCEPTED = frozenset({"token", "_xsrf"})


def check_query_arguments(handler: web.RequestHandler,
                          accepted: dict[str, tuple[str, ...]]) -> None:
    """Refuse (400 `unknown-argument`) a query argument the route does not take for this
    request's method, naming it and the ones it takes.

    `accepted` is the handler's `query_arguments` (HTTP method → names). Called after
    authentication only: an unauthenticated caller learns nothing about a route. A CORS
    preflight (OPTIONS, anonymous) carries the real request's query and is not checked.
    """
    method = handler.request.method or ""
    if method == "OPTIONS":
        return
    names = accepted.get(method, ())
    unknown = sorted(set(handler.request.query_arguments) - ALWAYS_ACCEPTED - set(names))
    if not unknown:
        return
    shown = ", ".join(repr(_clip(name, 60)) for name in unknown[:5])
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    plural = "s" if len(unknown) > 1 else ""
    takes = (f"it takes {', '.join(sorted(names))} (and token)" if names
             else "it takes none but token")
    raise web.HTTPError(400, f"unknown query argument{plural} {shown}{more} for {method} "
                        f"{_clip(handler.request.path, 200)}; {takes}",
                        reason="unknown-argument")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…"


def mapped_errors(method: F) -> F:
    """Turn the runner's expected failures into HTTP errors with their sentence."""

    @wraps(method)
    async def wrapper(self: DebugAPIHandler, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except DebugServerError as exc:
            raise web.HTTPError(exc.status, exc.message, reason=exc.reason) from None

    return wrapper  # type: ignore[return-value]


@web.stream_request_body
class DebugAPIHandler(APIHandler):
    """Base of the REST handlers: reaches the session manager, parses input.

    The body is streamed (`data_received`): `prepare` authenticates and checks the
    announced length before a byte of it is read, and no more than
    c.DebugServerApp.max_request_body is ever kept. No exception leaves a handler for
    tornado's default logging: `log_exception` and `write_error` say what happened
    without a secret or a traceback.
    """

    auth_resource = AUTH_RESOURCE
    manager: SessionManager
    #: The query arguments each HTTP method of the route takes (besides ALWAYS_ACCEPTED);
    #: any other is a 400 naming it (checked in `prepare`, after authentication).
    query_arguments: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Whether a session token of the session in the URL authenticates (session routes).
    accepts_session_tokens = False
    #: Set when the request was authenticated by a session token.
    session_grant: Grant | None = None
    session_secret: str | None = None
    _body: BodyBuffer | None = None
    _error_id: str | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        """Authenticate (session token or Jupyter) and check the announced body size,
        both before the body is read; make sure the extension has started."""
        secret = presented_token(self.request, websocket=False)
        if secret is None:
            await super().prepare()
        else:
            await authenticate_token(self, secret)
            if not self.check_origin():  # what APIHandler.prepare checks after auth
                raise web.HTTPError(404)
        if not self.current_user and not self._allows_anonymous():
            # Every route needs a user (@web.authenticated): say so before the body,
            # even where Jupyter allows unauthenticated access to other handlers.
            raise web.HTTPError(403)
        check_query_arguments(self, self.query_arguments)
        limit = int(self.settings.get("debug_max_request_body", 1024 * 1024))
        announced = _content_length(self.request.headers.get("Content-Length"))
        if announced is not None and announced > limit:
            raise too_large(limit, announced)
        self._body = BodyBuffer(limit)
        self.manager = await self.settings["debug_app"].ready()

    def _allows_anonymous(self) -> bool:
        """Whether this request's method is marked so (APIHandler's CORS preflight)."""
        method = getattr(self, (self.request.method or "").lower(), None)
        return bool(getattr(method, "__allow_unauthenticated", False))

    def data_received(self, chunk: bytes) -> None:
        """Keep a chunk of the body; past the limit, answer 413 at once (never raises)."""
        if self._body is None:
            return  # refused already: tornado closes the connection after the answer
        self._body.add(chunk)
        if self._body.over_limit:
            # A body of unannounced length (chunked, or compressed) grew past the limit:
            # answer now; tornado closes the connection once the 413 is sent.
            refusal = too_large(self._body.limit, None)
            self._body = None
            self.send_error(413, exc_info=(web.HTTPError, refusal, None))

    def _request_summary(self) -> str:
        # tornado logs this with every HTTPError message: never with a secret in it.
        return redaction.request_summary(self)

    def log_exception(self, typ: type[BaseException] | None, value: BaseException | None,
                      tb: TracebackType | None) -> None:
        """Log a refusal or a bug as one redacted line, never the request's repr."""
        self._error_id = redaction.log_exception(self, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """An error as `{"message", "reason"}`: the refusal's sentence, or for a bug a
        generic one with the id of its log line (never a traceback or a request value)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError):
            message, reason = exc.log_message or self._reason, exc.reason
        elif exc is not None or status_code >= 500:
            message = ("the server failed to handle this request (an internal error; the "
                       "server log has error id "
                       f"{self._error_id or 'unknown'}): please report it")
            reason = "internal-error"
        else:
            message, reason = self._reason, None
        if self._body is None:
            # Refused before the request was read to its end (in `prepare`, or a WebSocket
            # upgrade): tornado drops the connection after this answer, with or without a
            # body, so tell a keep-alive client not to send on it again. A proxy that pools
            # connections (JupyterHub's configurable-http-proxy) otherwise sends the next
            # request, another user's too, into the dropped one and answers it 503.
            self.set_header("Connection", "close")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": reason}))

    def _log(self) -> None:
        redaction.redact_finished_request(self)  # before the access log line
        super()._log()

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
        if self._body is None:
            return {}
        if self._body.over_limit:
            raise too_large(self._body.limit, self._body.size)
        return parse_json_object(self._body.data())

    def int_arg(self, name: str, default: int | None, *, minimum: int = 0,
                maximum: int | None = None) -> int | None:
        """An integer query argument, with a clear error when it is not one."""
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            shown = repr(raw) if len(raw) <= 40 else f"{raw[:40]!r}… ({len(raw)} chars)"
            raise web.HTTPError(400, f"query argument {name}={shown} is not an integer",
                                reason="bad-argument") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise web.HTTPError(400, f"query argument {name}={value} must be {bound}",
                                reason="bad-argument")
        return value

    async def write_page(self, session_id: str,
                         read: Callable[[str, int, int], Awaitable[dict[str, Any]]], *,
                         limit: int, most: int) -> None:
        """Answer a page of a session's log (`read(session_id, since, limit)`: its
        output or its snapshots) from `?since=&limit=` (default `limit`, at most
        `most`), with the session's state."""
        page = await read(session_id, self.int_arg("since", 0) or 0,
                          self.int_arg("limit", limit, minimum=1, maximum=most) or limit)
        model = await self.manager.model(session_id, self.base_url)
        self.write_json(page | {"state": model["state"]})

    def write_json(self, value: Any, status: int = 200) -> None:
        """Finish the request with a JSON document."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(value))


def _content_length(value: str | None) -> int | None:
    """The announced body length, or None (absent or malformed: tornado refuses those)."""
    if value is None:
        return None
    first = value.split(",")[0].strip()
    return int(first) if first.isdigit() and len(first) < 20 else None


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
