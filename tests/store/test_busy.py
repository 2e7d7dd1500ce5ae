"""A store locked by another process for longer than busy_timeout gets a 503 sentence
(reason `store-busy`), never a bare 500, and nothing is started (DESIGN.md §5)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ..support.jp_server import Api

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    # A short busy_timeout: the lock below outlasts it at once.
    jp_server_config["DebugServerApp"]["store_busy_timeout"] = 200
    return jp_server_config


# jupyter_server's access log writes every 5xx answer at ERROR level (with the headers):
# that line is expected here, and it is the only one (the handler logs a WARNING).
@pytest.mark.allow_error_logs
async def test_locked_store_answers_503_sentence(api: Api, targets: Path, manager: Any,
                                                 tmp_path: Path) -> None:
    status, _ = await api("GET", "sessions")  # the extension has opened (and made) the db
    assert status == 200
    conn = sqlite3.connect(tmp_path / "state" / "debug.db", isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        status, body = await api("POST", "sessions", {"program": "targets/waiter.py",
                                                      "stop_on_entry": True})
    finally:
        conn.execute("ROLLBACK")
        conn.close()
    assert status == 503, body
    assert body["reason"] == "store-busy"
    assert "is locked by another process" in body["message"]
    assert "debug.db" in body["message"] and "try again" in body["message"]
    # Nothing of the refused session lingers: the lock gone, a session starts as usual.
    assert not [s for s in manager.sessions.values() if s.active]
    status, body = await api("POST", "sessions", {"program": "targets/waiter.py",
                                                  "stop_on_entry": True})
    assert status == 201, body
    await api("DELETE", f"sessions/{body['id']}")
