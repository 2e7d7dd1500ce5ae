"""GDB/MI transport: record conversion on captured gdb 13 output, then against a real gdb.

The files under data/gdb_mi/ are gdb 13.1's raw stdout (`--interpreter=mi3`) while debugging
small C programs built with `gcc -g -O0`; the debuggee shared gdb's stdout, so its own
output ("a=84 b=168 x=3") is in there too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import psutil
import pytest

from jupyter_debug_server.dap import DapChannel
from jupyter_debug_server.runner.debuggers.gdb.console import ConsoleFilter
from jupyter_debug_server.runner.debuggers.gdb.mi import (
    GdbExited,
    MIConnection,
    MIError,
    MIRecord,
    MIResult,
    parse_line,
    quote,
)
from jupyter_debug_server.runner.debuggers.gdb.mi_values import exit_code, mi_bool, mi_int, mi_list

# the worker's composition root: importing it registers the handlers
from jupyter_debug_server.runner.debuggers.gdb_adapter import GdbAdapter

DATA = Path(__file__).parent.parent / "data" / "gdb_mi"


def _lines(name: str) -> list[str]:
    return (DATA / name).read_text().splitlines()


def _first(name: str, prefix: str, nth: int = 0) -> MIRecord | MIResult | None:
    matches = [line for line in _lines(name) if line.startswith(prefix)]
    return parse_line(matches[nth])


# --- record conversion on captured output -------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.txt")))
def test_every_captured_line_converts_by_its_sigil(name: str) -> None:
    kinds = {"*": "exec", "=": "notify", "~": "console", "@": "target", "&": "log"}
    for line in _lines(name):
        record = parse_line(line)
        if line.startswith("(gdb)"):
            assert record is None
        elif line.lstrip("0123456789").startswith("^"):
            assert isinstance(record, MIResult), line
            assert isinstance(record.payload, dict)
        elif line[0] in kinds:
            assert isinstance(record, MIRecord), line
            assert record.kind == kinds[line[0]], line
            assert isinstance(record.payload, dict if record.name else str), line
        else:  # the debuggee's own output on the shared stdout
            assert record == MIRecord("target", None, line)


def test_breakpoint_hit_stop() -> None:
    record = _first("breakpoint_run.txt", "*stopped")
    assert isinstance(record, MIRecord)
    assert (record.kind, record.name, record.token) == ("exec", "stopped", None)
    p = record.payload
    assert p["reason"] == "breakpoint-hit"
    assert (p["bkptno"], p["thread-id"], p["stopped-threads"]) == ("1", "1", "all")
    assert p["frame"]["func"] == "main" and p["frame"]["line"] == "16"
    assert p["frame"]["args"] == [{"name": "argc", "value": "1"},
                                  {"name": "argv", "value": "0x7fffffffe628"}]
    # A hit on one location of a multi-location breakpoint names the location.
    second = _first("breakpoint_run.txt", "*stopped", 2)
    assert isinstance(second, MIRecord)
    assert (second.payload["bkptno"], second.payload["locno"]) == ("2", "1")


def test_stepping_stop_and_running() -> None:
    record = _first("breakpoint_run.txt", "*stopped", 1)
    assert isinstance(record, MIRecord)
    assert record.payload["reason"] == "end-stepping-range"
    assert record.payload["frame"]["line"] == "17"
    running = _first("breakpoint_run.txt", "*running")
    assert running == MIRecord("exec", "running", {"thread-id": "all"})


def test_breakpoint_modified_with_multiple_locations() -> None:
    record = next(r for r in map(parse_line, _lines("breakpoint_run.txt"))
                  if isinstance(r, MIRecord) and r.name == "breakpoint-modified"
                  and r.payload["bkpt"]["number"] == "2")
    assert record.kind == "notify"
    bkpt = record.payload["bkpt"]
    assert bkpt["addr"] == "<MULTIPLE>" and bkpt["times"] == "0"
    assert [loc["number"] for loc in bkpt["locations"]] == ["2.1", "2.2"]
    assert {loc["line"] for loc in bkpt["locations"]} == {"8"}
    assert bkpt["locations"][0]["thread-groups"] == ["i1"]


def test_signal_and_exit_stops() -> None:
    segv = _first("segv_varobj.txt", "*stopped,reason=\"signal-received\"")
    assert isinstance(segv, MIRecord)
    assert segv.payload["signal-name"] == "SIGSEGV"
    assert segv.payload["signal-meaning"] == "Segmentation fault"
    assert segv.payload["frame"]["func"] == "crash" and segv.payload["thread-id"] == "1"
    killed = _first("segv_varobj.txt", "*stopped,reason=\"exited-signalled\"")
    assert isinstance(killed, MIRecord) and killed.payload["signal-name"] == "SIGSEGV"
    exited = _first("exit_and_errors.txt", "*stopped")
    assert exited == MIRecord("exec", "stopped", {"reason": "exited", "exit-code": "03"})
    # gdb prints exit codes in octal: exit(10) reads "012".
    threads_exit = _first("threads.txt", "*stopped", 1)
    assert isinstance(threads_exit, MIRecord)
    assert threads_exit.payload["exit-code"] == "012"
    assert exit_code(threads_exit.payload["exit-code"]) == 10
    assert exit_code("03") == 3 and exit_code(None) is None


def test_thread_records() -> None:
    records = [r for r in map(parse_line, _lines("threads.txt")) if isinstance(r, MIRecord)]
    created = [r.payload for r in records if r.name == "thread-created"]
    assert created == [{"id": "1", "group-id": "i1"}, {"id": "2", "group-id": "i1"}]
    stop = next(r for r in records if r.name == "stopped")
    assert stop.payload["thread-id"] == "2"
    started = next(r for r in records if r.name == "thread-group-started")
    assert started.payload["id"] == "i1" and mi_int(started.payload["pid"])
    info = _first("threads.txt", "14^done")
    assert isinstance(info, MIResult)
    assert [t["id"] for t in info.payload["threads"]] == ["1", "2"]
    assert info.payload["current-thread-id"] == "2"


def test_stack_and_varobj_results() -> None:
    stack = _first("segv_varobj.txt", "22^done")
    assert isinstance(stack, MIResult) and (stack.token, stack.result_class) == (22, "done")
    # The parser drops the `frame=` names of list items: a list of dicts remains.
    assert [(f["level"], f["func"]) for f in stack.payload["stack"]] == [
        ("0", "crash"), ("1", "main")]
    created = _first("segv_varobj.txt", "13^done")
    assert isinstance(created, MIResult)
    assert created.payload == {"name": "pt", "numchild": "3", "value": "{...}",
                               "type": "struct point", "thread-id": "1", "has_more": "0"}
    children = _first("segv_varobj.txt", "14^done")
    assert isinstance(children, MIResult)
    assert [c["exp"] for c in children.payload["children"]] == ["x", "y", "label"]
    assert children.payload["children"][2]["type"] == "const char *"
    argv = _first("segv_varobj.txt", "16^done")
    assert isinstance(argv, MIResult)
    assert argv.payload["children"][0]["value"] == '0x7fffffffe90f "/tmp/gdbcap/prog"'
    update = _first("segv_varobj.txt", "20^done")
    assert isinstance(update, MIResult)
    assert {c["name"]: c["value"] for c in update.payload["changelist"]}["cnt"] == "41"


def test_error_results() -> None:
    nope = _first("breakpoint_run.txt", "17^")
    assert nope == MIResult(17, "error", {"msg": 'No symbol "nope" in current context.'})
    undefined = _first("exit_and_errors.txt", "11^")
    assert undefined == MIResult(11, "error", {"msg": "Undefined MI command: undefined-thing",
                                               "code": "undefined-command"})
    assert _first("breakpoint_run.txt", "999^") == MIResult(999, "exit", {})
    assert _first("breakpoint_run.txt", "12^") == MIResult(12, "running", {})


def test_console_stream_escapes() -> None:
    record = _first("breakpoint_run.txt", '~"a\\t')
    assert record == MIRecord("console", None, 'a\tb "q" c:\\dir\n')
    split = [parse_line(line) for line in _lines("segv_varobj.txt")
             if line == '~"\\nProgram"']
    assert split == [MIRecord("console", None, "\nProgram")]  # gdb splits messages freely


def test_lines_not_seen_in_captures() -> None:
    assert parse_line("(gdb) ") is None
    assert parse_line('+download,{section=".text",section-size="6668"}') == MIRecord(
        "status", "download", {"section": ".text", "section-size": "6668"})
    assert parse_line('7*running,thread-id="all"') == MIRecord(
        "exec", "running", {"thread-id": "all"}, 7)
    assert parse_line('@"inferior says hi\\n"') == MIRecord("target", None, "inferior says hi\n")
    assert parse_line('&"warning: x\\n"') == MIRecord("log", None, "warning: x\n")
    assert parse_line("^done") == MIResult(None, "done", {})
    assert parse_line("3 apples") == MIRecord("target", None, "3 apples")
    assert parse_line('12~"no tokens on streams"') == MIRecord(
        "target", None, '12~"no tokens on streams"')


def test_quote() -> None:
    assert quote("plain") == '"plain"'
    assert quote('/a dir/"q"\\x\n\t\x01') == '"/a dir/\\"q\\"\\\\x\\n\\t\\001"'
    assert MIConnection.quote("é") == '"é"'


def test_mi_values() -> None:
    assert mi_int("42") == 42 and mi_int("0x1f") == 31 and mi_int(None) is None
    assert mi_int("<MULTIPLE>") is None
    assert mi_bool("y") and mi_bool("true") and not mi_bool("n") and not mi_bool(None)
    assert mi_list(None) == [] and mi_list({"a": "1"}) == [{"a": "1"}]
    assert mi_list([{"a": "1"}]) == [{"a": "1"}]


# --- against a real gdb -------------------------------------------------------------------

pytestmark_real = pytest.mark.skipif(
    shutil.which("gdb") is None or shutil.which("gcc") is None,
    reason="gdb or gcc is not installed (apt-get install gdb gcc)")

PROGRAM = r"""
#include <stdio.h>
static int square(int v) {
    return v * v;
}
int main(int argc, char **argv) {
    int counter = 41;
    counter = counter + 1;
    int sq = square(counter);
    printf("sq=%d\n", sq);
    return argc > 1 ? 0 : 3;
}
"""
LINE_COUNTER_PLUS_ONE = 8


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gdb") is None or shutil.which("gcc") is None:
        pytest.skip("gdb or gcc is not installed (apt-get install gdb gcc)")
    # Spaces, quotes and a backslash in the directory exercise MI quoting of paths.
    directory = tmp_path_factory.mktemp("gdb_mi") / 'a dir "q" \\b'
    directory.mkdir()
    (directory / "prog.c").write_text(PROGRAM)
    subprocess.run(["gcc", "-g", "-O0", "-o", "prog", "prog.c"], cwd=directory, check=True,
                   timeout=60)
    return directory / "prog"


def _run(coro: Coroutine[Any, Any, None], timeout: float = 90) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout))


async def _expect(queue: asyncio.Queue[MIRecord], kind: str, name: str | None,
                  timeout: float = 30, **fields: str) -> MIRecord:
    async def find() -> MIRecord:
        while True:
            record = await queue.get()
            if record.kind == kind and record.name == name and all(
                    record.payload.get(k) == v for k, v in fields.items()):
                return record
    return await asyncio.wait_for(find(), timeout)


async def _started(queue: asyncio.Queue[MIRecord], program: Path,
                   **kwargs: Any) -> MIConnection:
    conn = await asyncio.wait_for(MIConnection.start(on_record=queue.put_nowait, **kwargs), 30)
    await asyncio.wait_for(conn.command("-file-exec-and-symbols " + conn.quote(str(program))),
                           30)
    return conn


def _wait_gone(pid: int, timeout: float = 10) -> bool:
    """Wait (without polling) until `pid` has terminated; zombies count as terminated."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


@pytestmark_real
def test_run_step_and_evaluate(program: Path) -> None:
    async def scenario() -> None:
        queue: asyncio.Queue[MIRecord] = asyncio.Queue()
        conn = await _started(queue, program)
        try:
            bkpt = await asyncio.wait_for(conn.command("-break-insert main"), 30)
            assert bkpt["bkpt"]["fullname"] == str(program.parent / "prog.c")
            assert await asyncio.wait_for(conn.command("-exec-run"), 30) == {}
            hit = await _expect(queue, "exec", "stopped", reason="breakpoint-hit")
            assert hit.payload["bkptno"] == "1" and hit.payload["thread-id"] == "1"
            assert await asyncio.wait_for(conn.command("-exec-next"), 30) == {}
            step = await _expect(queue, "exec", "stopped", reason="end-stepping-range")
            assert step.payload["frame"]["line"] == str(LINE_COUNTER_PLUS_ONE)
            value = await asyncio.wait_for(
                conn.command("-data-evaluate-expression counter"), 30)
            assert value == {"value": "41"}
            await asyncio.wait_for(conn.command("-exec-continue"), 30)
            out = await _expect(queue, "target", None)
            assert out.payload == "sq=1764"
            done = await _expect(queue, "exec", "stopped", reason="exited")
            assert exit_code(done.payload["exit-code"]) == 3
        finally:
            await conn.close()

    _run(scenario())


@pytestmark_real
def test_errors_and_console(program: Path) -> None:
    async def scenario() -> None:
        seen: list[MIRecord] = []
        queue: asyncio.Queue[MIRecord] = asyncio.Queue()

        def on_record(record: MIRecord) -> None:
            seen.append(record)
            queue.put_nowait(record)

        conn = await asyncio.wait_for(MIConnection.start(on_record=on_record), 30)
        try:
            await asyncio.wait_for(
                conn.command("-file-exec-and-symbols " + conn.quote(str(program))), 30)
            with pytest.raises(MIError) as caught:
                await asyncio.wait_for(conn.command("-data-evaluate-expression nope"), 30)
            assert caught.value.message == 'No symbol "nope" in current context.'
            assert caught.value.command == "-data-evaluate-expression nope"
            assert caught.value.code is None
            with pytest.raises(MIError) as caught:
                await asyncio.wait_for(conn.command("-no-such-command"), 30)
            assert caught.value.code == "undefined-command"
            text = await asyncio.wait_for(conn.console("info line main"), 30)
            assert text.startswith("Line ") and "prog.c" in text
            echoed = await asyncio.wait_for(conn.console('echo a\\tb "q" \\\\ é\\n'), 30)
            assert echoed == 'a\tb "q" \\ é\n'
            with pytest.raises(MIError, match="Undefined command"):
                await asyncio.wait_for(conn.console("no-such-cli-command"), 30)
            # Records printed before a result reach on_record before the command returns.
            text = await asyncio.wait_for(conn.console("break square"), 30)
            assert text.startswith("Breakpoint 1 at ")
            assert [r.name for r in seen if r.kind == "notify"][-1] == "breakpoint-created"
            with pytest.raises(ValueError, match="line break"):
                await conn.command("-gdb-version\n-gdb-exit")
        finally:
            await conn.close()

    _run(scenario())


@pytestmark_real
def test_concurrent_commands_get_their_own_answers(program: Path) -> None:
    async def scenario() -> None:
        queue: asyncio.Queue[MIRecord] = asyncio.Queue()
        conn = await _started(queue, program)
        try:
            values = [conn.command(f"-data-evaluate-expression {i}") for i in range(50)]
            echoes = [conn.console(f"echo {i}\\n") for i in range(10)]
            results = await asyncio.wait_for(asyncio.gather(*values, *echoes), 30)
            assert results[:50] == [{"value": str(i)} for i in range(50)]
            assert results[50:] == [f"{i}\n" for i in range(10)]
        finally:
            await conn.close()

    _run(scenario())


@pytestmark_real
def test_over_long_reply_fails_its_command_only(program: Path) -> None:
    async def scenario() -> None:
        queue: asyncio.Queue[MIRecord] = asyncio.Queue()
        conn = await _started(queue, program, line_limit=4096)
        try:
            await asyncio.wait_for(conn.command("-gdb-set print elements unlimited"), 30)
            long_string = "".join(f"{i:05d}" for i in range(1000))
            with pytest.raises(MIError) as caught:
                await asyncio.wait_for(conn.command(
                    "-data-evaluate-expression " + conn.quote(f'"{long_string}"')), 30)
            assert caught.value.code == "reply-too-long"
            assert "line limit of 4096 bytes" in caught.value.message
            answer = await asyncio.wait_for(conn.command("-data-evaluate-expression 7"), 30)
            assert answer == {"value": "7"}
        finally:
            await conn.close()

    _run(scenario())


@pytestmark_real
def test_close_leaves_no_gdb_or_debuggee(program: Path) -> None:
    pids: list[int] = []

    async def scenario() -> None:
        queue: asyncio.Queue[MIRecord] = asyncio.Queue()
        conn = await _started(queue, program)
        pids.append(conn.pid)
        await asyncio.wait_for(conn.command("-break-insert main"), 30)
        await asyncio.wait_for(conn.command("-exec-run"), 30)
        started = await _expect(queue, "notify", "thread-group-started")
        pids.append(int(started.payload["pid"]))
        await _expect(queue, "exec", "stopped", reason="breakpoint-hit")
        await asyncio.wait_for(conn.close(), 30)
        await asyncio.wait_for(conn.close(), 30)  # idempotent
        assert conn.exited.done() and conn.exited.result() == 0
        with pytest.raises(GdbExited):
            await conn.command("-gdb-version")

    _run(scenario())
    for pid in pids:
        assert _wait_gone(pid)
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


@pytestmark_real
def test_killed_gdb_fails_pending_command(program: Path) -> None:
    children: list[psutil.Process] = []

    async def scenario() -> None:
        queue: asyncio.Queue[MIRecord] = asyncio.Queue()
        conn = await _started(queue, program)
        try:
            # gdb blocks in `shell` until the command ends: the MI command stays pending.
            pending = asyncio.ensure_future(
                conn.console("shell echo blocking; exec sleep 60"))
            await _expect(queue, "target", None)
            children.extend(psutil.Process(conn.pid).children(recursive=True))
            assert children
            os.kill(conn.pid, signal.SIGKILL)
            with pytest.raises(GdbExited, match="was pending"):
                await asyncio.wait_for(pending, 30)
            assert await asyncio.wait_for(conn.exited, 30) == -signal.SIGKILL
            with pytest.raises(GdbExited):
                await conn.command("-gdb-version")
        finally:
            await asyncio.wait_for(conn.close(), 30)  # also ends what gdb left behind

    _run(scenario())
    for child in children:
        assert _wait_gone(child.pid)


@pytestmark_real
def test_start_failures_are_clear() -> None:
    async def scenario() -> None:
        with pytest.raises(FileNotFoundError, match="could not start gdb '/nonexistent/gdb'"):
            await MIConnection.start("/nonexistent/gdb")
        with pytest.raises(GdbExited, match="unrecognized option '--no-such-flag'"):
            await asyncio.wait_for(MIConnection.start(extra_args=["--no-such-flag"]), 30)

    _run(scenario())


# --- the adapter's event order on a captured burst -----------------------------------------

# Stands in for gdb on its stdin/stdout: every command is done, except that `-exec-next`
# gets gdb's captured reply (next_burst.txt) in one write, so the adapter reads `*stopped`
# in the same pass as `^running`, before the request's handler can run again.
REPLAYING_GDB = '''\
import re, sys
burst = open(sys.argv[-1]).read()
for line in sys.stdin:
    token, command = re.match(r"(\\d*)(.*)", line.strip()).groups()
    if command.startswith("-exec-next"):
        sys.stdout.write(re.sub(r"^\\d+\\^", token + "^", burst))
    elif command == "-gdb-exit":
        sys.stdout.write(token + "^exit\\n")
        sys.stdout.flush()
        break
    else:
        sys.stdout.write(token + "^done\\n(gdb) \\n")
    sys.stdout.flush()
'''


def test_adapter_answers_next_before_the_stop_gdb_reported_in_the_same_read(
        tmp_path: Path) -> None:
    """DAP: the response to `next` comes first, then `continued` and `stopped`."""
    fake = tmp_path / "gdb"
    fake.write_text(f"#!{sys.executable}\n{REPLAYING_GDB}")
    fake.chmod(0o755)

    async def scenario() -> None:
        ours, theirs = socket.socketpair()
        client = await DapChannel.from_socket(theirs, name="client")
        order: list[str] = []  # what the client received, in order
        stopped = asyncio.get_running_loop().create_future()

        def on_event(event: dict[str, Any]) -> None:
            order.append(event["event"])
            if event["event"] == "stopped" and not stopped.done():
                stopped.set_result(event["body"])

        client.on_event = on_event
        client.start()
        channel = await DapChannel.from_socket(ours, name="adapter")
        adapter = GdbAdapter(channel, argparse.Namespace(binary=None, args=[]))
        channel.on_request = adapter.on_request
        channel.start()
        adapter.mi = await MIConnection.start(
            str(fake), extra_args=[str(DATA / "next_burst.txt")], on_record=adapter.on_record)
        adapter.kind, adapter.quiet, adapter.stopped_thread = "launch", False, 1
        try:
            responses: list[dict[str, Any]] = []

            def on_response(response: dict[str, Any]) -> None:
                order.append("response")
                responses.append(response)

            client.send_request("next", {"threadId": 1}, on_response)
            body = await asyncio.wait_for(stopped, 30)
            assert responses and responses[0]["success"], responses
            assert order == ["response", "continued", "stopped"], order
            assert body["reason"] == "step" and body["threadId"] == 1
        finally:
            await adapter.mi.close()
            channel.close()
            client.close()

    _run(scenario())


def test_console_filter_drops_the_stop_report_and_keeps_gdb_notices() -> None:
    shown: list[str] = []
    for name in sorted(p.name for p in DATA.glob("*.txt")):
        console = ConsoleFilter()
        for line in _lines(name):
            record = parse_line(line)
            if (isinstance(record, MIRecord) and record.kind == "console"
                    and console.passes(record.payload)):
                shown.append(record.payload)
    text = "".join(shown)
    for report in ("Breakpoint 1, main", "Breakpoint 2.1, twice", 'Thread 2 "thr" hit',
                   "16\t    struct point", "0x0000555555555165 in crash (p=0x0)"):
        assert report not in text, report
    assert "\n" not in shown
    for notice in ("[New Thread 0x7ffff7dd16c0 (LWP 13821)]\n",
                   "[Inferior 1 (process 13932) exited with code 03]\n",
                   "Program received signal SIGSEGV, Segmentation fault.\n",
                   "[Thread debugging using libthread_db enabled]\n"):
        assert notice in text, notice
