"""The worker as an IDE's adapter executable: DAP on stdin/stdout, target from argv."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from jupyter_debug_server.dap import DapChannel

from .support.dap_client import WORKER, DapTestClient

TARGET = Path(__file__).parent / "targets" / "loop.py"
pytestmark = pytest.mark.timeout(60)


def test_stdio_worker_with_program_from_its_command_line() -> None:
    async def scenario() -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", WORKER, "--session", "123", "--program", str(TARGET), "4",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        client = DapTestClient(DapChannel(proc.stdout, proc.stdin, name="ide"))
        caps = await client.request("initialize", {"adapterID": "ide"})
        assert caps["supportsConfigurationDoneRequest"] is True
        launch = client.send("launch", {})
        await client.wait_event("initialized")
        bp = await client.request("setBreakpoints", {"source": {"path": str(TARGET)},
                                                     "breakpoints": [{"line": 5}]})
        assert bp["breakpoints"][0]["verified"] is True
        await client.request("configurationDone")
        assert (await asyncio.wait_for(launch, 30))["success"] is True
        stopped = await client.wait_event("stopped")
        await client.request("setBreakpoints", {"source": {"path": str(TARGET)},
                                                "breakpoints": []})
        await client.request("continue", {"threadId": stopped["body"]["threadId"]})
        exited = await client.wait_event("exited")
        assert exited["body"]["exitCode"] == 4
        await client.wait_event("terminated")
        assert client.output("stdout") == "result 6\n"
        proc.stdin.close()
        assert await asyncio.wait_for(proc.wait(), 30) == 0

    asyncio.run(scenario())


def test_launch_of_a_crashing_program_reports_its_error_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import no_such_module_here\n")

    async def scenario() -> None:
        from .support.dap_client import start_worker

        client, proc = await start_worker()
        await client.request("initialize", {})
        launch = client.send("launch", {"program": str(bad)})
        init = asyncio.ensure_future(client.wait_event("initialized"))
        done, _ = await asyncio.wait({launch, init}, return_when=asyncio.FIRST_COMPLETED)
        if init in done:
            await client.request("configurationDone")
        response = await asyncio.wait_for(launch, 30)
        init.cancel()
        exited = await client.wait_event("exited")
        assert exited["body"]["exitCode"] == 1
        assert "No module named 'no_such_module_here'" in client.output("stderr")
        assert response["command"] == "launch"
        client.channel.close()
        await asyncio.wait_for(proc.wait(), 30)

    asyncio.run(scenario())
