"""The stop history on every debugger: a snapshot of each stop (location, frames, the top
frame's variables with one level of children, watches), bounded, streamed on the events
WebSocket in order, kept after the end; off per session and per server."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..support.native import marker_line

pytestmark = pytest.mark.timeout(180)


@dataclass(frozen=True)
class History:
    """The stop history's program for one debugger (tests/targets/history.py, history.c)."""

    debugger: str
    program: str  # relative to root_dir
    source: str  # relative to root_dir
    loop_line: int
    big_line: int
    struct: str  # a local with members: the dict, or the struct
    members: frozenset[str]  # some of its children's names

    def spec(self, *lines: int, **more: Any) -> dict[str, Any]:
        """A launch spec with breakpoints on `lines` (default: the loop's)."""
        return {"debugger": self.debugger, "program": self.program, **more,
                "breakpoints": [{"path": self.source, "line": n}
                                for n in (lines or (self.loop_line,))]}


@pytest.fixture
def history(debugger: str, jp_root_dir: Path, request: pytest.FixtureRequest) -> History:
    if debugger == "debugpy":
        request.getfixturevalue("targets")
        source = "targets/history.py"
        program, struct, members = source, "data", frozenset({"'name'", "'coords'"})
    else:
        request.getfixturevalue("native")
        source, program = "native/history.c", "native/history"
        struct, members = "p", frozenset({"x", "y", "label", "detail"})
    path = jp_root_dir / source
    return History(debugger, program, source, marker_line(path, "HISTORY-LOOP"),
                   marker_line(path, "BIG-STOP"), struct, members)


async def _snapshots(manager: Any, sid: str, count: int) -> None:
    """Wait until `count` snapshots of the session are finished."""
    session = manager.get(sid)
    log = session.snapshots.log
    assert await session.wait_for(lambda: log.finished >= count, 90), (
        log.finished, session.state, session.error)


async def _until(manager: Any, sid: str, *states: str) -> None:
    session = manager.get(sid)
    assert await session.wait_for(lambda: session.state in states, 90), (
        session.state, session.error)


def _locals(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    scope = next(s for s in snapshot["variables"] if s["scope"] == "Locals")
    return {v["name"]: v for v in scope["variables"]}


async def test_five_stops_leave_five_snapshots_with_the_loop_variable_and_watches(
        api: Any, manager: Any, history: History) -> None:
    status, model = await api("POST", "sessions", history.spec(
        watches=["i * 10", "no_such_name"]))
    assert status == 201, model
    sid = model["id"]
    for count in range(1, 6):
        await _snapshots(manager, sid, count)
        status, model = await api("POST", f"sessions/{sid}/continue", {})
        assert status == 200, model
    await _until(manager, sid, "exited")

    status, page = await api("GET", f"sessions/{sid}/snapshots")
    assert status == 200 and page["state"] == "exited", page
    snapshots = page["items"]
    assert [s["seq"] for s in snapshots] == [1, 2, 3, 4, 5] and page["next"] == 5
    assert page["truncated"] is False
    for n, snapshot in enumerate(snapshots):
        assert snapshot["complete"] is True and snapshot["truncated"] is False, snapshot
        assert snapshot["reason"] == "breakpoint" and snapshot["thread_id"] is not None
        top = snapshot["frames"][0]
        assert top["function"] == "main" and top["line"] == history.loop_line, top
        assert top["path"].endswith(history.source)
        assert _locals(snapshot)["i"]["value"] == str(n)
        watch, failing = snapshot["watches"]
        assert watch == {"expression": "i * 10", "value": str(n * 10), "type": "int"}, watch
        # A failing watch records the debugger's sentence; the snapshot is still complete.
        assert failing["expression"] == "no_such_name" and "value" not in failing
        assert "no_such_name" in failing["error"], failing
        assert "\n" not in failing["error"]

    # One level of children: the dict's or struct's members, theirs only flagged.
    struct = _locals(snapshots[0])[history.struct]
    assert struct["has_children"] is True
    names = {c["name"] for c in struct["children"]}
    assert history.members <= names, struct
    assert all("children" not in c for c in struct["children"])
    nested = next(c for c in struct["children"] if c["name"] in ("'coords'", "detail"))
    assert nested["has_children"] is True

    status, third = await api("GET", f"sessions/{sid}/snapshots/3")
    assert status == 200 and third == snapshots[2]
    status, paged = await api("GET", f"sessions/{sid}/snapshots", since=2, limit=2)
    assert status == 200 and [s["seq"] for s in paged["items"]] == [3, 4]
    assert paged["next"] == 4
    status, missing = await api("GET", f"sessions/{sid}/snapshots/9")
    assert status == 404 and missing["reason"] == "no-such-snapshot"
    assert "no snapshot 9" in missing["message"] and "1 to 5" in missing["message"]


async def test_events_carry_each_snapshot_after_its_stop_in_order(
        api: Any, manager: Any, history: History, jp_ws_fetch: Any) -> None:
    status, model = await api("POST", "sessions", history.spec(stop_on_entry=True))
    assert status == 201 and model["state"] == "stopped", model
    sid = model["id"]
    conn = await jp_ws_fetch("api", "debug", "sessions", sid, "events")
    frames: list[dict[str, Any]] = []
    seen: list[int] = []
    stop_lines: list[int] = []
    status, model = await api("POST", f"sessions/{sid}/continue", {})
    assert status == 200, model
    while True:
        raw = await asyncio.wait_for(conn.read_message(), 60)
        assert raw is not None, "the events socket closed early"
        frame = json.loads(raw)
        frames.append(frame)
        if frame["type"] == "snapshot":
            snapshot = frame["snapshot"]
            seen.append(snapshot["seq"])
            # Its stop's state message came before it, with the same location.
            stops = [f for f in frames if f["type"] == "state"
                     and f["session"]["state"] == "stopped"]
            assert stops, frames
            where = stops[-1]["session"]["stopped"]
            if snapshot["frames"]:
                assert where["line"] == snapshot["frames"][0]["line"], (where, snapshot)
            if snapshot["reason"] == "breakpoint":
                stop_lines.append(snapshot["frames"][0]["line"])
                if len(stop_lines) == 2:
                    break
                status, model = await api("POST", f"sessions/{sid}/continue", {})
                assert status == 200, model
    conn.close()
    assert seen == sorted(seen) and len(set(seen)) == len(seen), seen
    assert seen[-1] == seen[0] + len(seen) - 1  # none missing in between
    assert stop_lines == [history.loop_line] * 2


async def test_only_snapshot_filter_streams_snapshots_and_the_end(
        api: Any, manager: Any, history: History, jp_ws_fetch: Any) -> None:
    status, model = await api("POST", "sessions", history.spec(stop_on_entry=True))
    assert status == 201 and model["state"] == "stopped", model
    sid = model["id"]
    conn = await jp_ws_fetch("api", "debug", "sessions", sid, "events",
                             params={"only": "snapshot"})
    first = json.loads(await asyncio.wait_for(conn.read_message(), 30))
    assert first["type"] == "state"
    status, bps = await api("PUT", f"sessions/{sid}/breakpoints",
                            {"path": history.source, "breakpoints": []})
    assert status == 200, bps
    status, model = await api("POST", f"sessions/{sid}/continue", {})
    assert status == 200, model
    types = []
    while True:
        raw = await asyncio.wait_for(conn.read_message(), 60)
        assert raw is not None
        frame = json.loads(raw)
        types.append(frame["type"])
        if frame["type"] == "state":
            assert frame["session"]["state"] in ("exited", "terminated"), frame
            break
    conn.close()
    assert set(types[:-1]) <= {"snapshot"}, types


async def test_a_large_list_and_string_leave_a_bounded_snapshot(
        api: Any, manager: Any, history: History) -> None:
    status, model = await api("POST", "sessions", history.spec(history.big_line))
    assert status == 201, model
    sid = model["id"]
    await _snapshots(manager, sid, 1)
    status, snapshot = await api("GET", f"sessions/{sid}/snapshots/1")
    assert status == 200, snapshot
    assert snapshot["complete"] is True and snapshot["truncated"] is True, snapshot
    size = len(json.dumps(snapshot))
    config = manager.config
    assert size <= config.snapshot_max_chars + 4096, size
    numbers = _locals(snapshot)["numbers"]
    assert numbers["truncated"] is True
    assert len(numbers["children"]) == config.snapshot_children
    text = _locals(snapshot)["text"]
    assert len(text["value"]) <= config.snapshot_value_chars
    # The step that follows answers (the bench measures by how much it is slowed).
    status, model = await api("POST", f"sessions/{sid}/step", {"kind": "over"})
    assert status == 200 and model["completed"] and model["state"] == "stopped", model
    await api("DELETE", f"sessions/{sid}")


async def test_snapshots_false_records_none(
        api: Any, manager: Any, history: History) -> None:
    status, model = await api("POST", "sessions", history.spec(snapshots=False,
                                                               watches=["i"]))
    assert status == 201 and model["spec"]["snapshots"] is False, model
    sid = model["id"]
    for _ in range(5):
        await _until(manager, sid, "stopped")
        status, model = await api("POST", f"sessions/{sid}/continue", {})
        assert status == 200, model
    await _until(manager, sid, "exited")
    status, page = await api("GET", f"sessions/{sid}/snapshots")
    assert status == 200 and page["items"] == [] and page["next"] == 0, page
    assert manager.get(sid).snapshots.log.last_seq == 0
    status, watches = await api("GET", f"sessions/{sid}/watches")
    assert status == 200 and watches == {"watches": ["i"], "snapshots": False}


@pytest.mark.parametrize("debugger", ["debugpy"], indirect=True)
@pytest.mark.parametrize("via", ["rest", "tunnel"])
async def test_a_step_stops_the_snapshot_at_a_batch_and_keeps_what_it_had(
        api: Any, manager: Any, history: History, tunnel: Any, via: str) -> None:
    # Twelve slow watches: four batches of the snapshot's requests (scopes with three
    # watches, then four, four and one), about 0.9 s each.
    status, model = await api("POST", "sessions", history.spec(watches=["slow_watch()"] * 12))
    assert status == 201, model
    sid = model["id"]
    session = manager.get(sid)
    if via == "rest":
        assert await session.wait_for(lambda: session.state == "stopped", 60)
        status, model = await api("POST", f"sessions/{sid}/step", {"kind": "over"})
        assert status == 200 and model["completed"], model
    else:
        client = await tunnel(sid)
        await client.join()
        stopped = await client.event("stopped")  # (replayed, or live)
        mark = len(client.messages)
        await client.body("next", {"threadId": stopped["body"]["threadId"]})
        await client.event("stopped", after=mark)
    await _snapshots(manager, sid, 2)
    status, page = await api("GET", f"sessions/{sid}/snapshots")
    assert status == 200, page
    first, second = page["items"]
    assert first["complete"] is False and first["reason"] == "breakpoint", first
    assert second["complete"] is True and len(second["watches"]) == 12, second
    # The second stop's watches count on from the evaluations the first one got: fewer
    # than all twelve, ended at a batch's end (the batch in the debugger was answered
    # before the step, the rest never asked).
    before = int(second["watches"][0]["value"]) - 1
    assert before in (0, 3, 7, 11), before
    assert len(first["watches"]) in (0, before), first["watches"]
    await api("DELETE", f"sessions/{sid}")


@pytest.mark.parametrize("debugger", ["debugpy"], indirect=True)
async def test_a_tunnel_client_asks_before_the_snapshot(
        api: Any, manager: Any, history: History, tunnel: Any) -> None:
    # An IDE inspects each stop at once; the snapshot's requests (three slow watches:
    # about 0.9 s in the debugger) wait until it has, so its answers do not queue behind
    # them, and the watches see the program as the IDE left it.
    status, model = await api("POST", "sessions", history.spec(watches=["slow_watch()"] * 3))
    assert status == 201, model
    sid = model["id"]
    client = await tunnel(sid)
    await client.join()
    stopped = await client.event("stopped")
    trace = await client.body("stackTrace", {"threadId": stopped["body"]["threadId"]})
    top = trace["stackFrames"][0]["id"]
    calls = await client.body("evaluate", {"expression": "len(CALLS)", "frameId": top,
                                           "context": "repl"})
    assert calls["result"] == "0", calls  # no watch of the snapshot's ran before it
    await _snapshots(manager, sid, 1)
    status, first = await api("GET", f"sessions/{sid}/snapshots/1")
    assert status == 200 and first["complete"] is True, first
    assert [w["value"] for w in first["watches"]] == ["1", "2", "3"], first["watches"]
    await api("DELETE", f"sessions/{sid}")
