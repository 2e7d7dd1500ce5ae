"""Shared fixtures: a real jupyter_server with the extension, and a log watchdog."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]

TARGETS = Path(__file__).parent / "targets"


class _Watchdog(logging.Handler):
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


@pytest.fixture(autouse=True)
def fail_on_traceback(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any test during which something logged a traceback or an ERROR."""
    watchdog = _Watchdog()
    loggers = [logging.getLogger(), logging.getLogger("ServerApp"),
               logging.getLogger("tornado.application")]
    for lg in loggers:
        lg.addHandler(watchdog)
    yield
    for lg in loggers:
        lg.removeHandler(watchdog)
    if watchdog.bad and not request.node.get_closest_marker("allow_error_logs"):
        pytest.fail("unexpected error log:\n" + "\n".join(watchdog.bad))


@pytest.fixture
def jp_server_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_debug_server": True,
                                    "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
        "DebugServerApp": {
            "db_path": str(tmp_path / "state" / "debug.db"),
            "shutdown_timeout": 3.0,
        },
    }


@pytest.fixture
def targets(jp_root_dir: Path) -> Path:
    """The test target programs, copied into the server's root_dir."""
    dest = jp_root_dir / "targets"
    shutil.copytree(TARGETS, dest)
    return dest


Api = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
def api(jp_fetch: Any) -> Api:
    """Call a route of ours: `await api("POST", "sessions", body)` → (status, JSON)."""

    async def call(method: str, path: str, body: Any = None, **params: Any) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if body is not None or method in ("POST", "PUT"):
            kwargs["body"] = json.dumps(body if body is not None else {})
        if params:
            kwargs["params"] = {k: str(v) for k, v in params.items()}
        response = await jp_fetch("api", "debug", *path.split("/"), **kwargs)
        text = response.body.decode() if response.body else ""
        return response.code, json.loads(text) if text else None

    return call


class _LazyManager:
    """The extension's SessionManager, available once any route has been called."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app.manager, name)


@pytest.fixture
def manager(jp_serverapp: Any) -> Any:
    """The running extension's SessionManager (after the first API call)."""
    return _LazyManager(jp_serverapp.web_app.settings["debug_app"])
