"""What the client raises: the server's refusals, and failures to reach a server."""

from __future__ import annotations


class DebugServerClientError(Exception):
    """The server refused a request: its 4xx/5xx status, reason code and sentence."""

    def __init__(self, status: int | None, reason: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message


class ServerNotFound(DebugServerClientError):
    """No server could be found or reached; the message says what was tried."""

    def __init__(self, message: str) -> None:
        super().__init__(None, "no-server", message)
