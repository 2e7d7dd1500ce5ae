"""What debugpy sessions do beyond the scenarios every debugger shares (test_sessions.py,
test_debugger_tunnels.py): Python's own stops and launches through the REST API of a real
jupyter_server, refusing a native process, and the debugpy worker answering what pydevd
never answers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ..support.dap_client import WORKER, start_worker

pytestmark = pytest.mark.timeout(120)
WAITER = Path(__file__).parent.parent / "targets" / "waiter.py"


async def _launch(api: Any, manager: Any, **spec: Any) -> dict[str, Any]:
    status, model = await api("POST", "sessions", {"debugger": "debugpy", **spec})
    assert status == 201, model
    return model


async def _until(manager: Any, session_id: str, *states: str) -> dict[str, Any]:
    session = manager.get(session_id)
    assert await session.wait_for(lambda: session.state in states, 30), (
        session.state, session.error, session.stopped)
    return session.model()


async def test_sys_exit_stops_as_an_uncaught_exception_then_exits_with_its_code(
        api: Any, manager: Any, targets: Path) -> None:
    """What debugpy adds to test_sessions.py's scenario: Python's frames below main, and
    sys.exit() with a code stopping as an uncaught SystemExit before the exit."""
    program = str(targets / "loop.py")
    model = await _launch(api, manager, program="targets/loop.py", args=["9"],
                          breakpoints=[{"path": "targets/loop.py", "line": 13}])
    sid = model["id"]
    model = await _until(manager, sid, "stopped")
    assert (model["stopped"]["path"], model["stopped"]["line"]) == (program, 13)
    status, stack = await api("GET", f"sessions/{sid}/stack")
    assert status == 200
    assert [f["name"] for f in stack["frames"]][:2] == ["main", "<module>"]
    status, variables = await api("GET", f"sessions/{sid}/variables")
    locals_ = {v["name"]: v["value"] for v in variables["scopes"][0]["variables"]}
    assert status == 200 and locals_["values"] == "[1, 2, 3]", variables

    status, bps = await api("PUT", f"sessions/{sid}/breakpoints",
                            {"path": "targets/loop.py", "breakpoints": []})
    assert status == 200 and bps["breakpoints"] == []
    status, model = await api("POST", f"sessions/{sid}/continue", {})
    assert status == 200 and model["completed"]
    # sys.exit(9) raises SystemExit: debugpy stops on it as an uncaught exception.
    assert model["state"] == "stopped" and model["stopped"]["reason"] == "exception"
    assert model["stopped"]["description"] == "9"
    status, model = await api("POST", f"sessions/{sid}/continue", {})
    assert status == 200 and model["completed"]
    model = await _until(manager, sid, "exited")
    assert model["exit_code"] == 9  # main() returns 6; the target exits with 6 - 6 + 9
    status, out = await api("GET", f"sessions/{sid}/output")
    assert status == 200 and out["state"] == "exited"
    assert "".join(i["output"] for i in out["items"] if i["category"] == "stdout") == (
        "result 6\n")


async def test_module_launch_with_stop_on_entry(api: Any, manager: Any, targets: Path) -> None:
    model = await _launch(api, manager, module="targets.loop", stop_on_entry=True)
    model = await _until(manager, model["id"], "stopped")
    assert model["stopped"]["reason"] == "entry"
    assert model["stopped"]["path"] == str(targets / "loop.py")
    _status, model = await api("POST", f"sessions/{model['id']}/continue", {})
    model = await _until(manager, model["id"], "exited")
    assert model["exit_code"] == 0


async def test_ten_mib_of_output_is_read_back_whole_after_exit(
        api: Any, manager: Any, targets: Path) -> None:
    model = await _launch(api, manager, program="targets/flood.py", args=[str(10 * 1024 * 1024)])
    await _until(manager, model["id"], "exited")
    chunks: list[str] = []
    since = 0
    while True:
        status, page = await api("GET", f"sessions/{model['id']}/output", since=since,
                                 limit=50)
        assert status == 200
        if not page["items"]:
            break
        chunks.extend(i["output"] for i in page["items"] if i["category"] == "stdout")
        since = page["next"]
    text = "".join(chunks)
    expected_line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!@#\n"
    assert len(text) == 10 * 1024 * 1024
    assert text == expected_line * (len(text) // len(expected_line)) + expected_line[
        : len(text) % len(expected_line)]


async def test_pause_a_running_program_then_resume_and_end_it(
        api: Any, manager: Any, targets: Path) -> None:
    model = await _launch(api, manager, program="targets/waiter.py")
    sid = model["id"]
    session = manager.get(sid)
    printed = asyncio.Event()
    session.subscribe(lambda e: e["type"] == "dap" and e["event"]["event"] == "output"
                      and printed.set())
    if not session.output.total_chars:
        await asyncio.wait_for(printed.wait(), 30)  # "ready": it is looping now
    assert session.state == "running"
    status, model = await api("POST", f"sessions/{sid}/pause", {})
    assert status == 200 and model["completed"] and model["state"] == "stopped"
    assert model["stopped"]["reason"] == "pause"
    assert model["stopped"]["path"] == str(targets / "waiter.py")
    line = next(i for i, text in enumerate((targets / "waiter.py").read_text().splitlines(), 1)
                if "ATTACH-HERE" in text)
    status, bps = await api("PUT", f"sessions/{sid}/breakpoints",
                            {"path": "targets/waiter.py",
                             "breakpoints": [{"line": line, "condition": "counter % 7 == 0"}]})
    assert status == 200 and bps["breakpoints"][0]["verified"]
    status, model = await api("POST", f"sessions/{sid}/continue", {})
    assert status == 200 and model["completed"]
    assert (model["stopped"]["reason"], model["stopped"]["line"]) == ("breakpoint", line)
    status, result = await api("POST", f"sessions/{sid}/evaluate", {"expression": "counter % 7"})
    assert result["result"] == "0"
    status, model = await api("DELETE", f"sessions/{sid}")
    assert status == 200 and model["state"] == "terminated"


async def test_attach_to_a_native_process_is_refused_up_front(api: Any, targets: Path) -> None:
    proc = await asyncio.create_subprocess_exec("sleep", "60")
    try:
        before = await api("GET", "sessions")
        status, error = await api("POST", "sessions", {
            "debugger": "debugpy", "request": "attach", "pid": proc.pid})
        assert status == 400 and error["reason"] == "not-python"
        assert f"process {proc.pid} (sleep) is not a Python process" in error["message"]
        assert await api("GET", "sessions") == before
    finally:
        proc.kill()
        await proc.wait()


# -- what pydevd never answers (found by the hardening fuzz, issue 11) ------------------


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
