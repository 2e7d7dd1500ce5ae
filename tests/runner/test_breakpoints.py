"""Breakpoints are parsed, converted and described in one place (runner/breakpoints.py).

A launch spec's `breakpoints` and the body of `PUT …/breakpoints` share their fields;
the same bad breakpoint gets the same sentence from both (naming field and value), and
the same good one becomes the same DAP SourceBreakpoint.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.runner.breakpoints import (
    MAX_BREAKPOINTS,
    describe_breakpoints,
    parse_route_breakpoints,
    parse_spec_breakpoints,
)
from jupyter_debug_server.runner.errors import LaunchSpecError
from jupyter_debug_server.runner.paths import PathPolicy

pytestmark = pytest.mark.timeout(90)

LOOP = "targets/loop.py"
ITEM = {"line": 3, "condition": "x > 1", "hit_condition": "2", "log_message": "x={x}"}
DAP = {"line": 3, "condition": "x > 1", "hitCondition": "2", "logMessage": "x={x}"}

# (a bad breakpoint, what its error sentence must name)
BAD_ITEMS: list[tuple[Any, tuple[str, ...]]] = [
    ({"line": 0}, ("'breakpoints[0].line'", "0")),
    ({"line": True}, ("'breakpoints[0].line'", "True")),
    ({"line": 3, "condition": 5}, ("'breakpoints[0].condition'", "5")),
    ({"line": 3, "hit_condition": ["2"]}, ("'breakpoints[0].hit_condition'", "['2']")),
    ({"line": 3, "log_message": {}}, ("'breakpoints[0].log_message'", "{}")),
    ("x", ("'breakpoints[0]'", "'x'")),
]


def test_route_and_spec_make_the_same_dap_breakpoint(tmp_path: Path) -> None:
    policy = PathPolicy(str(tmp_path), False)
    (spec,) = parse_spec_breakpoints([{"path": "a.py", **ITEM}], policy, tmp_path)
    assert spec.path == str(tmp_path / "a.py")
    assert spec.to_dap() == DAP
    assert parse_route_breakpoints([ITEM]) == [DAP]
    # Empty optional fields mean none, in both.
    empty = {"line": 3, "condition": "", "hit_condition": None, "log_message": ""}
    assert parse_route_breakpoints([empty]) == [{"line": 3}]
    (spec,) = parse_spec_breakpoints([{"path": "a.py", **empty}], policy, tmp_path)
    assert spec.to_dap() == {"line": 3}


@pytest.mark.parametrize(("item", "needles"), BAD_ITEMS)
def test_a_bad_breakpoint_gets_one_sentence_from_both(
        tmp_path: Path, item: Any, needles: tuple[str, ...]) -> None:
    with pytest.raises(LaunchSpecError) as route:
        parse_route_breakpoints([item])
    spec_item = {"path": "a.py", **item} if isinstance(item, dict) else item
    with pytest.raises(LaunchSpecError) as spec:
        parse_spec_breakpoints([spec_item], PathPolicy(str(tmp_path), False), tmp_path)
    assert route.value.reason == "bad-argument"
    assert spec.value.reason == "bad-launch-spec"
    for needle in needles:
        assert needle in route.value.message, route.value.message
    if isinstance(item, dict):
        assert route.value.message == spec.value.message


def test_too_many_breakpoints_are_refused_by_both(tmp_path: Path) -> None:
    items = [{"line": 1}] * (MAX_BREAKPOINTS + 1)
    with pytest.raises(LaunchSpecError, match="at most 1000"):
        parse_route_breakpoints(items)
    with pytest.raises(LaunchSpecError, match="at most 1000"):
        parse_spec_breakpoints([{"path": "a.py", "line": 1}] * (MAX_BREAKPOINTS + 1),
                               PathPolicy(str(tmp_path), False), tmp_path)


def test_described_in_our_names() -> None:
    described = describe_breakpoints([DAP, {"line": 9}],
                                     [{"verified": True, "line": 4, "id": 7}])
    assert described == [
        {"line": 4, "requested_line": 3, "verified": True, "message": None, "id": 7,
         "condition": "x > 1", "hit_condition": "2", "log_message": "x={x}"},
        {"line": 9, "requested_line": 9, "verified": False, "message": None, "id": None,
         "condition": None, "hit_condition": None, "log_message": None},
    ]


@pytest.mark.parametrize(("item", "needles"), BAD_ITEMS)
async def test_the_route_names_the_bad_value(
        api: Any, manager: Any, targets: Path, item: Any, needles: tuple[str, ...]) -> None:
    """PUT …/breakpoints answers a bad breakpoint with a 400 naming field and value (it
    named the field only), and sets nothing."""
    status, model = await api("POST", "sessions", {"program": LOOP, "stop_on_entry": True})
    assert status == 201, model
    try:
        status, body = await api("PUT", f"sessions/{model['id']}/breakpoints",
                                 {"path": LOOP, "breakpoints": [{"line": 5}, item]})
        assert status == 400, body
        assert body["reason"] == "bad-argument", body
        for needle in needles:
            assert needle.replace("[0]", "[1]") in body["message"], body
        assert manager.get(model["id"]).breakpoints == {}
    finally:
        status, ended = await api("DELETE", f"sessions/{model['id']}")
        assert status == 200, ended


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_the_route_resolves_its_path_off_the_event_loop(
        api: Any, jp_fetch: Any, targets: Path, monkeypatch: pytest.MonkeyPatch,
        method: str) -> None:
    """The breakpoints route stats the path (it may sit on a slow or hung file system):
    that runs in the runner's executor, never on the server's event loop."""
    threads: list[str] = []
    resolve = PathPolicy.resolve

    def spy(self: PathPolicy, value: str, what: str, base: Path | None = None) -> Path:
        threads.append(threading.current_thread().name)
        return resolve(self, value, what, base)

    status, model = await api("POST", "sessions", {"program": LOOP, "stop_on_entry": True})
    assert status == 201, model
    monkeypatch.setattr(PathPolicy, "resolve", spy)
    try:
        if method == "PUT":
            status, body = await api("PUT", f"sessions/{model['id']}/breakpoints",
                                     {"path": LOOP, "breakpoints": []})
        else:
            response = await jp_fetch("api", "debug", "sessions", model["id"], "breakpoints",
                                      params={"path": LOOP}, raise_error=False)
            status, body = response.code, response.body
        assert status == 200, body
        assert threads, "the path was not resolved"
        assert all(name.startswith("jds-blocking") for name in threads), threads
    finally:
        monkeypatch.undo()
        status, ended = await api("DELETE", f"sessions/{model['id']}")
        assert status == 200, ended
