"""The CLI and the client library against a real server process and real debuggers.

One server per module (`jupyter-debug-server serve` in its own process); every command
runs as a subprocess, the way a user or a script runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.client import (
    TOKEN_ENV,
    URL_ENV,
    DebugServerClient,
    DebugServerClientError,
    ServerNotFound,
    discover,
)

from ..support.server_process import ServerProcess, idle_connections, python_targets_server

TARGETS = Path(__file__).parent.parent / "targets"
NATIVE = TARGETS / "native"
pytestmark = pytest.mark.timeout(120)


def _line(path: Path, marker: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if marker in text)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with python_targets_server(tmp_path_factory.mktemp("cli")) as srv:
        yield srv


@pytest.fixture
def quiet_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which nothing points at a server (an empty runtime dir)."""
    env = {k: v for k, v in os.environ.items() if k not in (URL_ENV, TOKEN_ENV)}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "no-runtime")
    return env


class Cli:
    """Run `python -m jupyter_debug_server.cli` with --url and --token."""

    def __init__(self, server: ServerProcess, env: dict[str, str]) -> None:
        self.server = server
        self.env = env
        self.url = f"http://127.0.0.1:{server.port}/"

    def raw(self, *args: str, env: dict[str, str] | None = None,
            command: list[str] | None = None) -> subprocess.CompletedProcess[str]:
        argv = command or [sys.executable, "-m", "jupyter_debug_server.cli"]
        return subprocess.run([*argv, *args], env=env or self.env, capture_output=True,
                              text=True, timeout=90, stdin=subprocess.DEVNULL, check=False)

    def __call__(self, *args: str, code: int = 0) -> str:
        done = self.raw("--url", self.url, "--token", self.server.token, *args)
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        return done.stdout if code == 0 else done.stderr

    def json(self, *args: str) -> Any:
        return json.loads(self("--json", *args))


@pytest.fixture
def cli(server: ServerProcess, quiet_env: dict[str, str]) -> Cli:
    return Cli(server, quiet_env)


def test_debuggers_as_text_and_json(cli: Cli) -> None:
    text = cli("debuggers")
    assert text.splitlines()[0].split() == ["NAME", "AVAILABLE", "VERSION", "PATH", "OR",
                                            "REASON"]
    assert any(line.split()[:2] == ["debugpy", "yes"] for line in text.splitlines())
    items = cli.json("debuggers")
    assert {d["name"] for d in items} == {"debugpy", "gdb", "lldb"}
    assert next(d for d in items if d["name"] == "debugpy")["available"] is True


def test_a_debugpy_session_from_launch_to_exit(cli: Cli, server: ServerProcess) -> None:
    program = server.root / "targets" / "loop.py"
    out = cli("launch", "--break", "targets/loop.py:6", "--name", "loopy", "--wait",
              "targets/loop.py", "--", "7")
    assert out.strip().endswith(f"stopped at {program}:6 in add (breakpoint)"), out
    sid = next(s["id"] for s in cli.json("list") if s["name"] == "loopy")
    assert f"session {sid} (debugpy, loopy, pid " in out

    listing = cli("list")
    assert listing.splitlines()[0].split()[:4] == ["ID", "NAME", "DEBUGGER", "STATE"]
    assert any(line.split()[:4] == [sid, "loopy", "debugpy", "stopped"]
               for line in listing.splitlines())
    # A unique prefix of the id is enough.
    shown = cli("show", sid[:8])
    assert f"id:        {sid}" in shown and "args:      7" in shown

    _inspect(cli, sid, program)
    _step_and_break(cli, sid, program)
    _run_to_the_end(cli, sid, server)


def _inspect(cli: Cli, sid: str, program: Path) -> None:
    """stack, vars and eval at the first stop."""
    stack = cli("stack", sid).splitlines()
    assert stack[0].startswith("thread ")
    assert stack[2].split()[0] == "#0" and stack[2].split()[2] == "add"
    assert stack[3].split()[2] == "main" and stack[3].endswith(f"{program}:13")
    main_frame = stack[3].split()[1]

    top = cli("vars", sid)
    assert top.startswith("Locals (ref ")
    assert any(line.split() == ["a", "int", "0"] for line in top.splitlines())
    assert any(line.split() == ["total", "int", "1"] for line in top.splitlines())
    main_vars = cli("vars", sid, "--frame", main_frame).splitlines()
    values = next(line.split() for line in main_vars if line.startswith("values "))
    assert values[1:3] == ["list", "[1,"] and values[-1].isdigit()
    children = cli("vars", sid, "--ref", values[-1])
    assert any(line.split()[:3] == ["0", "int", "1"] for line in children.splitlines())

    assert cli("eval", sid, "a + b").strip() == "1"
    assert cli.json("eval", sid, "result", "--frame", main_frame)["result"] == "0"
    refused = cli("eval", sid, "1/0", code=1)
    assert refused.startswith("error: ") and "ZeroDivisionError" in refused


def _step_and_break(cli: Cli, sid: str, program: Path) -> None:

    # Over the return, back in main's loop; then into the next call of add.
    assert cli("step", sid).strip() == f"stopped at {program}:12 in main (step)"
    assert cli("step", sid).strip() == f"stopped at {program}:13 in main (step)"
    assert cli("step", sid, "in").strip() == f"stopped at {program}:5 in add (step)"
    # Stepping out runs through the breakpoint on the return line first.
    assert cli("step", sid, "out").strip() == f"stopped at {program}:6 in add (breakpoint)"
    assert cli("step", sid, "out").strip() == f"stopped at {program}:13 in main (step)"
    assert cli("eval", sid, "v").strip() == "2"

    # Breakpoints: add a conditional one next to the launch one, list, clear.
    placed = cli("break", sid, "targets/loop.py:13:v == 3")
    assert f"{program}:13  condition: v == 3" in placed and f"{program}:6" in placed
    listed = cli.json("break", sid)
    assert listed == [{"path": str(program), "breakpoints": [
        {"line": 6, "requested_line": 6, "verified": True, "message": None, "id": listed[0][
            "breakpoints"][0]["id"], "condition": None, "hit_condition": None,
         "log_message": None},
        {"line": 13, "requested_line": 13, "verified": True, "message": None,
         "id": listed[0]["breakpoints"][1]["id"], "condition": "v == 3",
         "hit_condition": None, "log_message": None}]}]
    # The condition holds on the third pass only.
    assert cli("continue", sid).strip() == f"stopped at {program}:13 in main (breakpoint)"
    assert cli("eval", sid, "v").strip() == "3"
    assert cli("break", sid, "--clear", "targets/loop.py").strip() == "no breakpoints"
    assert cli.json("break", sid) == []



def _run_to_the_end(cli: Cli, sid: str, server: ServerProcess) -> None:
    # The program ends with SystemExit(7), which debugpy reports as an exception stop.
    ended = cli("continue", sid).strip()
    while ended.endswith("(exception)"):
        ended = cli("continue", sid).strip()
    assert ended == "exited with code 7"
    state = cli.raw("--url", cli.url, "--token", server.token, "logs", sid)
    assert state.returncode == 0
    assert state.stdout == "result 6\n"
    assert "to stderr\n" in state.stderr
    chunks = [json.loads(line) for line in cli("logs", "--json", sid).splitlines()]
    assert [c["seq"] for c in chunks] == sorted(c["seq"] for c in chunks)
    assert "".join(c["output"] for c in chunks if c["category"] == "stdout") == "result 6\n"
    # Stopping an ended session is no error and changes nothing.
    assert cli("stop", sid).strip().endswith("exited with code 7")
    refused = cli("stack", sid, code=1)
    assert refused.startswith("error: ") and sid in refused


def test_module_env_args_stop_on_entry_pause_and_stop(cli: Cli, server: ServerProcess) -> None:
    model = cli.json("launch", "-m", "targets.chatty", "-e", "CHATTY_GREETING=hi there",
                     "--stop-on-entry", "--", "x", "--flag")
    sid = model["id"]
    assert model["state"] == "stopped" and model["stopped"]["reason"] == "entry", model
    assert model["spec"]["module"] == "targets.chatty"
    assert model["spec"]["args"] == ["x", "--flag"]
    assert model["spec"]["env_keys"] == ["CHATTY_GREETING"]
    assert cli("continue", sid).strip() == "exited with code 0"
    assert cli("logs", sid).splitlines()[0] == "before hi there ['x', '--flag']"

    waiter = server.root / "targets" / "waiter.py"
    running = cli.json("launch", "targets/waiter.py")
    assert running["state"] == "running", running
    paused = cli("pause", running["id"]).strip()
    assert paused.startswith(f"stopped at {waiter}:") and paused.endswith("(pause)"), paused
    assert cli("stop", running["id"]).strip().endswith(": terminated")
    assert cli.json("show", running["id"])["state"] == "terminated"


def test_logs_follow_prints_live_output_and_ends_with_the_session(
        cli: Cli, server: ServerProcess) -> None:
    chatty = server.root / "targets" / "chatty.py"
    line = _line(chatty, "CHATTY-BREAK")
    model = cli.json("launch", "--break", f"targets/chatty.py:{line}", "--wait",
                     "targets/chatty.py")
    assert model["state"] == "stopped" and model["stopped"]["line"] == line, model
    follow = subprocess.Popen(
        [sys.executable, "-m", "jupyter_debug_server.cli", "logs", "-f", model["id"],
         "--url", cli.url, "--token", server.token],
        env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        # Output from before `logs -f` started; it is connected by the time it prints it.
        assert follow.stdout.readline() == "before - []\n"
        # This output only exists once the program runs on: it must arrive live.
        assert cli("continue", model["id"]).strip() == "exited with code 0"
        rest, errors = follow.communicate(timeout=60)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert follow.returncode == 0, errors
    assert rest == "after 0\nafter 1\nafter 2\n"
    assert errors == "to stderr\n"
    # Following an ended session prints everything and returns at once.
    assert cli("logs", "-f", model["id"]).startswith("before - []\nafter 0\n")


def test_attach_by_pid_pause_eval_and_detach(cli: Cli, server: ServerProcess) -> None:
    program = server.root / "targets" / "waiter.py"
    proc = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        line = _line(program, "ATTACH-HERE")
        out = cli("attach", "--pid", str(proc.pid), "--break", f"targets/waiter.py:{line}",
                  "--wait")
        assert f"pid {proc.pid})" in out
        assert out.strip().endswith(f"stopped at {program}:{line} in <module> (breakpoint)")
        sid = next(s["id"] for s in cli.json("list") if s["pid"] == proc.pid
                   and s["state"] == "stopped")
        assert cli("eval", sid, "counter > 0").strip() == "True"
        assert cli("stop", sid).strip().endswith(": terminated")
        assert proc.poll() is None  # detached: the process runs on
    finally:
        proc.kill()
        proc.wait()


def test_gdb_launch_then_a_core_file(cli: Cli, server: ServerProcess, tmp_path: Path) -> None:
    if shutil.which("gdb") is None or shutil.which("gcc") is None:
        pytest.skip("gdb or gcc is not installed; run bash scripts/setup.sh test")
    folder = server.root / "native"
    folder.mkdir(exist_ok=True)
    binary = folder / "waiter"
    subprocess.run(["gcc", "-g", "-O0", "-o", str(binary), str(NATIVE / "waiter.c")],
                   check=True, timeout=60)
    line = _line(NATIVE / "waiter.c", "TICK-BODY")
    model = cli.json("launch", "--debugger", "gdb", "--function", "tick", "--wait",
                     "native/waiter")
    assert model["state"] == "stopped" and model["stopped"]["name"] == "tick", model
    core = folder / "waiter.core"
    saved = cli("eval", model["id"], f"-exec generate-core-file {core}")
    assert "Saved corefile" in saved
    assert cli("stop", model["id"]).strip().endswith(": terminated")

    opened = cli("attach", "--core", "native/waiter.core", "--program", "native/waiter",
                 "--wait")
    assert " in tick (" in opened and f":{line} " in opened, opened
    sid = next(s["id"] for s in cli.json("list") if s["spec"].get("core") == str(core))
    stack = cli("stack", sid)
    assert stack.splitlines()[2].split()[2] == "tick"
    assert "cannot run or step" in cli("step", sid, code=1)
    cli("stop", sid)


def test_token_tokens_and_revoke(cli: Cli, server: ServerProcess) -> None:
    model = cli.json("launch", "--stop-on-entry", "targets/loop.py")
    sid = model["id"]
    text = cli("token", sid[:8], "--ttl", "600")
    first_line = text.splitlines()[0]
    assert first_line.startswith("token ") and f" for session {sid}: scope control, " \
        "expires " in first_line, text
    token_id = first_line.split()[1]
    secret = next(line.strip() for line in text.splitlines() if line.strip().startswith("jds_"))
    assert f"JUPYTER_DEBUG_SERVER_TOKEN={secret} jupyter-debug-server forward {sid} " \
        f"--stdio --url {cli.url.rstrip('/')}" in text
    assert f"revoke it: jupyter-debug-server revoke {sid} {token_id}" in text
    observe = cli.json("token", sid, "--scope", "observe")
    assert observe["scope"] == "observe" and observe["secret"].startswith("jds_")
    assert observe["session_id"] == sid

    # The secret works, for this session's routes only; observe reads and never steps.
    as_token = cli.raw("--url", cli.url, "--token", secret, "show", sid)
    assert as_token.returncode == 0 and f"id:        {sid}" in as_token.stdout
    reader = cli.raw("--url", cli.url, "--token", observe["secret"], "step", sid)
    assert reader.returncode == 1 and reader.stderr.startswith("error: ")

    listed = cli("tokens", sid)
    assert listed.splitlines()[0].split() == ["ID", "SCOPE", "CREATED", "EXPIRES", "STATE"]
    rows = {line.split()[0]: line.split() for line in listed.splitlines()[1:]}
    assert rows[token_id][1] == "control" and rows[token_id][-1] == "active"
    assert rows[observe["id"]][1] == "observe"
    assert "jds_" not in listed and "jds_" not in cli("tokens", "--json", sid)

    done = cli("revoke", sid, token_id)
    assert done.strip() == f"token {token_id} of session {sid} is revoked"
    assert cli.json("revoke", sid, observe["id"])["revoked"] is True  # idempotent per token
    states = {t["id"]: (t["revoked"], t["active"]) for t in cli.json("tokens", sid)}
    assert states == {token_id: (True, False), observe["id"]: (True, False)}
    refused = cli.raw("--url", cli.url, "--token", secret, "show", sid)
    assert refused.returncode == 1 and "revoked" in refused.stderr
    assert cli("revoke", sid, "nosuchtoken", code=1) == (
        f"error: session {sid} has no token with id 'nosuchtoken'\n")
    # A token cannot mint tokens.
    assert cli.raw("--url", cli.url, "--token", observe["secret"], "token", sid).returncode == 1
    for bad in (["--ttl", "0"], ["--ttl", "1.5"], ["--scope", "admin"]):
        usage = cli.raw("--url", cli.url, "token", sid, *bad)
        assert usage.returncode == 2 and usage.stderr.startswith("usage: "), usage.stderr
    over = cli("token", sid, "--ttl", str(10**9), code=1)
    assert over.startswith("error: ttl 1000000000 is out of range")
    cli("stop", sid)


def test_unknown_session_is_exit_1_with_the_servers_message(cli: Cli) -> None:
    for command, *rest in (["show"], ["step"], ["logs"], ["stop"], ["vars"], ["token"],
                           ["tokens"], ["revoke", "x"], ["forward", "--stdio"]):
        err = cli(command, "nosuchsession", *rest, code=1)
        assert err == "error: no debug session with id 'nosuchsession'\n"


def test_usage_errors_are_exit_2(cli: Cli) -> None:
    for args in (["break", "abc", "no-line-here"], ["attach", "--core", "x.core"],
                 ["launch"], ["step", "abc", "sideways"], ["launch", "-e", "1=x", "p.py"],
                 ["forward", "abc"], ["forward", "abc", "--stdio", "--port", "1"],
                 ["forward", "abc", "--port", "70000"], ["--timeout", "0", "list"],
                 ["list", "--timeout", "-1"], ["launch", "--wait-timeout", "nan", "x.py"]):
        done = cli.raw("--url", cli.url, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith("usage: ")


def test_wrong_token_is_refused(cli: Cli) -> None:
    done = cli.raw("--url", cli.url, "--token", "wrong", "list")
    assert done.returncode == 1 and done.stderr.startswith("error: ")


def test_server_from_environment_variables(cli: Cli, server: ServerProcess) -> None:
    env = dict(cli.env, **{URL_ENV: cli.url, TOKEN_ENV: server.token})
    done = cli.raw("list", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert isinstance(json.loads(done.stdout), list)


def test_server_from_runtime_files_also_as_jupyter_subcommand(
        cli: Cli, server: ServerProcess, tmp_path: Path) -> None:
    runtime = server.state / "runtime"
    assert list(runtime.glob("jpserver-*.json"))
    # A stale file (its process is gone) next to the live one is skipped.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = runtime / f"jpserver-{dead.pid}.json"
    stale.write_text(json.dumps({"url": "http://127.0.0.1:9/", "token": "x",
                                 "pid": dead.pid}))
    try:
        env = dict(cli.env, JUPYTER_RUNTIME_DIR=str(runtime))
        done = cli.raw("debuggers", "--json", env=env)
        assert done.returncode == 0, done.stderr
        assert {d["name"] for d in json.loads(done.stdout)} == {"debugpy", "gdb", "lldb"}
        jupyter = Path(sys.executable).parent / "jupyter"
        if not jupyter.exists():
            pytest.skip(f"no jupyter executable next to {sys.executable}")
        # `jupyter debug-server` finds the jupyter-debug-server script next to itself.
        done = cli.raw("debug-server", "list", env=env, command=[str(jupyter)])
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(("ID ", "no debug sessions"))
    finally:
        stale.unlink()


def test_no_server_found_says_what_was_tried(cli: Cli) -> None:
    done = cli.raw("list")
    assert done.returncode == 1
    assert done.stderr.startswith("error: no Jupyter server found: tried --url and --token")
    assert URL_ENV in done.stderr and TOKEN_ENV in done.stderr
    assert f"{cli.env['JUPYTER_RUNTIME_DIR']}/jpserver-*.json" in done.stderr


def test_unreachable_server_is_exit_1(cli: Cli) -> None:
    done = cli.raw("--url", "http://127.0.0.1:9/", "list")
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot reach the server at http://127.0.0.1:9")


def test_client_library_errors_and_discovery(server: ServerProcess,
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{server.port}/"
    with DebugServerClient(url, server.token) as client:
        with pytest.raises(DebugServerClientError) as caught:
            client.session("nosuchsession")
        assert (caught.value.status, caught.value.reason) == (404, "no-such-session")
        assert caught.value.message == "no debug session with id 'nosuchsession'"
        with pytest.raises(DebugServerClientError) as caught:
            client.create_session({"program": "targets/loop.py", "bogus": 1})
        assert caught.value.status == 400 and caught.value.reason == "bad-launch-spec"
        # The kept-alive connection is reused across requests.
        first = idle_connections(client)
        client.debuggers()
        assert idle_connections(client) == first and len(first) == 1
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(server.state / "runtime"))
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    found = discover()
    assert (found.url, found.token) == (url, server.token)
    assert found.source.startswith("runtime file of pid ")
    # --url without --token takes the token from the runtime file of that server.
    assert discover(found.url).token == server.token
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    with pytest.raises(ServerNotFound):
        discover()


def test_a_reader_that_goes_away_ends_the_command_quietly(cli: Cli) -> None:
    """`jupyter-debug-server vars SESSION | head`: no BrokenPipeError traceback."""
    cli("launch", "--break", "targets/loop.py:6", "--name", "piped", "--wait",
        "targets/loop.py")
    sid = next(s["id"] for s in cli.json("list") if s["name"] == "piped")
    for args in (["vars", sid], ["list"], ["--json", "stack", sid]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_debug_server.cli", "--url", cli.url,
             "--token", cli.server.token, *args], env=cli.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        proc.stdout.close()  # as `head` does once it has read enough: before any output
        _, err = proc.communicate(timeout=90)
        assert "Traceback" not in err and "BrokenPipeError" not in err, (args, err)
        assert err == "", (args, err)
        assert proc.returncode == 1, (args, proc.returncode)
    cli("stop", sid)
