"""The routes of the stop history: /snapshots, /snapshots/{seq}, /watches; the launch
spec's `watches` and `snapshots`; the events socket's `?only=snapshot`; and the server's
switch, c.DebugServerApp.snapshots. Real debugpy sessions on tests/targets/history.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from ..support.jp_server import UNKNOWN_ID, Server, bearer, issue
from ..support.native import marker_line

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("targets")]

HISTORY = "targets/history.py"


def _spec(root: Path, **more: Any) -> dict[str, Any]:
    line = marker_line(root / HISTORY, "HISTORY-LOOP")
    return {"program": HISTORY, "breakpoints": [{"path": HISTORY, "line": line}], **more}


async def _snapshot_count(manager: Any, sid: str, count: int) -> None:
    session = manager.get(sid)
    assert await session.wait_for(lambda: session.snapshots.log.finished >= count, 60)


async def test_put_watches_changes_what_the_next_stop_evaluates(
        api: Any, manager: Any, jp_root_dir: Path, server: Server) -> None:
    status, model = await api("POST", "sessions", _spec(jp_root_dir, watches=["i"]))
    assert status == 201, model
    sid = model["id"]
    assert model["spec"]["watches"] == ["i"] and model["spec"]["snapshots"] is True
    assert model["links"]["snapshots"].endswith(f"/sessions/{sid}/snapshots")
    assert model["links"]["watches"].endswith(f"/sessions/{sid}/watches")
    await _snapshot_count(manager, sid, 1)
    status, watches = await api("PUT", f"sessions/{sid}/watches",
                                {"watches": ["total", "i + 100"]})
    assert status == 200 and watches == {"watches": ["total", "i + 100"], "snapshots": True}
    status, watches = await api("GET", f"sessions/{sid}/watches")
    assert status == 200 and watches["watches"] == ["total", "i + 100"]
    status, model = await api("POST", f"sessions/{sid}/continue", {})
    assert status == 200, model
    await _snapshot_count(manager, sid, 2)
    status, page = await api("GET", f"sessions/{sid}/snapshots")
    assert status == 200, page
    first, second = page["items"]
    assert [w["expression"] for w in first["watches"]] == ["i"]
    assert [(w["expression"], w["value"]) for w in second["watches"]] == [
        ("total", "0"), ("i + 100", "101")]

    # An observe token reads the history and the watches, and cannot change them.
    token = await issue(api, sid, "observe")
    headers = bearer(token["secret"])
    status, got = await server.fetch("GET", f"api/debug/sessions/{sid}/watches", headers)
    assert status == 200 and got["watches"] == ["total", "i + 100"]
    status, got = await server.fetch("GET", f"api/debug/sessions/{sid}/snapshots/2", headers)
    assert status == 200 and got == second
    status, refused = await server.fetch("PUT", f"api/debug/sessions/{sid}/watches", headers,
                                         body=json.dumps({"watches": ["1"]}).encode())
    assert status == 403 and refused["reason"] == "token-refused", refused
    await api("DELETE", f"sessions/{sid}")
    # Ended: the watches are still shown, the history still read.
    status, watches = await api("GET", f"sessions/{sid}/watches")
    assert status == 200 and watches["watches"] == ["total", "i + 100"]
    status, page = await api("GET", f"sessions/{sid}/snapshots")
    assert status == 200 and len(page["items"]) == 2 and page["state"] == "terminated"


@pytest.mark.parametrize(("body", "words"), [
    ({}, "needs 'watches'"),
    ({"watches": "x"}, "'watches' must be a list of expression strings, not str 'x'"),
    ({"watches": ["ok", 3]}, "'watches[1]' must be an expression string, not int 3"),
    ({"watches": ["  "]}, "'watches[0]' is blank"),
    ({"watches": ["x" * 1001]}, "has 1001 characters; a watch may have at most 1000"),
    ({"watches": ["x"] * 33}, "has 33 expressions; a session may watch at most 32"),
    ({"watches": [], "extra": 1}, "unknown field 'extra'"),
])
async def test_bad_watches_are_refused_naming_the_value(
        api: Any, manager: Any, jp_root_dir: Path, body: dict[str, Any], words: str) -> None:
    status, model = await api("POST", "sessions", _spec(jp_root_dir))
    assert status == 201, model
    status, error = await api("PUT", f"sessions/{model['id']}/watches", body)
    assert status == 400 and error["reason"] == "bad-argument", error
    assert words in error["message"], error
    status, watches = await api("GET", f"sessions/{model['id']}/watches")
    assert watches["watches"] == []  # unchanged
    await api("DELETE", f"sessions/{model['id']}")


@pytest.mark.parametrize(("field", "value", "words"), [
    ("watches", "i", "'watches' must be a list of expression strings"),
    ("watches", [None], "'watches[0]' must be an expression string, not NoneType None"),
    ("snapshots", "no", "'snapshots' must be true or false, not str 'no'"),
])
async def test_a_bad_launch_spec_field_is_refused_before_anything_starts(
        api: Any, jp_root_dir: Path, field: str, value: Any, words: str) -> None:
    status, error = await api("POST", "sessions", _spec(jp_root_dir, **{field: value}))
    assert status == 400 and error["reason"] == "bad-launch-spec", error
    assert words in error["message"], error
    status, sessions = await api("GET", "sessions")
    assert sessions == []


async def test_snapshot_routes_refuse_bad_numbers_and_unknown_sessions(
        api: Any, manager: Any, jp_root_dir: Path, jp_ws_fetch: Any) -> None:
    status, error = await api("GET", f"sessions/{UNKNOWN_ID}/snapshots")
    assert status == 404 and error["reason"] == "no-such-session"
    status, error = await api("GET", f"sessions/{UNKNOWN_ID}/snapshots/1")
    assert status == 404 and error["reason"] == "no-such-session"
    status, model = await api("POST", "sessions", _spec(jp_root_dir))
    sid = model["id"]
    status, error = await api("GET", f"sessions/{sid}/snapshots/first")
    assert status == 400 and "'first' is not a snapshot number" in error["message"]
    status, error = await api("GET", f"sessions/{sid}/snapshots", limit=0)
    assert status == 400 and error["reason"] == "bad-argument"
    await _snapshot_count(manager, sid, 1)
    status, error = await api("GET", f"sessions/{sid}/snapshots/2")
    assert status == 404 and error["message"] == (
        f"session {sid} has no snapshot 2; its snapshots are numbered 1 to 1")
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch("api", "debug", "sessions", sid, "events",
                          params={"only": "snapshot,stops"})
    body = json.loads(refused.value.response.body)
    assert refused.value.code == 400 and "'stops' is none of end, state, dap, snapshot" in (
        body["message"])
    await api("DELETE", f"sessions/{sid}")


class TestServerSwitch:
    """c.DebugServerApp.snapshots = False: no session takes any."""

    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict[str, Any]) -> dict[str, Any]:
        jp_server_config["DebugServerApp"]["snapshots"] = False
        return jp_server_config

    async def test_no_session_records_snapshots(
            self, api: Any, manager: Any, jp_root_dir: Path) -> None:
        status, model = await api("POST", "sessions", _spec(jp_root_dir, watches=["i"]))
        assert status == 201, model
        sid = model["id"]
        session = manager.get(sid)
        for _ in range(5):
            assert await session.wait_for(lambda: session.state == "stopped", 60)
            status, model = await api("POST", f"sessions/{sid}/continue", {})
            assert status == 200, model
        assert await session.wait_for(lambda: session.state == "exited", 60)
        status, page = await api("GET", f"sessions/{sid}/snapshots")
        assert status == 200 and page["items"] == [] and page["state"] == "exited"
        assert session.snapshots.log.last_seq == 0
        status, watches = await api("GET", f"sessions/{sid}/watches")
        assert watches == {"watches": ["i"], "snapshots": False}
