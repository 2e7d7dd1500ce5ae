"""The worker as an IDE's adapter executable: DAP on stdin/stdout, target from argv."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
import time
import tty
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.dap import DapChannel, FrameDecoder, encode

from ..support.dap_client import DapTestClient, start_worker
from ..support.debuggers import WORKERS
from ..support.native import compile_targets, marker_line

TARGET = Path(__file__).parent.parent / "targets" / "loop.py"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return compile_targets(tmp_path_factory.mktemp("native"))


def _command_line(debugger: str, request: pytest.FixtureRequest) -> tuple[
        list[str], Path, int, int, str]:
    """What the worker's command line names (a script for debugpy, a binary for gdb and
    lldb, then the program's arguments), a breakpoint's source and line, and the exit code
    and stdout that follow from those arguments."""
    if debugger == "debugpy":
        # loop.py exits with 6 - 6 + argv[1]; line 5 is in add()
        return ["--program", str(TARGET), "4"], TARGET, 5, 4, "result 6\n"
    points = request.getfixturevalue("built")["points"]
    source = points.parent / "points.c"
    return (["--binary", str(points), "--", "first arg", "$HOME"], source,
            marker_line(source, "SQUARE-BODY"), 123,
            "arg[1]=first arg\narg[2]=$HOME\ntotal 120 levels 40 x 3\n")


def test_stdio_worker_with_program_and_arguments_from_its_command_line(
        debugger: str, request: pytest.FixtureRequest) -> None:
    argv, source, line, exit_code, stdout = _command_line(debugger, request)

    async def scenario() -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", WORKERS[debugger], "--session", "123", *argv,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        client = DapTestClient(DapChannel(proc.stdout, proc.stdin, name="ide"))
        caps = await client.request("initialize", {"adapterID": debugger})
        assert caps["supportsConfigurationDoneRequest"] is True
        launch = client.send("launch", {})
        await client.wait_event("initialized")
        bp = await client.request("setBreakpoints", {"source": {"path": str(source)},
                                                     "breakpoints": [{"line": line}]})
        assert bp["breakpoints"][0]["verified"] is True
        await client.request("configurationDone")
        assert (await asyncio.wait_for(launch, 30))["success"] is True
        stopped = await client.wait_event("stopped")
        assert stopped["body"]["reason"] == "breakpoint"
        await client.request("setBreakpoints", {"source": {"path": str(source)},
                                                "breakpoints": []})
        await client.request("continue", {"threadId": stopped["body"]["threadId"]})
        exited = await client.wait_event("exited")
        assert exited["body"]["exitCode"] == exit_code
        await client.wait_event("terminated")
        assert client.output("stdout") == stdout  # the arguments arrived verbatim
        proc.stdin.close()
        assert await asyncio.wait_for(proc.wait(), 30) == 0

    asyncio.run(scenario())


def test_launch_of_a_crashing_program_reports_its_error_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import no_such_module_here\n")

    async def scenario() -> None:
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


# -- any stdin/stdout (issue 12, item 7) ----------------------------------------------

HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello from a file"); return 3; }\n'
HELLO_PY = 'import sys\nprint("hello from a file")\nsys.exit(3)\n'


def _program(debugger: str, folder: Path) -> Path:
    """A program that prints a line and exits with code 3, for `debugger`."""
    if debugger == "debugpy":
        program = folder / "hello.py"
        program.write_text(HELLO_PY)
        return program
    source = folder / "hello.c"
    source.write_text(HELLO_C)
    subprocess.run(["gcc", "-g", "-O0", "-o", str(folder / "hello"), str(source)],
                   check=True, capture_output=True, timeout=60)
    return folder / "hello"


def _frames(*requests: tuple[str, dict[str, Any]]) -> bytes:
    """The DAP requests, framed, numbered from 1."""
    return b"".join(encode({"seq": seq, "type": "request", "command": command,
                            "arguments": arguments})
                    for seq, (command, arguments) in enumerate(requests, start=1))


def test_a_conversation_from_a_file_answered_into_a_file(debugger: str, tmp_path: Path) -> None:
    """stdin and stdout are regular files (asyncio's pipe transports refuse them): the
    requests are taken one at a time, as an IDE would send them, and every answer lands
    in the output file before the worker exits."""
    program = _program(debugger, tmp_path)
    source = tmp_path / ("hello.py" if debugger == "debugpy" else "hello.c")
    requests = tmp_path / "requests.dap"
    requests.write_bytes(_frames(
        ("initialize", {"adapterID": "file", "linesStartAt1": True}),
        ("launch", {"program": str(program), "cwd": str(tmp_path), "args": []}),
        ("setBreakpoints", {"source": {"path": str(source)}, "breakpoints": []}),
        ("configurationDone", {}),
    ))
    answers = tmp_path / "answers.dap"
    with requests.open("rb") as stdin, answers.open("wb") as stdout:
        done = subprocess.run([sys.executable, "-m", WORKERS[debugger], "--session", "123"],
                              stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                              cwd=tmp_path, timeout=60, check=False)
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    messages = FrameDecoder().feed(answers.read_bytes())
    responses = {m["request_seq"]: m for m in messages if m["type"] == "response"}
    assert sorted(responses) == [1, 2, 3, 4], messages
    assert all(r["success"] for r in responses.values()), responses
    events = [m for m in messages if m["type"] == "event"]
    names = [e["event"] for e in events]
    assert "initialized" in names
    assert "exited" in names and "terminated" in names[names.index("exited"):], names
    assert events[names.index("exited")]["body"]["exitCode"] == 3
    printed = "".join(e["body"]["output"] for e in events if e["event"] == "output"
                      and e["body"].get("category") == "stdout")
    assert "hello from a file" in printed


def test_on_a_terminal_it_says_what_it_is_for_and_keeps_serving(debugger: str) -> None:
    """stdin a terminal (a pty in raw mode, so DAP bytes pass as they are): the usage
    paragraph on stderr, then DAP as usual."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    try:
        proc = subprocess.Popen([sys.executable, "-m", WORKERS[debugger]], stdin=slave,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        os.close(slave)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        usage = _read_until(proc.stderr.fileno(), b"to quit.\n", 30).decode()
        assert "Debug Adapter Protocol adapter" in usage
        assert f"-m {WORKERS[debugger]}" in usage
        assert "forward SESSION --port" in usage and "debugServer" in usage
        os.write(master, _frames(("initialize", {"adapterID": "tty"})))
        answer = _read_until(proc.stdout.fileno(), b"}", 30)
        (response,) = FrameDecoder().feed(answer)
        assert response["command"] == "initialize" and response["success"] is True
    finally:
        os.close(master)  # the terminal hangs up: the worker ends
        assert proc.wait(30) == 0
        proc.stdout.close()
        proc.stderr.close()


def _read_until(fd: int, end: bytes, timeout: float) -> bytes:
    """Bytes read from `fd` until they end with `end` (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(end):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"nothing ending with {end!r} within {timeout} s: {data!r}"
        chunk = os.read(fd, 65536)
        assert chunk, f"end of stream before {end!r}: {data!r}"
        data += chunk
    return data
