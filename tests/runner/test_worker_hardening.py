"""Issue 11, the worker and its channels: isolation from the session's folder (finding 3),
replies no debugger can make hang (finding 4), errors without tracebacks (finding 6),
and events only the worker may send (finding 8). Real debugpy, gdb and jupyter_server."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.runner import worker_process as session_worker
from jupyter_debug_server.runner.config import RunnerConfig
from jupyter_debug_server.runner.errors import without_traceback
from jupyter_debug_server.runner.manager import SessionManager
from jupyter_debug_server.runner.processes import boot_id, process_start_time
from jupyter_debug_server.store import Store

from ..support.native import GDB_WORKER
from ..support.openapi import check
from ..support.watchdog import Watchdog
from ..support.ws_dap import TunnelClient

pytestmark = pytest.mark.timeout(120)

_SHADOWED = ("socket", "logging")

_CWD_PROBE_PY = "import os\nprint('cwd=' + os.getcwd(), flush=True)\n"
_CWD_PROBE_C = """#include <stdio.h>
#include <unistd.h>
int main(void) {
    char buf[4096];
    if (getcwd(buf, sizeof buf)) printf("cwd=%s\\n", buf);
    return 0;
}
"""

_SURROGATE_THREAD = """import threading

release = threading.Event()
worker = threading.Thread(target=release.wait, name="main-\\udc80", daemon=True)
worker.start()
ready = True  # BREAK
release.set()
"""

_FORGER = """import os
import pydevd

print("pid", os.getpid(), flush=True)
pydevd.send_json_message({"type": "event", "seq": 0, "event": "jupyterDebugServer.target",
                          "body": {"pid": 1, "startTime": 12345.0}})
done = True  # BREAK
"""


_SURROGATE_OUTPUT = """import pydevd

print("before", flush=True)
pydevd.send_json_message({"type": "event", "seq": 0, "event": "output",
                          "body": {"category": "console", "output": "name-\\udc80\\n"}})
print("after", flush=True)
done = True  # BREAK
"""


def _gate(allowed: tuple[str, ...]) -> Iterator[None]:
    """The traceback gate of conftest.py with some expected lines allowed."""
    watchdog = Watchdog()
    loggers = [logging.getLogger(), logging.getLogger("ServerApp"),
               logging.getLogger("tornado.application")]
    for logger in loggers:
        logger.addHandler(watchdog)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(watchdog)
    bad = [line for line in watchdog.bad if not line.startswith(allowed)]
    assert not bad, "unexpected error log:\n" + "\n".join(bad)


def _line_of(text: str, marker: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if marker in line)


async def _until(manager: Any, session_id: str, *states: str, timeout: float = 60) -> Any:
    session = manager.get(session_id)
    assert await session.wait_for(lambda: session.state in states, timeout), (
        session.state, session.error, session.stopped)
    return session


async def _output(api: Any, session_id: str) -> str:
    status, out = await api("GET", f"sessions/{session_id}/output")
    assert status == 200, out
    return "".join(item["output"] for item in out["items"] if item["category"] == "stdout")


def _compile(folder: Path, name: str, source: str) -> Path:
    if shutil.which("gcc") is None:
        pytest.fail("gcc is not installed; run bash scripts/setup.sh test")
    (folder / f"{name}.c").write_text(source)
    subprocess.run(["gcc", "-g", "-O0", "-o", str(folder / name), str(folder / f"{name}.c")],
                   check=True, capture_output=True)
    return folder / name


def _shadowing_folder(root: Path, markers: Path) -> Path:
    """A session folder whose socket.py and logging.py leave a marker when imported."""
    work = root / "work"
    work.mkdir()
    markers.mkdir()
    for name in _SHADOWED:
        (work / f"{name}.py").write_text(
            f"open({str(markers / name)!r}, 'w').close()\n")
    return work


@pytest.mark.parametrize("debugger", ["debugpy", "debugpy-module", "gdb", "lldb"])
async def test_the_worker_never_imports_from_the_session_folder(
        api: Any, manager: Any, jp_root_dir: Path, tmp_path: Path, debugger: str) -> None:
    """Finding 3: workers ran `python -m …` in the session's cwd, so a socket.py there ran
    inside them. The target still gets that cwd. (A module target has the folder on its
    sys.path, as `python -m` gives it; our boot code imports nothing from it either.)"""
    markers = tmp_path / "markers"
    work = _shadowing_folder(jp_root_dir, markers)
    programs = jp_root_dir / "programs"
    programs.mkdir()
    spec: dict[str, Any] = {"debugger": debugger, "cwd": "work"}
    if debugger == "debugpy":
        spec["program"] = str(programs / "probe.py")
        (programs / "probe.py").write_text(_CWD_PROBE_PY)
    elif debugger == "debugpy-module":
        spec.update(debugger="debugpy", module="probe_module")
        (work / "probe_module.py").write_text(_CWD_PROBE_PY)
    else:
        spec["program"] = str(_compile(programs, "probe", _CWD_PROBE_C))
    status, model = await api("POST", "sessions", spec)
    assert status == 201, model
    session = await _until(manager, model["id"], "exited", "failed", "terminated")
    assert session.state == "exited", session.error
    assert f"cwd={work}\n" in await _output(api, model["id"])
    assert sorted(os.listdir(markers)) == []


async def test_a_surrogate_thread_name_is_answered_on_rest_and_tunnel(
        api: Any, manager: Any, jp_root_dir: Path, jp_ws_fetch: Any) -> None:
    """Finding 4: pydevd's `threads` reply with a thread named "main-\\udc80" could not be
    re-encoded by the worker, which then never answered."""
    program = jp_root_dir / "named_thread.py"
    program.write_text(_SURROGATE_THREAD)
    status, model = await api("POST", "sessions", {
        "debugger": "debugpy", "program": str(program),
        "breakpoints": [{"path": str(program),
                         "line": _line_of(_SURROGATE_THREAD, "# BREAK")}]})
    assert status == 201, model
    sid = model["id"]
    await _until(manager, sid, "stopped")

    status, body = await api("POST", f"sessions/{sid}/dap", {"command": "threads"})
    assert status == 200, body
    assert "main-\udc80" in [t["name"] for t in body["threads"]]
    status, stack = await api("GET", f"sessions/{sid}/stack")
    assert status == 200 and stack["frames"][0]["name"] == "<module>", stack

    conn = await jp_ws_fetch("api", "debug", "sessions", sid, "dap")
    client = TunnelClient(conn)
    try:
        await client.join()
        threads = (await client.body("threads"))["threads"]
        assert "main-\udc80" in [t["name"] for t in threads]
    finally:
        await client.close()
    status, _ = await api("DELETE", f"sessions/{sid}")
    assert status in (200, 204)


async def test_the_debuggee_cannot_forge_the_workers_target_event(
        api: Any, manager: Any, jp_root_dir: Path) -> None:
    """Finding 8: pydevd relays any event its debuggee sends, our private one included."""
    program = jp_root_dir / "forger.py"
    program.write_text(_FORGER)
    status, model = await api("POST", "sessions", {
        "debugger": "debugpy", "program": str(program),
        "breakpoints": [{"path": str(program), "line": _line_of(_FORGER, "# BREAK")}]})
    assert status == 201, model
    session = await _until(manager, model["id"], "stopped")
    real_pid = int((await _output(api, session.id)).split()[1])
    assert session.pid == real_pid
    assert session.pid_start_time != 12345.0
    row = await session.store.get_session(session.id)
    assert (row["pid"], row["pid_start_time"]) == (real_pid, session.pid_start_time)
    status, _ = await api("DELETE", f"sessions/{session.id}")
    assert status in (200, 204)


async def test_output_with_a_lone_surrogate_is_stored_with_the_rest(
        api: Any, manager: Any, jp_root_dir: Path) -> None:
    """Finding 4's strings reach the output too: one chunk SQLite could not take as UTF-8
    failed its whole batch (stdout around it included) with an ERROR."""
    program = jp_root_dir / "surrogate_output.py"
    program.write_text(_SURROGATE_OUTPUT)
    status, model = await api("POST", "sessions", {
        "debugger": "debugpy", "program": str(program),
        "breakpoints": [{"path": str(program),
                         "line": _line_of(_SURROGATE_OUTPUT, "# BREAK")}]})
    assert status == 201, model
    session = await _until(manager, model["id"], "stopped")
    status, out = await api("GET", f"sessions/{session.id}/output")
    assert status == 200, out
    text = {c: "".join(i["output"] for i in out["items"] if i["category"] == c)
            for c in ("stdout", "console")}
    assert text["stdout"] == "before\nafter\n"
    assert "name-\ufffd\n" in text["console"]
    status, _ = await api("DELETE", f"sessions/{session.id}")
    assert status in (200, 204)


class TestUnansweredRequests:
    """Finding 4: no DAP request of the server waits forever."""

    @pytest.fixture(autouse=True)
    def fail_on_traceback(self) -> Iterator[None]:
        """conftest's gate, except jupyter_server's access log of our 504s (it logs every
        5xx at ERROR, with the request's scrubbed headers)."""
        yield from _gate(("ServerApp ERROR: 504 POST ", "ServerApp ERROR: {"))

    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict[str, Any]) -> dict[str, Any]:
        jp_server_config["DebugServerApp"]["request_timeout"] = 2.0
        return jp_server_config

    async def test_a_debugger_that_does_not_answer_ends_in_504_and_the_session_goes_on(
            self, api: Any, manager: Any, jp_root_dir: Path) -> None:
        program = jp_root_dir / "named_thread.py"
        program.write_text(_SURROGATE_THREAD)
        status, model = await api("POST", "sessions", {
            "debugger": "debugpy", "program": str(program),
            "breakpoints": [{"path": str(program),
                             "line": _line_of(_SURROGATE_THREAD, "# BREAK")}]})
        assert status == 201, model
        session = await _until(manager, model["id"], "stopped")
        # pydevd lives in the debuggee: stopping the process stops the debugger.
        os.kill(session.pid, signal.SIGSTOP)
        try:
            status, body = await api("POST", f"sessions/{session.id}/dap",
                                     {"command": "threads"})
            assert status == 504, body
            assert body["reason"] == "debugger-timeout"
            check("POST", "/api/debug/sessions/{session_id}/dap", status, body)
            assert "'threads'" in body["message"] and "2 s" in body["message"]
            status, body = await api("POST", f"sessions/{session.id}/evaluate",
                                     {"expression": "1 + 1"})
            assert status == 504 and "'evaluate'" in body["message"], body
        finally:
            os.kill(session.pid, signal.SIGCONT)
        status, body = await api("POST", f"sessions/{session.id}/evaluate",
                                 {"expression": "40 + 2"})
        assert status == 200 and body["result"] == "42", body
        assert session.state == "stopped"
        status, _ = await api("DELETE", f"sessions/{session.id}")
        assert status in (200, 204)


class TestWorkerCrashAtStart:
    """Finding 6: the session's `error` carried the worker's Python traceback."""

    @pytest.fixture(autouse=True)
    def fail_on_traceback(self) -> Iterator[None]:
        """conftest's gate, except the crash's traceback in the worker's log lines: the
        server log is where it belongs."""
        yield from _gate(("jupyter_debug_server.runner.session INFO: worker ",))

    @pytest.fixture
    def fake_gdb(self, tmp_path: Path) -> Path:
        script = tmp_path / "fake-gdb"
        script.write_text(
            f"#!{sys.executable}\n"
            "import sys\n"
            "if '--version' in sys.argv:\n"
            "    print('GNU gdb (fake) 13.1')\n"
            "    sys.exit(0)\n"
            "def start():\n"
            "    raise RuntimeError('the fake gdb crashed at start')\n"
            "start()\n")
        script.chmod(0o755)
        return script

    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict[str, Any],
                         fake_gdb: Path) -> dict[str, Any]:
        jp_server_config["DebugServerApp"]["gdb_path"] = str(fake_gdb)
        return jp_server_config

    async def test_the_error_is_a_sentence_without_a_traceback(
            self, api: Any, manager: Any, jp_root_dir: Path) -> None:
        program = jp_root_dir / "true"
        shutil.copy("/bin/true", program)
        status, model = await api("POST", "sessions", {"debugger": "gdb",
                                                        "program": str(program)})
        assert status == 201, model
        await _until(manager, model["id"], "failed")
        status, model = await api("GET", f"sessions/{model['id']}")
        assert status == 200
        error = model["error"]
        assert model["state"] == "failed" and error, model
        assert "Traceback" not in error and 'File "' not in error, error
        assert "\n" not in error, error
        assert "the fake gdb crashed at start" in error, error
        row = await manager.store.get_session(model["id"])
        assert row["error"] == error


@pytest.mark.parametrize("boot", ["another-boot", None])
def test_the_reaper_never_signals_a_process_of_another_boot(
        tmp_path: Path, boot: str | None) -> None:
    """Finding 8: pid and start time alone could match a process after a reboot; a record
    of another boot (or of none) is never reaped, one of this boot is."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               start_new_session=True)

    async def recover(sid: str, recorded: str | None) -> list[str]:
        async with await Store.open(tmp_path / f"{sid}.sqlite") as store:
            await store.create_session({
                "id": sid, "state": "running", "created": "2024-01-01T00:00:00Z",
                "updated": "2024-01-01T00:00:00Z"})
            await store.update_session(sid, worker_pid=sleeper.pid, boot_id=recorded,
                                       worker_start_time=process_start_time(sleeper.pid))
            manager = SessionManager(store, RunnerConfig(root_dir=str(tmp_path)))
            try:
                return await manager.recover()
            finally:
                manager.blocking.shutdown(wait=True)

    try:
        assert asyncio.run(recover("foreign", boot)) == ["foreign"]
        assert sleeper.poll() is None, "a process of another boot was signalled"
        assert asyncio.run(recover("ours", boot_id())) == ["ours"]
        assert sleeper.wait(10) == -signal.SIGKILL  # the check above is not vacuous
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


@pytest.mark.parametrize("isolated_path_has_us", [True, False])
def test_the_worker_command_runs_isolated_wherever_the_package_is(
        monkeypatch: pytest.MonkeyPatch, isolated_path_has_us: bool) -> None:
    """`python -I -m …` where site-packages hold the package; otherwise (a user-site or
    PYTHONPATH install) a bootstrap that adds only our own folders. Both start a worker."""
    if not isolated_path_has_us:
        monkeypatch.setattr(session_worker, "_isolated_sys_path", frozenset)
    command = session_worker.worker_command(GDB_WORKER)
    assert command[:2] == [sys.executable, "-I"]
    assert (command[2] == "-m") == isolated_path_has_us
    done = subprocess.run([*command, "--help"], cwd="/", capture_output=True, text=True,
                          timeout=60, env=session_worker.worker_environment(), check=False)
    assert done.returncode == 0, done.stderr
    assert "--channel-fd" in done.stdout


def _traceback_text() -> str:
    try:
        try:
            {}["key"]
        except KeyError:
            raise RuntimeError("the fake worker crashed") from None
    except RuntimeError:
        return traceback.format_exc()
    raise AssertionError("unreachable")


@pytest.mark.parametrize(("text", "expected"), [
    ("the debugger did not start within 60 s", "the debugger did not start within 60 s"),
    ("could not start:\n" + _traceback_text(),
     "could not start: RuntimeError: the fake worker crashed"),
    # gdb's error output, joined into one line by the adapter
    ("gdb exited; its stderr said: Traceback (most recent call last): |   File \"/x\", "
     "line 8, in <module> |     start() | RuntimeError: boom",
     "gdb exited; its stderr said: RuntimeError: boom"),
    ("thread main-\udc80 failed", "thread main-\ufffd failed"),
])
def test_an_error_sentence_never_holds_a_traceback(text: str, expected: str) -> None:
    assert without_traceback(text) == expected


_STEPPER = """counter = 0
while counter < 10**9:
    counter += 1  # BREAK
"""

_DROPS_PYDEVD = """import socket
import time

import pydevd

print("dropping", flush=True)
pydevd.get_global_debugger().writer.sock.shutdown(socket.SHUT_RDWR)
time.sleep(300)
"""


async def test_ids_that_are_no_thread_and_nul_paths_are_refused(
        api: Any, manager: Any, jp_root_dir: Path) -> None:
    """Found by the frame fuzzer: pydevd keeps thread, frame and variable ids in one table;
    `next`/`stepIn`/`stepOut` with threadId 0 or a frame's id failed inside pydevd, which
    dropped its connection: the session stayed `stopped` and answered nothing again."""
    program = jp_root_dir / "stepper.py"
    program.write_text(_STEPPER)
    status, model = await api("POST", "sessions", {
        "debugger": "debugpy", "program": str(program),
        "breakpoints": [{"path": str(program), "line": _line_of(_STEPPER, "# BREAK")}]})
    assert status == 201, model
    sid = model["id"]
    session = await _until(manager, sid, "stopped")
    frame = session.stopped["frame_id"]
    for command, thread in (("next", 0), ("stepIn", frame), ("stepOut", 0),
                            ("stackTrace", frame), ("next", 10**6)):
        status, body = await api("POST", f"sessions/{sid}/dap", {
            "command": command, "arguments": {"threadId": thread}})
        assert status == 422 and f"no thread {thread}" in body["message"], (command, body)
    # A NUL in a source path killed pydevd's reader thread (realpath raised ValueError).
    status, body = await api("POST", f"sessions/{sid}/dap", {
        "command": "setBreakpoints", "arguments": {"source": {"path": "\x00"},
                                                  "breakpoints": [{"line": 1}]}})
    assert status == 422 and "NUL" in body["message"], body
    # A source without a path made pydevd fail an assertion and drop its connection.
    for source in ({}, {"sourceReference": 3}, {"name": "x.py"}):
        status, body = await api("POST", f"sessions/{sid}/dap", {
            "command": "setBreakpoints", "arguments": {"source": source,
                                                      "breakpoints": [{"line": 1}]}})
        assert status == 422 and "needs 'source.path'" in body["message"], (source, body)
    # pydevd never answered exceptionInfo for a thread not stopped on an exception.
    status, body = await api("POST", f"sessions/{sid}/dap", {
        "command": "exceptionInfo", "arguments": {"threadId": session.stopped["thread_id"]}})
    assert status == 422 and "is not stopped on an exception" in body["message"], body
    status, stack = await api("GET", f"sessions/{sid}/stack")
    assert status == 200 and stack["frames"][0]["name"] == "<module>", stack
    status, model = await api("POST", f"sessions/{sid}/step", {"kind": "over"})
    assert status == 200 and model["state"] == "stopped", model
    status, _ = await api("DELETE", f"sessions/{sid}")
    assert status in (200, 204)


async def test_a_program_whose_pydevd_leaves_is_ended_not_left_running(
        api: Any, manager: Any, jp_root_dir: Path) -> None:
    """A program whose pydevd connection closes can no longer be debugged nor stopped
    through the session: the session says so and ends instead of showing `running`."""
    program = jp_root_dir / "drops_pydevd.py"
    program.write_text(_DROPS_PYDEVD)
    status, model = await api("POST", "sessions", {"debugger": "debugpy",
                                                   "program": str(program)})
    assert status == 201, model
    session = await _until(manager, model["id"], "exited", "failed", "terminated",
                           timeout=30)
    assert session.state == "exited", (session.state, session.error)
    status, out = await api("GET", f"sessions/{session.id}/output")
    text = "".join(item["output"] for item in out["items"])
    assert "dropping" in text and "pydevd closed its connection" in text, text


_FAKE_STOP = """import time

import pydevd

print("running", flush=True)
pydevd.send_json_message({"type": "event", "seq": 0, "event": "stopped",
                          "body": {"reason": "pause", "threadId": 1}})
time.sleep(300)
"""


async def test_continue_is_answered_when_pydevd_has_nothing_to_resume(
        api: Any, manager: Any, jp_root_dir: Path) -> None:
    """pydevd answers `continue` only when a suspended thread resumes. A stop that was
    not pydevd's (here the debuggee sends one; the frame fuzzer met stale ones) left a
    client's `continue` unanswered for ever; now the program is said to run."""
    program = jp_root_dir / "fake_stop.py"
    program.write_text(_FAKE_STOP)
    status, model = await api("POST", "sessions", {"debugger": "debugpy",
                                                   "program": str(program)})
    assert status == 201, model
    session = await _until(manager, model["id"], "stopped", timeout=30)
    status, body = await api("POST", f"sessions/{session.id}/dap", {
        "command": "continue", "arguments": {"threadId": 1}})
    assert status == 200 and body == {"allThreadsContinued": True}, body
    status, body = await api("POST", f"sessions/{session.id}/dap", {"command": "threads"})
    assert status == 200 and body["threads"], body
    status, _ = await api("DELETE", f"sessions/{session.id}")
    assert status in (200, 204)


_RAISES = """def fail():
    raise ValueError("boom")


fail()
"""


async def test_exception_info_is_answered_at_an_exception_stop(
        api: Any, manager: Any, jp_root_dir: Path) -> None:
    """exceptionInfo is answered by pydevd where it can be (a stop on an exception) and by
    us elsewhere (see test_ids_that_are_no_thread_and_nul_paths_are_refused)."""
    program = jp_root_dir / "raises.py"
    program.write_text(_RAISES)
    status, model = await api("POST", "sessions", {"debugger": "debugpy",
                                                   "program": str(program)})
    assert status == 201, model
    session = await _until(manager, model["id"], "stopped", "exited", timeout=30)
    assert session.state == "stopped" and session.stopped["reason"] == "exception", (
        session.state, session.stopped)
    status, body = await api("POST", f"sessions/{session.id}/dap", {
        "command": "exceptionInfo", "arguments": {"threadId": session.stopped["thread_id"]}})
    assert status == 200 and "ValueError" in body["exceptionId"], body
    status, _ = await api("DELETE", f"sessions/{session.id}")
    assert status in (200, 204)


async def test_requests_pydevd_answers_at_a_stop_are_answered_when_it_resumes(
        api: Any, manager: Any, jp_root_dir: Path, jp_ws_fetch: Any) -> None:
    """pydevd answers stackTrace/variables/evaluate from the stopped thread itself; sent
    together with a `continue`, they were answered at the next stop or never (found by
    the frame fuzzer). Each now gets an answer: pydevd's, or that the program resumed."""
    program = jp_root_dir / "stepper.py"
    program.write_text(_STEPPER)
    status, model = await api("POST", "sessions", {
        "debugger": "debugpy", "program": str(program),
        "breakpoints": [{"path": str(program), "line": _line_of(_STEPPER, "# BREAK")}]})
    assert status == 201, model
    session = await _until(manager, model["id"], "stopped")
    client = TunnelClient(await jp_ws_fetch("api", "debug", "sessions", session.id, "dap"))
    try:
        await client.join()
        stop = await client.event("stopped")
        answered = resumed = 0
        for _ in range(40):
            thread = stop["body"]["threadId"]
            frame = (await client.body("stackTrace", {"threadId": thread}))["stackFrames"][0]
            mark = len(client.messages)
            seqs = [client.send("stackTrace", {"threadId": thread}),
                    client.send("evaluate", {"expression": "counter", "frameId": frame["id"]}),
                    client.send("scopes", {"frameId": frame["id"]})]
            client.send("continue", {"threadId": thread})
            stop = await client.wait_for(lambda m: m.get("event") == "stopped", after=mark,
                                         timeout=10)
            before = client.messages[mark:client.messages.index(stop)]
            for seq in seqs:  # answered about this stop, not the next one
                reply = next((m for m in before if m.get("type") == "response"
                              and m.get("request_seq") == seq), None)
                assert reply is not None, f"no answer to request {seq} before the next stop"
                if reply["success"]:
                    answered += 1
                else:
                    assert "the program resumed before debugpy answered" in \
                        reply["message"], reply
                    resumed += 1
        assert answered + resumed == 120
    finally:
        await client.close()
    status, _ = await api("DELETE", f"sessions/{session.id}")
    assert status in (200, 204)
