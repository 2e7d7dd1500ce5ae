"""gdb's own edge cases, on a real gdb worker: a stop with two reasons, and gdb refusing
a command (an MIError) answered with gdb's sentence, never a logged traceback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.dap import DapChannel, DapRequestError
from jupyter_debug_server.runner.debuggers.gdb.mi import MIError
from jupyter_debug_server.runner.debuggers.registry import answer

from ..support.native import NativeSession, compile_targets, marker_line

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return compile_targets(tmp_path_factory.mktemp("native"))


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_a_step_out_that_ends_on_a_breakpoint_is_reported(built: dict[str, Path]) -> None:
    """Found by the hardening fuzz (issue 11): `finish` onto a breakpoint makes gdb send
    `reason=["function-finished","breakpoint-hit"]`; the adapter took the reason for a
    string, raised in the MI reader, and the stop was lost (the client waited forever)."""
    async def scenario() -> None:
        source = built["points"].parent / "points.c"
        square = marker_line(source, "SQUARE-BODY")
        session = await NativeSession.launch("gdb", built["points"], breakpoints={
            source: [{"line": square}]})
        try:
            stop = await session.stopped()
            thread = stop["threadId"]
            frames = await session.frames(thread)
            back_in_main = frames[1]["instructionPointerReference"]
            body = await session.client.request("setFunctionBreakpoints", {
                "breakpoints": [{"name": f"*{back_in_main}"}]})
            assert body["breakpoints"][0]["verified"], body
            stop = await asyncio.wait_for(session.resume("stepOut", thread), 30)
            assert stop["reason"] == "breakpoint", stop
            assert stop["hitBreakpointIds"] == [body["breakpoints"][0]["id"]], (stop, body)
            frames = await session.frames(thread)
            assert frames[0]["name"].startswith("main"), frames
        finally:
            await session.close()

    run(scenario)


def test_gdb_refusing_a_command_is_an_error_response_with_its_sentence(
        caplog: pytest.LogCaptureFixture) -> None:
    """Found by the hardening fuzz (issue 11): an MIError escaping a handler (gdb's
    "Selected thread is running" for a stackTrace racing a resume) was logged with a
    traceback as a bug. It is gdb's expected refusal: the client gets gdb's sentence."""
    async def scenario() -> None:
        a, b = socket.socketpair()
        client = await DapChannel.from_socket(a, name="client")
        adapter_side = await DapChannel.from_socket(b, name="adapter")

        async def handler(_adapter: object, _message: dict[str, Any]) -> None:
            raise MIError("Selected thread is running.", command="-stack-info-depth")

        def on_request(message: dict[str, Any]) -> None:
            asyncio.get_running_loop().create_task(
                answer(adapter_side, handler, object(), message))

        adapter_side.on_request = on_request
        client.start()
        adapter_side.start()
        with pytest.raises(DapRequestError) as refused:
            await asyncio.wait_for(client.request("stackTrace", {"threadId": 1}), 10)
        assert refused.value.message == "gdb: Selected thread is running."
        client.close()
        adapter_side.close()

    run(scenario)
    assert not [r for r in caplog.records if r.exc_info], caplog.text
