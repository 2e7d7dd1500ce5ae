"""Expected failures of the runner; each carries its HTTP status (mapped in api/base.py)."""

from __future__ import annotations

import re


class DebugServerError(Exception):
    """An expected failure: `message` is a full sentence safe to show a client."""

    status = 400
    reason = "bad-request"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class LaunchSpecError(DebugServerError):
    """The launch spec is invalid; nothing was started."""

    reason = "bad-launch-spec"


def type_error(name: str, expected: str, value: object, *,
               reason: str | None = None) -> LaunchSpecError:
    """A field of a client's input has the wrong type: the sentence names field and value."""
    return LaunchSpecError(
        f"'{name}' must be {expected}, not {type(value).__name__} {value!r:.80}",
        reason=reason)


class DebuggerUnavailable(DebugServerError):
    """The requested debugger is not installed or not supported here."""

    reason = "debugger-unavailable"


class SessionNotFound(DebugServerError):
    """No session has this id."""

    status = 404
    reason = "no-such-session"


class SessionStateError(DebugServerError):
    """The request does not fit the session's current state (e.g. stepping while running)."""

    status = 409
    reason = "wrong-state"


class LimitExceeded(DebugServerError):
    """A configured limit (sessions per user, sizes) would be exceeded."""

    status = 429
    reason = "limit-exceeded"


class DapError(DebugServerError):
    """The debugger refused a DAP request; the message is the debugger's."""

    status = 422
    reason = "debugger-error"


class TokenRefused(DebugServerError):
    """A session token is unknown, revoked, expired, of another session or out of scope."""

    status = 403
    reason = "token-refused"


class TokenNotFound(DebugServerError):
    """No token of this session has this id."""

    status = 404
    reason = "no-such-token"


class StoreBusy(DebugServerError):
    """The session store stayed locked by another process for longer than busy_timeout."""

    status = 503
    reason = "store-busy"


class DebuggerTimeout(DebugServerError):
    """The debugger did not answer a request within c.DebugServerApp.request_timeout."""

    status = 504
    reason = "debugger-timeout"


_MAX_SENTENCE = 600
_TRACEBACK = "Traceback (most recent call last)"
_CHAINING = ("During handling of the above exception", "The above exception was the direct")
# Lines of a process's error output, as written or as joined into one line (gdb's).
_LINES = re.compile(r"\r?\n| \| ")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_traceback(text: str) -> str:
    """`text` as one line with any Python traceback cut down to its exception line.

    For the `error` field of a session and other client-visible text made from a
    process's error output: the full text goes to the server log, never to a client.
    """
    if _TRACEBACK not in text and 'File "' not in text:
        out = " ".join(line.strip() for line in text.splitlines() if line.strip())
    else:
        kept: list[str] = []
        in_traceback = False
        for raw in _LINES.split(text):
            line = raw.strip()
            if _TRACEBACK in line:
                head = line[:line.index(_TRACEBACK)].strip()
                if head:
                    kept.append(head)
                in_traceback = True
                continue
            if in_traceback and (raw[:1].isspace() or not line):
                continue  # a frame: `  File "…"`, its source line, carets
            in_traceback = False
            if line and not line.startswith((*_CHAINING, 'File "')):
                kept.append(line)
        out = " ".join(kept)
    if not out.isascii():  # stored as UTF-8: a lone surrogate (`\\udc80`) cannot be
        out = _LONE_SURROGATE.sub("\ufffd", out)
    return out if len(out) <= _MAX_SENTENCE else out[:_MAX_SENTENCE - 1] + "…"
