"""The native scenario suite: the gdb and the lldb adapter, each driven over DAP against
the same small C and C++ programs built with -g -O0.

Where the two debuggers legitimately differ (lldb names a struct `point`, gdb `struct
point`; lldb shows libc's frames below main) the assertion says so; where one lacks a
feature, its capabilities say so and the test checks the clean refusal.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ..support.dap_client import start_worker
from ..support.debuggers import NATIVE
from ..support.native import SOURCES, WORKERS, NativeSession, compile_targets, marker_line

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.parametrize("debugger", NATIVE, indirect=True)]
POINTS = SOURCES / "points.c"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return compile_targets(tmp_path_factory.mktemp("native"))


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_line_breakpoint_stack_variables_step_and_exit_code(
        debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        source = built["points"].parent / "points.c"
        line = marker_line(source, "MAIN-START")
        s = await NativeSession.launch(debugger, built["points"],
                                       breakpoints={source: [{"line": line}]})
        stop = await s.stopped()
        assert stop["reason"] == "breakpoint"
        thread = stop["threadId"]
        frames = await s.frames(thread)
        assert (frames[0]["name"], frames[0]["line"]) == ("main", line)
        assert frames[0]["source"]["path"] == str(source)
        local = await s.locals(frames[0]["id"])
        assert local["p"]["type"] in ("struct point", "point")  # gdb, lldb
        p = await s.children(local["p"]["variablesReference"])
        assert (p["x"]["value"], p["y"]["value"]) == ("3", "4")
        assert '"origin"' in p["label"]["value"]
        detail = await s.children(p["detail"]["variablesReference"])
        assert (detail["depth"]["value"], detail["ratio"]["value"]) == ("2", "0.5")
        union = await s.children(local["u"]["variablesReference"])
        assert union["i"]["value"] == "7"
        if debugger == "gdb":
            assert union["bytes"]["indexedVariables"] == 4
        else:  # lldb shows a char array as the C string it holds: 7, 0, 0, 0
            assert union["bytes"]["value"] == '"\\a"'
        pointer = await s.children(local["pp"]["variablesReference"])
        assert pointer["x"]["value"] == "3"  # a struct pointer shows the struct's members
        assert local["numbers"]["indexedVariables"] == 300
        page = await s.children(local["numbers"]["variablesReference"], start=250, count=3)
        assert {k: v["value"] for k, v in page.items()} == {
            "[250]": "500", "[251]": "502", "[252]": "504"}
        stop = await s.resume("next", thread)
        assert stop["reason"] == "step"
        assert (await s.frames(thread))[0]["line"] == line + 1
        await s.client.request("setBreakpoints", {"source": {"path": str(source)},
                                                  "breakpoints": []})
        await s.client.request("continue", {"threadId": thread})
        exited = await s.client.wait_event("exited")
        # total = 0 + 4 + 16 + 36 + 64 = 120; (120 + 3) % 256
        assert exited["body"]["exitCode"] == 123
        assert s.client.output("stdout").endswith("total 120 levels 40 x 3\n")
        assert s.client.output("stderr") == "label origin\n"
        await s.close()

    run(scenario)


def test_conditional_hit_count_and_log_breakpoints(debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        source = built["points"].parent / "points.c"
        body = marker_line(source, "SQUARE-BODY")
        loop = marker_line(source, "LOOP-BODY")
        s = await NativeSession.launch(debugger, built["points"], breakpoints={source: [
            {"line": body, "condition": "n == 6"},
            {"line": loop, "logMessage": "i is {i}, total {total}"},
        ]})
        stop = await s.stopped()
        frames = await s.frames(stop["threadId"])
        local = await s.locals(frames[0]["id"])
        assert frames[0]["name"] == "square"
        assert (await s.client.request("evaluate", {
            "expression": "n", "context": "watch", "frameId": frames[0]["id"]}))["result"] == "6"
        assert local["result"]["type"] == "int"
        assert "i is 0, total 0\n" in s.client.output("console")
        assert "i is 3, total 20\n" in s.client.output("console")
        await s.close()

    run(scenario)


def test_hit_count_breakpoint_stops_on_the_nth_hit(debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        source = built["points"].parent / "points.c"
        s = await NativeSession.launch(debugger, built["points"], breakpoints={source: [
            {"line": marker_line(source, "SQUARE-BODY"), "hitCondition": "4"}]})
        stop = await s.stopped()
        frames = await s.frames(stop["threadId"])
        n = await s.client.request("evaluate", {"expression": "n", "context": "watch",
                                                "frameId": frames[0]["id"]})
        assert n["result"] == "6"  # square(0), square(2), square(4), then square(6)
        await s.close()

    run(scenario)


def test_bad_hit_condition_is_refused_per_breakpoint(debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        source = built["points"].parent / "points.c"
        s = await NativeSession.launch(debugger, built["points"], stop_on_entry=True)
        await s.stopped()
        body = await s.client.request("setBreakpoints", {"source": {"path": str(source)},
                                                         "breakpoints": [
            {"line": marker_line(source, "SQUARE-BODY"), "hitCondition": "every other"},
            {"line": marker_line(source, "LOOP-BODY")}]})
        first, second = body["breakpoints"]
        assert not first["verified"] and "every other" in first["message"]
        assert second["verified"]
        await s.close()

    run(scenario)


def test_function_breakpoint_and_deep_recursion_with_paging(
        debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        source = built["points"].parent / "points.c"
        s = await NativeSession.launch(debugger, built["points"], functions=["recurse"])
        stop = await s.stopped()
        thread = stop["threadId"]
        assert stop["reason"] == "breakpoint"
        await s.client.request("setFunctionBreakpoints", {"breakpoints": []})
        await s.client.request("setBreakpoints", {"source": {"path": str(source)}, "breakpoints": [
            {"line": marker_line(source, "RECURSE-BODY"), "condition": "n == 0"}]})
        stop = await s.resume("continue", thread)
        body = await s.client.request("stackTrace", {"threadId": thread, "startFrame": 0,
                                                     "levels": 10})
        everything = await s.frames(thread)
        names = [f["name"] for f in everything]
        # recurse(40..0), main, and (lldb only) libc's start-up frames below main.
        assert names[:42] == ["recurse"] * 41 + ["main"], names
        assert body["totalFrames"] == len(everything) >= 42
        page = await s.client.request("stackTrace", {"threadId": thread, "startFrame": 40,
                                                     "levels": 2})
        assert [f["name"] for f in page["stackFrames"]] == ["recurse", "main"]
        frame_ids = {f["id"] for f in body["stackFrames"]} | {f["id"] for f in
                                                              page["stackFrames"]}
        assert len(frame_ids) == 12
        await s.close()

    run(scenario)


def test_set_variable_changes_what_the_program_computes(
        debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        source = built["points"].parent / "points.c"
        line = marker_line(source, "MAIN-START")
        s = await NativeSession.launch(debugger, built["points"],
                                       breakpoints={source: [{"line": line}]})
        stop = await s.stopped()
        frames = await s.frames(stop["threadId"])
        scopes = await s.client.request("scopes", {"frameId": frames[0]["id"]})
        ref = scopes["scopes"][0]["variablesReference"]
        local = await s.locals(frames[0]["id"])
        changed = await s.client.request("setVariable", {
            "variablesReference": local["p"]["variablesReference"], "name": "x", "value": "10"})
        assert changed["value"] == "10"
        await s.client.request("setVariable", {"variablesReference": ref, "name": "total",
                                               "value": "1000"})
        watched = await s.client.request("evaluate", {"expression": "total", "context": "watch",
                                                      "frameId": frames[0]["id"]})
        assert watched["result"] == "1000"
        await s.client.request("setBreakpoints", {"source": {"path": str(source)},
                                                  "breakpoints": []})
        await s.client.request("continue", {"threadId": stop["threadId"]})
        exited = await s.client.wait_event("exited")
        # p.x is now 10; total is set to 0 again by the line we stopped before.
        assert exited["body"]["exitCode"] == (120 + 10) % 256
        await s.close()

    run(scenario)


def test_segfault_stops_with_the_signal_named(debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        s = await NativeSession.launch(debugger, built["crash"])
        stop = await s.stopped()
        assert stop["reason"] == "exception"
        assert "SIGSEGV" in stop["description"]  # gdb: "SIGSEGV: …", lldb: "signal SIGSEGV: …"
        frames = await s.frames(stop["threadId"])
        assert frames[0]["line"] == marker_line(SOURCES / "crash.c", "CRASH-LINE")
        assert s.client.output("stdout") == "about to crash\n"
        await s.close()

    run(scenario)


def test_arguments_with_shell_metacharacters_arrive_verbatim(
        debugger: str, built: dict[str, Path]) -> None:
    nasty = ["$(id)", "a;b", "*", "it's", '"quoted"', "two words", "`uname`"]

    async def scenario() -> None:
        s = await NativeSession.launch(debugger, built["points"], args=nasty)
        await s.client.wait_event("exited")
        expected = "".join(f"arg[{i}]={a}\n" for i, a in enumerate(nasty, 1))
        assert s.client.output("stdout").startswith(expected)
        await s.close()

    run(scenario)


def test_stop_on_entry_stops_in_main(debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        s = await NativeSession.launch(debugger, built["points"], stop_on_entry=True)
        stop = await s.stopped()
        assert stop["reason"] == "entry"
        assert (await s.frames(stop["threadId"]))[0]["name"] == "main"
        await s.close()

    run(scenario)


def test_two_threads_stop_at_a_breakpoint(debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        source = built["threads"].parent / "threads.c"
        s = await NativeSession.launch(debugger, built["threads"], breakpoints={
            source: [{"line": marker_line(source, "THREAD-BODY")}]})
        first = await s.stopped()
        threads = (await s.client.request("threads"))["threads"]
        assert len(threads) >= 2
        assert first["threadId"] in {t["id"] for t in threads}
        # When both threads reach the line in the same instant, lldb reports the two hits
        # as two `stopped` events of one stop (both sent before the `threads` answer above,
        # so both are here now); gdb reports the second after a continue.
        hits = {e["body"]["threadId"] for e in s.client.events
                if e.get("event") == "stopped" and e["body"]["reason"] == "breakpoint"}
        latest = first
        if len(hits) == 1:
            latest = await s.resume("continue", first["threadId"])
            assert latest["reason"] == "breakpoint"
            hits.add(latest["threadId"])
        assert len(hits) == 2, hits  # each thread stopped there once
        await s.client.request("setBreakpoints", {"source": {"path": str(source)},
                                                  "breakpoints": []})
        # (The first thread may have finished meanwhile: continue from the latest stop.)
        await s.client.request("continue", {"threadId": latest["threadId"]})
        assert (await s.client.wait_event("exited"))["body"]["exitCode"] == 0
        assert s.client.output("stdout") == "counts 1 1\n"
        await s.close()

    run(scenario)


def test_cpp_exception_breakpoint(debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        s = await NativeSession.launch(debugger, built["throw"], exceptions=["throw"])
        stop = await s.stopped()
        assert stop["reason"] == "exception"
        names = [f["name"] for f in await s.frames(stop["threadId"])]
        assert any("risky" in (n or "") for n in names), names
        await s.close()

    run(scenario)


REPL_COMMANDS = {"gdb": "-exec info line main", "lldb": "image lookup -n main"}


def test_repl_runs_debugger_commands(debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        s = await NativeSession.launch(debugger, built["points"], stop_on_entry=True)
        await s.stopped()
        result = await s.client.request("evaluate", {"expression": REPL_COMMANDS[debugger],
                                                     "context": "repl"})
        assert "main" in result["result"] and "points.c" in result["result"]
        with pytest.raises(Exception, match="must not change the program"):
            await s.client.request("evaluate", {"expression": "depth_reached = 3",
                                                "context": "hover"})
        await s.close()

    run(scenario)



async def _start_waiter(program: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(str(program), stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"
    return proc


def test_attach_to_a_running_process_then_detach(debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        source = built["waiter"].parent / "waiter.c"
        proc = await _start_waiter(built["waiter"])
        try:
            client, worker = await start_worker(WORKERS[debugger])
            await client.request("initialize", {})
            await client.request("attach", {"processId": proc.pid})
            await client.wait_event("initialized")
            body = await client.request("setBreakpoints", {"source": {"path": str(source)},
                                                           "breakpoints": [{"line": marker_line(
                                                               source, "TICK-BODY")}]})
            assert body["breakpoints"][0]["verified"]
            await client.request("configurationDone")
            stop = (await client.wait_event("stopped"))["body"]
            assert stop["reason"] == "breakpoint"
            frames = (await client.request("stackTrace", {"threadId": stop["threadId"]}))
            assert frames["stackFrames"][0]["name"] == "tick"
            await client.request("disconnect", {"terminateDebuggee": False})
            await asyncio.wait_for(worker.wait(), 30)
            assert proc.returncode is None  # detached: it runs on
        finally:
            proc.kill()
            await proc.wait()

    run(scenario)


def test_core_file_made_with_gcore(debugger: str, built: dict[str, Path], tmp_path: Path) -> None:
    async def scenario() -> None:
        gcore = shutil.which("gcore")
        assert gcore, "gcore comes with gdb; install gdb"
        proc = await _start_waiter(built["waiter"])
        try:
            dump = await asyncio.create_subprocess_exec(
                gcore, "-o", str(tmp_path / "core"), str(proc.pid),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            assert await asyncio.wait_for(dump.wait(), 60) == 0
        finally:
            proc.kill()
            await proc.wait()
        core = tmp_path / f"core.{proc.pid}"
        client, worker = await start_worker(WORKERS[debugger])
        await client.request("initialize", {})
        await client.request("launch", {"program": str(built["waiter"]),
                                        "coreFile": str(core)})
        await client.wait_event("initialized")
        await client.request("configurationDone")
        stop = (await client.wait_event("stopped"))["body"]
        assert stop["reason"] == "exception" and stop["description"].startswith("core file")
        frames = (await client.request("stackTrace", {"threadId": stop["threadId"]}))[
            "stackFrames"]
        assert "main" in [f["name"] for f in frames]
        counter = await client.request("evaluate", {"expression": "counter > 0",
                                                    "context": "watch"})
        assert counter["result"] in ("1", "true")  # C's int (gdb), C++'s bool (lldb)
        with pytest.raises(Exception, match="cannot run or step"):
            await client.request("next", {"threadId": stop["threadId"]})
        await client.request("disconnect", {})
        await asyncio.wait_for(worker.wait(), 30)

    run(scenario)


def test_disassemble_and_read_memory(debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        s = await NativeSession.launch(debugger, built["points"], stop_on_entry=True)
        stop = await s.stopped()
        frame = (await s.frames(stop["threadId"]))[0]
        pc = frame["instructionPointerReference"]
        body = await s.client.request("disassemble", {"memoryReference": pc,
                                                      "instructionOffset": -3,
                                                      "instructionCount": 8})
        instructions = body["instructions"]
        assert len(instructions) == 8
        addresses = [int(i["address"], 16) for i in instructions]
        assert addresses[3] == int(pc, 16)
        assert addresses == sorted(addresses) and len(set(addresses)) == 8
        assert instructions[3]["symbol"].startswith("main+")
        address = await s.client.request("evaluate", {"expression": "&depth_reached",
                                                      "context": "watch"})
        pointer = address["result"].split()[0]
        await s.client.request("setVariable", {"variablesReference": (await s.client.request(
            "scopes", {"frameId": frame["id"]}))["scopes"][0]["variablesReference"],
            "name": "total", "value": "5"})
        if not s.capabilities.get("supportsReadMemoryRequest"):  # lldb-dap 19
            with pytest.raises(Exception, match="'readMemory' is not supported"):
                await s.client.request("readMemory", {"memoryReference": pointer, "count": 4})
            await s.close()
            return
        memory = await s.client.request("readMemory", {"memoryReference": pointer,
                                                       "count": 4})
        assert base64.b64decode(memory["data"]) == (0).to_bytes(4, "little")
        await s.close()

    run(scenario)


def test_pending_breakpoint_in_a_library_loaded_later(
        debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        plugin_source = built["libplugin"].parent / "libplugin.c"
        line = marker_line(plugin_source, "PLUGIN-BODY")
        client, worker = await start_worker(WORKERS[debugger])
        s = NativeSession(client, worker)
        await client.request("initialize", {})
        launch = client.send("launch", {"program": str(built["plugin_host"]),
                                        "args": [str(built["libplugin"])]})
        await client.wait_event("initialized")
        body = await client.request("setBreakpoints", {"source": {"path": str(plugin_source)},
                                                       "breakpoints": [{"line": line}]})
        pending = body["breakpoints"][0]
        assert pending["verified"] is False and "pending" in pending["message"]
        await client.request("configurationDone")
        assert (await launch)["success"]
        event = await client.wait_event(
            "breakpoint", lambda e: e["body"]["breakpoint"]["verified"])
        assert event["body"]["breakpoint"]["id"] == pending["id"]
        assert event["body"]["breakpoint"]["line"] == line
        stop = await s.stopped()
        assert stop["reason"] == "breakpoint"
        assert (await s.frames(stop["threadId"]))[0]["name"] == "plugin_compute"
        await client.request("setBreakpoints", {"source": {"path": str(plugin_source)},
                                                "breakpoints": []})
        await client.request("continue", {"threadId": stop["threadId"]})
        assert (await client.wait_event("exited"))["body"]["exitCode"] == 0
        assert client.output("stdout") == "plugin says 42\n"
        await s.close()

    run(scenario)


def test_pause_step_in_out_instruction_step_and_terminate(
        debugger: str, built: dict[str, Path]) -> None:
    async def scenario() -> None:
        s = await NativeSession.launch(debugger, built["waiter"])
        await s.client.wait_event("output", lambda e: e["body"].get("output") == "ready\n")
        mark = len(s.client.events)
        await s.client.request("pause", {"threadId": 1})
        stop = await s.stopped(after=mark)
        assert stop["reason"] == "pause"
        thread = stop["threadId"]
        # Climb out of libc's sleep into main, then into tick() and back.
        for _ in range(6):
            if (await s.frames(thread))[0]["name"] == "main":
                break
            await s.resume("stepOut", thread)
        assert (await s.frames(thread))[0]["name"] == "main"
        while (await s.frames(thread))[0]["name"] == "main":
            await s.resume("stepIn", thread)
        frames = await s.frames(thread)
        assert frames[0]["name"] == "tick"
        before = frames[0]["instructionPointerReference"]
        stop = await s.resume("next", thread, granularity="instruction")
        assert stop["reason"] == "step"
        assert (await s.frames(thread))[0]["instructionPointerReference"] != before
        await s.resume("stepOut", thread)
        assert (await s.frames(thread))[0]["name"] == "main"
        await s.client.request("terminate", {})
        exited = await s.client.wait_event("exited")
        assert exited["body"]["exitCode"] in (-15, 143)  # SIGTERM reached the program
        await s.close()

    run(scenario)


def test_no_init_file_of_the_targets_folder_is_read(
        debugger: str, built: dict[str, Path], tmp_path: Path) -> None:
    """A `.gdbinit`/`.lldbinit` beside the program (or in its cwd) is never loaded: it could
    run anything as the user, and here it would stop the program in main."""
    program = tmp_path / "points"
    shutil.copy(built["points"], program)
    (tmp_path / ".gdbinit").write_text("echo INIT-RAN\\n\nbreak main\n")
    (tmp_path / ".lldbinit").write_text("script print('INIT-RAN')\nbreakpoint set -n main\n")

    async def scenario() -> None:
        s = await NativeSession.launch(debugger, program)
        exited = await s.client.wait_event("exited")
        assert exited["body"]["exitCode"] == 123
        assert not [e for e in s.client.events if e.get("event") == "stopped"]
        assert "INIT-RAN" not in s.client.output("console")
        await s.close()

    run(scenario)


def test_process_event_after_launch_and_attach(debugger: str, built: dict[str, Path]) -> None:
    """DAP's `process` event, which LLVM's dap_server.py waits for after launch/attach."""
    def process_event(events: list[dict[str, Any]]) -> dict[str, Any]:
        found = [e["body"] for e in events if e["event"] == "process"]
        assert len(found) == 1, events
        return dict(found[0])

    async def scenario() -> None:
        s = await NativeSession.launch(debugger, built["points"], stop_on_entry=True)
        await s.stopped()
        pid = next(e["body"]["pid"] for e in s.client.events
                   if e["event"] == "jupyterDebugServer.target")
        process = process_event(s.client.events)
        assert process["systemProcessId"] == pid and process["isLocalProcess"] is True
        assert process["startMethod"] == "launch" and process["name"].endswith("points")
        await s.close()

        proc = await _start_waiter(built["waiter"])
        try:
            client, worker = await start_worker(WORKERS[debugger])
            await client.request("initialize", {})
            await client.request("attach", {"processId": proc.pid})
            await client.wait_event("initialized")
            await client.request("configurationDone")
            process = process_event(client.events)
            assert process["systemProcessId"] == proc.pid, process
            assert process["startMethod"] == "attach" and process["isLocalProcess"] is True
            await client.request("disconnect", {"terminateDebuggee": False})
            await asyncio.wait_for(worker.wait(), 30)
        finally:
            proc.kill()
            await proc.wait()

    run(scenario)


def test_breakpoint_hits_print_no_console_line(debugger: str, built: dict[str, Path]) -> None:
    """The stop event says where: no console line per hit (gdb printed `Breakpoint 1, …`
    and the source line at each); the program's output and gdb's notices still arrive."""
    async def scenario() -> None:
        source = built["points"].parent / "points.c"
        s = await NativeSession.launch(debugger, built["points"], breakpoints={
            source: [{"line": marker_line(source, "SQUARE-BODY")}]})
        stop = await s.stopped()
        for _ in range(4):
            stop = await s.resume("continue", stop["threadId"])
            assert stop["reason"] == "breakpoint"
        await s.client.request("setBreakpoints", {"source": {"path": str(source)},
                                                  "breakpoints": []})
        mark = len(s.client.events)
        await s.client.request("continue", {"threadId": stop["threadId"]})
        await s.client.wait_event("terminated", after=mark)
        console = s.client.output("console")
        assert "reakpoint" not in console and "SQUARE-BODY" not in console, console
        assert "total 120" in s.client.output("stdout")
        await s.close()

        crash = await NativeSession.launch(debugger, built["crash"])
        await crash.stopped()
        console = crash.client.output("console")
        assert "CRASH-LINE" not in console and "crash.c:" not in console, console
        if debugger == "gdb":  # gdb's own notice of the signal is kept
            assert "Program received signal SIGSEGV" in console, console
        await crash.close()

    run(scenario)
