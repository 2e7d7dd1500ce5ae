"""The log watchdog of tests/conftest.py's traceback gate, for tests that run their own."""

from __future__ import annotations

import logging


class Watchdog(logging.Handler):
    """Collects log records that mean something went wrong unexpectedly."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.bad: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "To access the server" in message:
            return  # jupyter_server prints its URL at CRITICAL level
        if record.exc_info or "Traceback (most recent call last)" in message or (
            record.levelno >= logging.ERROR
        ):
            self.bad.append(f"{record.name} {record.levelname}: {message[:2000]}")
