"""Shared fixtures: a real jupyter_server with the extension, a log watchdog, the debugger
under test, and WebSocket tunnel clients."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .support.debuggers import DEBUGGERS, require_installed
from .support.jp_server import Api
from .support.watchdog import Watchdog
from .support.ws_dap import Tunnel, TunnelClient

pytest_plugins = ["pytest_jupyter.jupyter_server"]

TARGETS = Path(__file__).parent / "targets"


@pytest.fixture(autouse=True)
def fail_on_traceback(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any test during which something logged a traceback or an ERROR."""
    watchdog = Watchdog()
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


@pytest.fixture(params=DEBUGGERS)
def debugger(request: pytest.FixtureRequest) -> str:
    """The debugger under test: debugpy, gdb or lldb, all installed by scripts/setup.sh test.

    Narrow it with `@pytest.mark.parametrize("debugger", NATIVE, indirect=True)` where a
    scenario is native only; skip a part one debugger lacks with `skip_unless` (both in
    tests/support/debuggers.py)."""
    name = str(request.param)
    require_installed(name)
    return name



@pytest.fixture
def tunnel(jp_ws_fetch: Any) -> Iterator[Tunnel]:
    """Open a client on a session's DAP tunnel: `await tunnel(sid, role=...)`."""
    opened: list[TunnelClient] = []

    async def connect(session_id: str, **params: str) -> TunnelClient:
        conn = await jp_ws_fetch("api", "debug", "sessions", session_id, "dap",
                                 params=params)
        client = TunnelClient(conn)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.conn.close()
