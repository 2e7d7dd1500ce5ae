"""Expected failures of the runner; each carries its HTTP status (mapped in api/base.py)."""

from __future__ import annotations


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
