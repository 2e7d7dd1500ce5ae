"""debugpy sessions: through the REST API of a real jupyter_server (launch, attach by pid
and detach), and the debugpy worker answering what pydevd never answers."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import psutil
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


async def test_breakpoint_stack_variables_evaluate_step_continue_exit(
        api: Any, manager: Any, targets: Path) -> None:
    program = str(targets / "loop.py")
    model = await _launch(api, manager, program="targets/loop.py", args=["9"],
                          breakpoints=[{"path": "targets/loop.py", "line": 13}])
    sid = model["id"]
    model = await _until(manager, sid, "stopped")
    assert model["stopped"]["reason"] == "breakpoint"
    assert (model["stopped"]["path"], model["stopped"]["line"]) == (program, 13)
    assert model["pid"] and model["pid"] != model.get("worker_pid")

    status, stack = await api("GET", f"sessions/{sid}/stack")
    assert status == 200
    assert [f["name"] for f in stack["frames"]][:2] == ["main", "<module>"]

    status, variables = await api("GET", f"sessions/{sid}/variables")
    assert status == 200
    locals_ = {v["name"]: v["value"] for v in variables["scopes"][0]["variables"]}
    assert locals_["values"] == "[1, 2, 3]" and locals_["result"] == "0"

    status, result = await api("POST", f"sessions/{sid}/evaluate",
                               {"expression": "sum(values) * 2"})
    assert status == 200 and result["result"] == "12"

    # step in: into add(); step over inside it; step out back to main.
    status, model = await api("POST", f"sessions/{sid}/step", {"kind": "in"})
    assert status == 200 and model["completed"]
    assert model["stopped"]["name"] == "add" and model["stopped"]["line"] == 5
    status, model = await api("POST", f"sessions/{sid}/step", {"kind": "over"})
    assert model["stopped"]["line"] == 6
    status, model = await api("POST", f"sessions/{sid}/step", {"kind": "out"})
    assert model["stopped"]["name"] == "main" and model["stopped"]["line"] == 13

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
    text = {c: "".join(i["output"] for i in out["items"] if i["category"] == c)
            for c in ("stdout", "stderr")}
    assert text == {"stdout": "result 6\n", "stderr": "to stderr\n"}


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


# -- attach by pid --------------------------------------------------------------------


def _line(path: Path, marker: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if marker in text)


async def test_attach_by_pid_stop_evaluate_detach(api: Any, manager: Any,
                                                  targets: Path) -> None:
    program = targets / "waiter.py"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(program), stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"
        status, model = await api("POST", "sessions", {
            "debugger": "debugpy", "request": "attach", "pid": proc.pid,
            "breakpoints": [{"path": "targets/waiter.py",
                             "line": _line(program, "ATTACH-HERE")}]})
        assert status == 201, model
        assert model["pid"] == proc.pid
        session = manager.get(model["id"])
        assert await session.wait_for(lambda: session.state == "stopped", 60), session.error
        assert session.stopped["path"] == str(program)
        status, result = await api("POST", f"sessions/{model['id']}/evaluate",
                                   {"expression": "counter > 0"})
        assert status == 200 and result["result"] == "True"
        status, model = await api("DELETE", f"sessions/{model['id']}")
        assert status == 200 and model["state"] == "terminated"
        # Detaching leaves the process running, no longer under the debugger.
        assert proc.returncode is None
        assert psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_attach_to_a_missing_pid_is_a_clear_error(api: Any, manager: Any,
                                                        targets: Path) -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await proc.wait()  # a pid that existed and is now gone
    before = await api("GET", "sessions")
    status, error = await api("POST", "sessions", {
        "debugger": "debugpy", "request": "attach", "pid": proc.pid})
    assert status == 400
    assert error["message"] == f"there is no process with pid {proc.pid} to attach to"
    assert await api("GET", "sessions") == before


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
