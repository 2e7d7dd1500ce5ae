"""What a handler may write to the server log about a request: never a secret.

tornado's default `log_exception` prints `repr(request)`, whose URI carries a `?token=`
in clear, with a traceback whose messages may quote the body. The debug handlers (REST
and WebSocket) call `log_exception` here instead: method, redacted path, the exception's
type and redacted message, and where in our own code it happened (file, line, function:
code, never data).

A handler wires it with three overrides (DebugAPIHandler in api/base.py does):
`log_exception(self, typ, value, tb)` → `log_exception(self, value, tb)`,
`_request_summary(self)` → `request_summary(self)`, and `_log(self)` →
`redact_finished_request(self)` before tornado's `_log`.
"""

from __future__ import annotations

import re
import traceback
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote_plus

from tornado import httputil, web
from tornado.log import app_log

# A session secret, also with any of its characters percent-encoded (`%6Ads_…`, `jds%5F…`):
# whatever decodes to `jds_…` is hidden, and the tail takes any escape (hiding too much
# of a log line is harmless; too little is not).
_SECRET_IN_URI = re.compile(
    r"(?:j|%6a)(?:d|%64)(?:s|%73)(?:_|%5f)(?:[A-Za-z0-9_\-]|%[0-9a-f]{2})+", re.IGNORECASE)
_SECRET_IN_TEXT = re.compile(r"jds_[A-Za-z0-9_\-]+")
_AUTH_VALUE = re.compile(r"\S+\s+(\S+)")
# Known secrets shorter than this are not searched for: they would hide ordinary words,
# and no credential (Jupyter's or ours) is that short.
_MIN_SECRET = 8
_MAX_MESSAGE = 300
_PACKAGE = str(Path(__file__).resolve().parents[1])


def redact_uri(uri: str, secrets: Iterable[str] = ()) -> str:
    """The URI as a log may show it: secrets hidden, everything else as received.

    Hidden: the value of every query argument whose name, percent-decoded, contains
    "token" in any case (`?t%6Fken=`, `?TOKEN=`); anything that decodes to a session
    secret (`jds_…`) anywhere in the URI; and each of `secrets` (e.g. the server's own
    token) wherever it appears, encoded or not.
    """
    path, sep, query = uri.partition("?")
    parts = []
    for part in query.split("&") if sep else ():
        key, equals, _value = part.partition("=")
        secret = equals and "token" in unquote_plus(key).lower()
        parts.append(f"{key}=[secret]" if secret else part)
    redacted = _SECRET_IN_URI.sub("jds_[secret]", path + sep + "&".join(parts))
    return _hide_known(redacted, secrets, unquote_plus)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` (an error message) with session secrets and each of `secrets` hidden."""
    return _hide_known(_SECRET_IN_TEXT.sub("jds_[secret]", text), secrets, lambda t: t)


def _hide_known(text: str, secrets: Iterable[str], decode: Callable[[str], str]) -> str:
    for secret in secrets:
        if len(secret) < _MIN_SECRET:
            continue
        text = text.replace(secret, "[secret]")
        if secret in decode(text):  # visible only once decoded: hide it all
            return "[a text that contains a secret]"
    return text


def request_secrets(handler: web.RequestHandler) -> list[str]:
    """Every credential this request could carry or the server holds, to hide in logs.

    The server's token, the `Authorization` credential and the values of token-like
    query arguments, whether valid or not (a mistyped token is still mostly a token).
    """
    request: httputil.HTTPServerRequest = handler.request
    found = []
    token = getattr(getattr(handler, "identity_provider", None), "token", None)
    if isinstance(token, str):
        found.append(token)
    match = _AUTH_VALUE.match(request.headers.get("Authorization", ""))
    if match:
        found.append(match.group(1))
    for name, values in request.query_arguments.items():
        if "token" in name.lower():
            found.extend(v.decode(errors="replace") for v in values)
    return found


def request_summary(handler: web.RequestHandler) -> str:
    """`METHOD /redacted/uri (ip)`: what tornado logs with every error of a request."""
    request = handler.request
    uri = redact_uri(request.uri or "", request_secrets(handler))
    return f"{request.method} {uri} ({request.remote_ip})"


def redact_finished_request(handler: web.RequestHandler) -> None:
    """Hide the secrets in a finished request's URI and Referer, for the access log.

    jupyter_server's access log scrubs `?token=` but not `?t%6Fken=`, a `jds_…` elsewhere
    or the credentials in a Referer; the request is over, so its copy can be rewritten.
    Call it from `_log()`, before tornado's.
    """
    request = handler.request
    secrets = request_secrets(handler)
    request.uri = redact_uri(request.uri or "", secrets)
    if "Referer" in request.headers:  # logged with every 4xx and 5xx
        request.headers["Referer"] = redact_uri(request.headers["Referer"], secrets)


def our_frames(tb: TracebackType | None) -> str:
    """Where in this package an exception passed: `file:line in function`, innermost last.

    Only code locations: a frame's locals and an exception's message may hold request
    data, so neither is shown.
    """
    frames = [f"{Path(f.filename).name}:{f.lineno} in {f.name}"
              for f in traceback.extract_tb(tb) if f.filename.startswith(_PACKAGE)]
    return " > ".join(frames) or "none"


def log_exception(handler: web.RequestHandler, value: BaseException | None,
                  tb: TracebackType | None) -> str | None:
    """Log an exception that ended a request, without a secret; return a bug's error id.

    An HTTPError (an expected refusal) is one warning with its sentence; anything else is
    a bug: one error line with an id that the client's 500 answer repeats.
    """
    log: Any = getattr(handler, "log", None) or app_log
    secrets = request_secrets(handler)
    summary = request_summary(handler)
    if isinstance(value, web.HTTPError):
        message = value.log_message
        if message:
            log.warning("%d %s: %s", value.status_code, summary,
                        redact_text(message, secrets)[:_MAX_MESSAGE * 4])
        return None
    error_id = uuid.uuid4().hex[:12]
    # repr: a message's newlines must not forge log lines.
    text = repr(redact_text(str(value), secrets)[:_MAX_MESSAGE])
    log.error("Uncaught exception %s, error id %s: %s: %s (our code: %s)", summary,
              error_id, type(value).__name__, text, our_frames(tb))
    return error_id
