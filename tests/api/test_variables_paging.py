"""Large containers page through the REST `variables` route and through the DAP tunnel
(issue 14, point 7): a debugpy session's 2,000-item list, 1,500-key dict, set, tuple and
10**6-element NumPy array to their last item, as gdb and lldb sessions page arrays.

The worker's side (names, expressions, setVariable, a step while paging) is in
tests/debuggers/test_debugpy_paging.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..support.debuggers import NATIVE, require_installed
from ..support.native import compile_targets, marker_line
from ..support.ws_dap import Tunnel

pytestmark = pytest.mark.timeout(180)
PROGRAM = "targets/containers.py"

try:
    import numpy  # noqa: F401  (a test dependency: its array is paged when it is there)
    HAS_NUMPY = True
except ImportError:
    HAS_NUMPY = False

#: name → (length, the value pydevd shows of item i)
CONTAINERS: dict[str, tuple[int, Any]] = {
    "big": (2000, lambda i: f"'item {i}'"),
    "mapping": (1500, str),
    "numbers": (3000, str),
    "pairs": (1600, lambda i: f"({i}, {-i})"),
}
if HAS_NUMPY:
    CONTAINERS["array"] = (10**6, lambda i: f"np.int64({i})")


async def _stopped(api: Any, manager: Any, targets: Path) -> str:
    status, model = await api("POST", "sessions", {
        "debugger": "debugpy", "program": PROGRAM, "breakpoints": [
            {"path": PROGRAM, "line": marker_line(targets / "containers.py", "PAGING-STOP")}]})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 60), session.error
    return str(model["id"])


async def test_rest_pages_each_container_to_its_last_item(
        api: Any, manager: Any, targets: Path) -> None:
    sid = await _stopped(api, manager, targets)
    status, frame = await api("GET", f"sessions/{sid}/variables")
    assert status == 200, frame
    local = {v["name"]: v for v in frame["scopes"][0]["variables"]}
    for name, (length, value) in CONTAINERS.items():
        assert local[name]["indexedVariables"] == length, local[name]
        ref = local[name]["variablesReference"]
        if length > 1505:
            status, page = await api("GET", f"sessions/{sid}/variables", reference=ref,
                                     start=1500, count=5)
            assert status == 200, page
            assert [v["value"] for v in page["variables"]] == [value(i) for i in range(
                1500, 1505)]
            assert (page["start"], page["total"]) == (1500, None)  # full: more may follow
        # The last page: the last items, then the named children (len() among them).
        status, page = await api("GET", f"sessions/{sid}/variables", reference=ref,
                                 start=length - 2, count=100)
        assert status == 200, page
        values = [v["value"] for v in page["variables"]]
        assert values[:2] == [value(length - 2), value(length - 1)], page
        named = {v["name"]: v["value"] for v in page["variables"][2:]}
        assert page["total"] == length + len(named)
        if name != "array":
            assert named["len()"] == str(length)

    # count=0, "all": every item and the named children of a list; of a 10**6-element
    # array, a page of 10,000 (full: more may follow).
    status, page = await api("GET", f"sessions/{sid}/variables",
                             reference=local["big"]["variablesReference"], count=0)
    assert len(page["variables"]) == page["total"] == 2003, page["total"]
    if HAS_NUMPY:
        status, page = await api("GET", f"sessions/{sid}/variables", start=10,
                                 reference=local["array"]["variablesReference"], count=0)
        assert (len(page["variables"]), page["total"]) == (10_000, None)
        assert page["variables"][-1]["evaluateName"] == "array[10009]"

    # A nested item expands, by its own reference.
    status, page = await api("GET", f"sessions/{sid}/variables",
                             reference=local["nested"]["variablesReference"], start=1999,
                             count=1)
    (item,) = page["variables"]
    assert (item["value"], item["evaluateName"]) == ("[1999, 3998]", "nested[1999]")
    status, children = await api("GET", f"sessions/{sid}/variables",
                                 reference=item["variablesReference"])
    assert {v["name"]: v["value"] for v in children["variables"]}["1"] == "3998"
    status, result = await api("POST", f"sessions/{sid}/evaluate",
                               {"expression": item["evaluateName"] + "[1]"})
    assert status == 200 and result["result"] == "3998", result
    await api("DELETE", f"sessions/{sid}")


async def test_tunnel_pages_as_an_ide_does(api: Any, manager: Any, targets: Path,
                                           tunnel: Tunnel) -> None:
    """An IDE's way (VS Code's): the named children, then the items in chunks with
    `filter: indexed`; every container to its last item."""
    sid = await _stopped(api, manager, targets)
    client = await tunnel(sid)
    await client.join()
    thread = (await client.event("stopped"))["body"]["threadId"]
    frames = (await client.body("stackTrace", {"threadId": thread}))["stackFrames"]
    scopes = (await client.body("scopes", {"frameId": frames[0]["id"]}))["scopes"]
    listed = await client.body("variables", {
        "variablesReference": scopes[0]["variablesReference"]})
    local = {v["name"]: v for v in listed["variables"]}
    for name, (length, value) in CONTAINERS.items():
        assert local[name]["indexedVariables"] == length, local[name]
        ref = local[name]["variablesReference"]
        named = await client.body("variables", {"variablesReference": ref, "filter": "named"})
        assert "special variables" in {v["name"] for v in named["variables"]}
        if length > 1505:
            page = await client.body("variables", {"variablesReference": ref, "filter":
                                                   "indexed", "start": 1500, "count": 5})
            assert [v["value"] for v in page["variables"]] == [value(i) for i in range(
                1500, 1505)]
        last = await client.body("variables", {"variablesReference": ref, "filter":
                                               "indexed", "start": length - 100, "count": 100})
        assert [v["value"] for v in last["variables"]] == [value(i) for i in range(
            length - 100, length)]
    # Every item of the list, chunk by chunk as VS Code asks for them.
    big = local["big"]["variablesReference"]
    every = []
    for start in range(0, 2000, 100):
        chunk = await client.body("variables", {"variablesReference": big, "filter":
                                                "indexed", "start": start, "count": 100})
        every += [v["value"] for v in chunk["variables"]]
    assert every == [f"'item {i}'" for i in range(2000)]
    # A nested item expands; its expression is a watch.
    (item,) = (await client.body("variables", {
        "variablesReference": local["nested"]["variablesReference"], "filter": "indexed",
        "start": 1500, "count": 1}))["variables"]
    children = await client.body("variables", {"variablesReference": item[
        "variablesReference"]})
    assert {v["name"]: v.get("evaluateName") for v in children["variables"]}["0"] == (
        "nested[1500][0]")
    watch = await client.body("evaluate", {"expression": "nested[1500][0]",
                                           "frameId": frames[0]["id"], "context": "watch"})
    assert watch["result"] == "1500"
    await client.close()
    await api("DELETE", f"sessions/{sid}")


@pytest.mark.parametrize("native_debugger", NATIVE)
async def test_rest_pages_native_arrays_by_the_debugger(
        api: Any, manager: Any, jp_root_dir: Path, native_debugger: str) -> None:
    """gdb and lldb page an array themselves: the route passes `start`/`count` on and
    answers the debugger's page (it used to page that page again)."""
    require_installed(native_debugger)
    (jp_root_dir / "native").mkdir()
    built = compile_targets(jp_root_dir / "native")
    source = built["points"].parent / "points.c"
    status, model = await api("POST", "sessions", {
        "debugger": native_debugger, "program": "native/points", "breakpoints": [
            {"path": "native/points.c", "line": marker_line(source, "LOOP-BODY")}]})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 60), session.error
    status, frame = await api("GET", f"sessions/{session.id}/variables")
    numbers = {v["name"]: v for v in frame["scopes"][0]["variables"]}["numbers"]
    assert numbers["indexedVariables"] == 300
    status, page = await api("GET", f"sessions/{session.id}/variables",
                             reference=numbers["variablesReference"], start=250, count=3)
    assert status == 200, page
    assert [(v["name"], v["value"]) for v in page["variables"]] == [
        ("[250]", "500"), ("[251]", "502"), ("[252]", "504")]
    assert page["total"] is None  # a full page: the parent's indexedVariables says 300
    status, page = await api("GET", f"sessions/{session.id}/variables",
                             reference=numbers["variablesReference"], start=298, count=10)
    assert [v["value"] for v in page["variables"]] == ["596", "598"]
    assert page["total"] == 300
    await api("DELETE", f"sessions/{session.id}")
