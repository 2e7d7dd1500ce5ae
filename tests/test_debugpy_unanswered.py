"""Requests pydevd never answers, answered by the debugpy worker (found by the
hardening fuzz, issue 11): `continue` while the program runs, and `cancel`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from .support.dap_client import start_worker

WORKER = "jupyter_debug_server.runner.debuggers.debugpy_adapter"
WAITER = Path(__file__).parent / "targets" / "waiter.py"
pytestmark = pytest.mark.timeout(120)


def test_continue_while_running_and_cancel_are_answered() -> None:
    async def scenario() -> None:
        client, proc = await start_worker(WORKER)
        try:
            await client.request("initialize", {"adapterID": "test"})
            launch = client.send("launch", {"program": str(WAITER), "cwd": str(WAITER.parent)})
            await client.wait_event("initialized")
            await client.request("configurationDone")
            assert (await asyncio.wait_for(launch, 60))["success"]
            threads = (await client.request("threads"))["threads"]
            response = await asyncio.wait_for(
                client.send("continue", {"threadId": threads[0]["id"]}), 30)
            assert response["success"], response
            response = await asyncio.wait_for(client.send("cancel", {"requestId": 1}), 30)
            assert not response["success"] and "cannot cancel" in response["message"]
            for command in ("readMemory", "loadedSources", "setDataBreakpoints"):
                arguments = {"memoryReference": "0x0", "count": 1, "breakpoints": []}
                response = await asyncio.wait_for(client.send(command, arguments), 30)
                assert response["message"] == f"'{command}' is not supported by debugpy"
            await client.request("pause", {"threadId": threads[0]["id"]})
            stop = await client.wait_event("stopped")
            response = await asyncio.wait_for(
                client.send("continue", {"threadId": stop["body"]["threadId"]}), 30)
            assert response["success"], response
        finally:
            client.channel.close()
            await asyncio.wait_for(proc.wait(), 30)

    asyncio.run(scenario())
