"""The lldb worker (work in progress): lldb-dap behind our exec stub, driven over DAP.

The full native scenario suite runs on gdb (test_gdb_adapter.py); these are the
flows the lldb worker already gets right. lldb stays reported unavailable in
GET /api/debug/debuggers until the suite passes on it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jupyter_debug_server.runner.debuggers.lldb_adapter import find_lldb_dap

from .support.native import LLDB_WORKER, NativeSession, compile_targets, marker_line

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if find_lldb_dap() is None:
        pytest.fail("lldb-dap is not installed; run bash scripts/setup.sh test")
    return compile_targets(tmp_path_factory.mktemp("native-lldb"))


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_breakpoint_verified_before_the_program_runs_then_stack_and_exit(
        built: dict[str, Path]) -> None:
    async def scenario() -> None:
        source = built["points"].parent / "points.c"
        line = marker_line(source, "MAIN-START")
        s = await NativeSession.launch(built["points"], args=["$(id)", "a;b", "two words"],
                                       breakpoints={source: [{"line": line}]},
                                       worker=LLDB_WORKER)
        stop = await s.stopped()
        assert stop["reason"] == "breakpoint"
        frames = await s.frames(stop["threadId"])
        assert (frames[0]["name"], frames[0]["line"]) == ("main", line)
        local = await s.locals(frames[0]["id"])
        assert local["total"]["type"] == "int"
        await s.client.request("setBreakpoints", {"source": {"path": str(source)},
                                                  "breakpoints": []})
        await s.client.request("continue", {"threadId": stop["threadId"]})
        exited = await s.client.wait_event("exited")
        assert exited["body"]["exitCode"] == 123
        out = s.client.output("stdout")
        assert out.startswith("arg[1]=$(id)\narg[2]=a;b\narg[3]=two words\n")
        assert s.client.output("stderr") == "label origin\n"
        await s.close()

    run(scenario)


def test_stop_on_entry_stops_in_main(built: dict[str, Path]) -> None:
    async def scenario() -> None:
        s = await NativeSession.launch(built["points"], stop_on_entry=True, worker=LLDB_WORKER)
        stop = await s.stopped()
        assert stop["reason"] == "entry"
        assert (await s.frames(stop["threadId"]))[0]["name"] == "main"
        await s.close()

    run(scenario)
