"""`launch --exceptions FILTER[,FILTER…]|none` and the filters `debuggers` lists (issue
14), run as a user runs them: the CLI as a subprocess against a real server process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_debug_server.client.arguments import parse_exceptions

from ..support.server_process import ServerProcess, python_targets_server

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with python_targets_server(tmp_path_factory.mktemp("cli-exceptions")) as srv:
        yield srv


def _cli(server: ServerProcess, *args: str, code: int = 0) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_debug_server.cli", "--url",
         f"http://127.0.0.1:{server.port}/", "--token", server.token, *args],
        capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    return done.stdout if code == 0 else done.stderr


def _json(server: ServerProcess, *args: str) -> Any:
    return json.loads(_cli(server, "--json", *args))


def test_parse_exceptions() -> None:
    assert parse_exceptions("none") == []
    assert parse_exceptions("uncaught, raised") == ["uncaught", "raised"]
    with pytest.raises(Exception, match="FILTER"):
        parse_exceptions("raised,,uncaught")


def test_debuggers_lists_each_debuggers_filters(server: ServerProcess) -> None:
    text = _cli(server, "debuggers")
    assert "exception filters (launch --exceptions; * marks the defaults):" in text
    lines = {line.split()[0]: line.split(None, 1)[1] for line in text.split(
        "exception filters")[1].splitlines()[1:] if line.strip()}
    assert lines["debugpy"] == "raised, uncaught*, userUnhandled"
    assert lines["gdb"] == "throw, catch"
    assert "cpp_throw" in lines["lldb"]
    items = _json(server, "debuggers")
    assert {f["id"] for f in items[0]["exception_filters"]} == {
        "raised", "uncaught", "userUnhandled"}


def test_launch_with_no_exception_stops_then_with_raised(server: ServerProcess) -> None:
    model = _json(server, "launch", "--exceptions", "none", "--wait", "targets/loop.py", "3")
    assert (model["state"], model["exit_code"]) == ("exited", 3), model
    assert model["spec"]["exception_breakpoints"] == []

    model = _json(server, "launch", "--exceptions", "raised,uncaught", "--wait",
                  "targets/exceptions.py")
    assert model["state"] == "stopped" and model["stopped"]["reason"] == "exception", model
    assert model["spec"]["exception_breakpoints"] == ["raised", "uncaught"]
    _cli(server, "stop", model["id"])


def test_an_unknown_filter_and_a_malformed_list(server: ServerProcess) -> None:
    err = _cli(server, "launch", "--exceptions", "uncaught,thrown", "targets/loop.py", code=1)
    assert "error: exception filter 'thrown' is not one debugger 'debugpy' offers" in err
    assert "raised, uncaught, userUnhandled" in err
    err = _cli(server, "launch", "--exceptions", "uncaught,", "targets/loop.py", code=2)
    assert "FILTER[,FILTER…] or none" in err
