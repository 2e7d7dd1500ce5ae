"""Every item of a large Python container is reachable through the debugpy worker (issue
14, point 7): `indexedVariables` on the container, `start`/`count`/`filter` honoured, the
values in pydevd's own style, items that expand, and `evaluateName`s that evaluate and
assign. pydevd alone lists 100 items of a list and 500 of a dict or set.

The worker is driven over DAP as the server drives it (tests/targets/containers.py, a
real pydevd); the REST route and the tunnel are in tests/api/test_variables_paging.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ..support.dap_client import DapTestClient, start_worker
from ..support.native import marker_line

pytestmark = pytest.mark.timeout(120)
TARGET = Path(__file__).parent.parent / "targets" / "containers.py"

Message = dict[str, Any]


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


class Stop:
    """The program stopped at PAGING-STOP: its locals and helpers to read them."""

    def __init__(self, client: DapTestClient, thread: int, frame: int) -> None:
        self.client = client
        self.thread = thread
        self.frame = frame
        self.locals: dict[str, Message] = {}

    async def read_locals(self) -> dict[str, Message]:
        scopes = (await self.client.request("scopes", {"frameId": self.frame}))["scopes"]
        listed = await self.client.request("variables", {
            "variablesReference": scopes[0]["variablesReference"]})
        self.locals = {v["name"]: v for v in listed["variables"]}
        return self.locals

    async def page(self, ref: int, **arguments: Any) -> list[Message]:
        body = await self.client.request("variables", {"variablesReference": ref,
                                                       **arguments})
        return list(body["variables"])

    async def evaluate(self, expression: str) -> Message:
        return dict(await self.client.request("evaluate", {
            "expression": expression, "frameId": self.frame, "context": "watch"}))


async def _stopped(client: DapTestClient) -> Stop:
    await client.request("initialize", {"adapterID": "test"})
    launch = client.send("launch", {"program": str(TARGET), "cwd": str(TARGET.parent)})
    await client.wait_event("initialized")
    await client.request("setBreakpoints", {"source": {"path": str(TARGET)}, "breakpoints": [
        {"line": marker_line(TARGET, "PAGING-STOP")}]})
    await client.request("configurationDone")
    assert (await asyncio.wait_for(launch, 60))["success"]
    thread = int((await client.wait_event("stopped"))["body"]["threadId"])
    frames = (await client.request("stackTrace", {"threadId": thread}))["stackFrames"]
    stop = Stop(client, thread, int(frames[0]["id"]))
    await stop.read_locals()
    return stop


def run(test: Any) -> None:
    """Run an async scenario with its own worker (these tests are not pytest-jupyter's)."""
    async def scenario() -> None:
        client, proc = await start_worker()
        try:
            await test(await _stopped(client))
        finally:
            client.channel.close()
            await asyncio.wait_for(proc.wait(), 30)

    asyncio.run(scenario())


def _values(items: list[Message]) -> list[str]:
    return [v["value"] for v in items]


def test_each_container_says_its_length_and_pages_to_its_last_item() -> None:
    async def scenario(stop: Stop) -> None:
        local = stop.locals
        lengths = {"big": 2000, "nested": 2000, "mapping": 1500, "numbers": 3000,
                   "pairs": 1600, "queue": 300}
        for name, length in lengths.items():
            assert local[name]["indexedVariables"] == length, local[name]
        assert "indexedVariables" not in local["flaky"]  # an object: pydevd's listing

        big = local["big"]["variablesReference"]
        items = await stop.page(big, filter="indexed", start=1500, count=5)
        assert _values(items) == [f"'item {i}'" for i in range(1500, 1505)]
        assert [v["name"] for v in items] == [str(i) for i in range(1500, 1505)]
        assert [v["evaluateName"] for v in items] == [f"big[{i}]" for i in range(1500, 1505)]
        # Pages of 300 (three chunks each) cover the list, in order, to its last item.
        every: list[str] = []
        for start in range(0, 2000, 300):
            every += _values(await stop.page(big, filter="indexed", start=start, count=300))
        assert every == [f"'item {i}'" for i in range(2000)]
        # Names are pydevd's, zero-padded to the last index.
        first = await stop.page(local["queue"]["variablesReference"], filter="indexed",
                                start=0, count=2)
        assert [(v["name"], v["evaluateName"]) for v in first] == [
            ("000", "queue[0]"), ("001", "queue[1]")]

        mapping = await stop.page(local["mapping"]["variablesReference"], filter="indexed",
                                  start=1495, count=10)  # asks past the end: gets the end
        assert [(v["name"], v["value"], v["evaluateName"]) for v in mapping] == [
            (f"'key{i}'", str(i), f"mapping['key{i}']") for i in range(1495, 1500)]
        numbers = await stop.page(local["numbers"]["variablesReference"], filter="indexed",
                                  start=1500, count=5)
        assert _values(numbers) == [str(i) for i in range(1500, 1505)]
        assert all("evaluateName" not in v for v in numbers)  # a set's items have none
        pairs = await stop.page(local["pairs"]["variablesReference"], filter="indexed",
                                start=1595, count=5)
        assert _values(pairs) == [f"({i}, {-i})" for i in range(1595, 1600)]

    run(scenario)


@pytest.mark.skipif(not _has("numpy") or not _has("pandas"),
                    reason="NumPy and pandas are in the test extra; not installed here")
def test_numpy_array_and_pandas_objects_page() -> None:
    async def scenario(stop: Stop) -> None:
        array = stop.locals["array"]
        assert array["indexedVariables"] == 10**6
        ref = array["variablesReference"]
        items = await stop.page(ref, filter="indexed", start=1500, count=5)
        assert _values(items) == [f"np.int64({i})" for i in range(1500, 1505)]
        assert [v["name"] for v in items] == [f"{i:06d}" for i in range(1500, 1505)]
        last = await stop.page(ref, filter="indexed", start=10**6 - 3, count=100)
        assert [v["evaluateName"] for v in last] == [
            f"array[{i}]" for i in range(10**6 - 3, 10**6)]
        named = {v["name"] for v in await stop.page(ref, filter="named")}
        assert {"dtype", "shape", "size"} <= named and not any(n.startswith("[") for n in named)

        table, series = stop.locals["table"], stop.locals["series"]
        assert (table["indexedVariables"], series["indexedVariables"]) == (2000, 2000)
        rows = await stop.page(table["variablesReference"], filter="indexed", start=1999,
                               count=5)
        assert [(v["name"], v["evaluateName"]) for v in rows] == [("1999", "table.iloc[1999]")]
        columns = {v["name"]: v["value"] for v in await stop.page(
            rows[0]["variablesReference"])}
        assert columns["name"] == "1999"  # the row's label: it expands as a Series
        values = await stop.page(series["variablesReference"], filter="indexed", start=1500,
                                 count=2)
        assert [(v["value"], v["evaluateName"]) for v in values] == [
            ("3000", "series.iloc[1500]"), ("3002", "series.iloc[1501]")]

    run(scenario)


def test_items_expand_and_their_expressions_evaluate_and_assign() -> None:
    async def scenario(stop: Stop) -> None:
        nested = stop.locals["nested"]["variablesReference"]
        (item,) = await stop.page(nested, filter="indexed", start=1500, count=1)
        assert (item["name"], item["value"], item["evaluateName"]) == (
            "1500", "[1500, 3000]", "nested[1500]")
        assert item["indexedVariables"] == 2  # a nested list is paged too
        children = await stop.page(item["variablesReference"])  # pydevd's own listing
        by_name = {v["name"]: v for v in children}
        assert by_name["1"]["value"] == "3000"
        assert by_name["1"]["evaluateName"] == "nested[1500][1]"
        assert by_name["len()"]["evaluateName"] == "len(nested[1500])"
        assert (await stop.evaluate("nested[1500][1]"))["result"] == "3000"

        # setVariable of a paged item (pydevd alone knows items 0-99 by name only) ...
        big = stop.locals["big"]["variablesReference"]
        await stop.page(big, filter="indexed", start=1700, count=3)
        changed = await stop.client.request("setVariable", {
            "variablesReference": big, "name": "1701", "value": "[7, 8, 9]"})
        assert changed["value"] == "[7, 8, 9]" and changed["indexedVariables"] == 3
        assert (await stop.evaluate("big[1701][2]"))["result"] == "9"
        # ... and of a child of one (pydevd assigns through the renamed expression).
        await stop.client.request("setVariable", {
            "variablesReference": item["variablesReference"], "name": "0", "value": "-1"})
        assert (await stop.evaluate("nested[1500]"))["result"] == "[-1, 3000]"

        # A set's item has no expression: a sentence says so.
        numbers = stop.locals["numbers"]["variablesReference"]
        await stop.page(numbers, filter="indexed", start=10, count=1)
        with pytest.raises(Exception, match="items of a set have none"):
            await stop.client.request("setVariable", {
                "variablesReference": numbers, "name": "0010", "value": "1"})

    run(scenario)


def test_named_children_unfiltered_pages_and_pydevds_own_listing() -> None:
    async def scenario(stop: Stop) -> None:
        big = stop.locals["big"]["variablesReference"]
        named = await stop.page(big, filter="named")
        assert [v["name"] for v in named] == ["special variables", "function variables",
                                              "len()"]
        assert named[2]["value"] == "2000"
        # Without a filter: the items first, then the named children.
        tail = await stop.page(big, start=1998, count=4)
        assert [v["name"] for v in tail] == ["1998", "1999", "special variables",
                                             "function variables"]
        # No paging asked: pydevd's listing as it is (100 items and its "more" group).
        whole = await stop.page(big)
        assert [v["name"] for v in whole][-2:] == ["more", "len()"]
        assert len(whole) == 104
        # An object's attributes are paged too (pydevd's listing, windowed).
        flaky = stop.locals["flaky"]["variablesReference"]
        everything = [v["name"] for v in await stop.page(flaky)]
        assert [v["name"] for v in await stop.page(flaky, start=1, count=2)] == everything[1:3]

    run(scenario)


def test_evaluate_setvariable_and_expressions_that_fail() -> None:
    async def scenario(stop: Stop) -> None:
        assert (await stop.evaluate("big"))["indexedVariables"] == 2000
        assert (await stop.evaluate("mapping"))["indexedVariables"] == 1500
        # A call is never evaluated twice: its result keeps pydevd's own listing.
        assert "indexedVariables" not in await stop.evaluate("sorted(numbers)")
        scopes = (await stop.client.request("scopes", {"frameId": stop.frame}))["scopes"]
        local_ref = scopes[0]["variablesReference"]
        await stop.read_locals()
        changed = await stop.client.request("setVariable", {
            "variablesReference": local_ref, "name": "queue", "value": "[0] * 7"})
        assert changed["indexedVariables"] == 7
        # `flaky.rows` raises when read again: its length is unknown, `data`'s is not,
        # and the answer comes.
        children = {v["name"]: v for v in await stop.page(
            stop.locals["flaky"]["variablesReference"])}
        assert children["data"]["indexedVariables"] == 150
        assert "indexedVariables" not in children["rows"]

    run(scenario)


def test_a_step_while_pages_are_read_answers_everything() -> None:
    """Requests that page, sent with a step: each is answered (the page, or a sentence
    that the program resumed), the step stops, and the next stop pages again."""
    async def scenario(stop: Stop) -> None:
        client = stop.client
        big = stop.locals["big"]["variablesReference"]
        scopes = (await client.request("scopes", {"frameId": stop.frame}))["scopes"]
        mark = len(client.events)
        pending = [client.send("variables", {"variablesReference": big, "filter": "indexed",
                                             "start": 1000, "count": 1000}),
                   client.send("variables", {"variablesReference": scopes[0][
                       "variablesReference"]}),
                   client.send("next", {"threadId": stop.thread})]
        answers = await asyncio.wait_for(asyncio.gather(*pending), 30)
        assert answers[2]["success"], answers[2]
        for answer in answers[:2]:
            assert answer["success"] or "resumed" in answer["message"], answer
        await client.wait_event("stopped", after=mark)
        frames = (await client.request("stackTrace", {"threadId": stop.thread}))["stackFrames"]
        stop.frame = int(frames[0]["id"])
        local = await stop.read_locals()
        items = await stop.page(local["big"]["variablesReference"], filter="indexed",
                                start=1999, count=1)
        assert _values(items) == ["'item 1999'"]

    run(scenario)
