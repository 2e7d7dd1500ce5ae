"""Finding the server (client/discovery.py) in fake runtime dirs: explicit values, then the
environment, then the runtime file of the server that started this kernel
(`JPY_PARENT_PID`), then the newest running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_debug_server.client import TOKEN_ENV, URL_ENV, ServerNotFound, discover
from jupyter_debug_server.client.discovery import PARENT_PID_ENV, parent_server

pytestmark = pytest.mark.timeout(30)


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(10)
    return proc.pid


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty runtime dir that Jupyter's paths point at, and no server variables."""
    folder = tmp_path / "runtime"
    folder.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(folder))
    for name in (URL_ENV, TOKEN_ENV, PARENT_PID_ENV):
        monkeypatch.delenv(name, raising=False)
    return folder


def _server_file(folder: Path, pid: int, url: str, token: str, mtime: float,
                 name: str | None = None) -> None:
    path = folder / (name or f"jpserver-{pid}.json")
    path.write_text(json.dumps({"url": url, "token": token, "pid": pid}))
    os.utime(path, (mtime, mtime))


@pytest.fixture
def two_servers(runtime: Path) -> dict[str, int]:
    """Two running servers: the kernel's parent (older file) and a newer one. Both pids are
    alive: ours and our parent's (what the files name is all that counts)."""
    parent, newer = os.getpid(), os.getppid()
    _server_file(runtime, parent, "http://127.0.0.1:8001/", "parent-token", 1_000)
    _server_file(runtime, newer, "http://127.0.0.1:8002/", "newer-token", 2_000)
    return {"parent": parent, "newer": newer}


def test_the_kernels_own_server_comes_before_the_newest(two_servers: dict[str, int],
                                                        runtime: Path) -> None:
    env = {PARENT_PID_ENV: str(two_servers["parent"])}
    found = discover(environ=env)
    assert (found.url, found.token) == ("http://127.0.0.1:8001/", "parent-token")
    assert f"${PARENT_PID_ENV}={two_servers['parent']}" in found.source
    # Without JPY_PARENT_PID: the newest running server, as before.
    found = discover(environ={})
    assert (found.url, found.token) == ("http://127.0.0.1:8002/", "newer-token")
    assert found.source.startswith(f"runtime file of pid {two_servers['newer']}")


def test_explicit_values_and_the_environment_come_first(two_servers: dict[str, int]) -> None:
    env = {PARENT_PID_ENV: str(two_servers["parent"])}
    found = discover("http://127.0.0.1:8002/", environ=env)
    # (a URL without a token takes the token of the runtime file with that URL)
    assert (found.url, found.token, found.source) == ("http://127.0.0.1:8002/",
                                                      "newer-token", "--url")
    found = discover(environ={**env, URL_ENV: "http://example.invalid:1/", TOKEN_ENV: "t"})
    assert (found.url, found.token, found.source) == ("http://example.invalid:1/", "t",
                                                      f"${URL_ENV}")
    # A token given explicitly goes with the parent server's URL.
    found = discover(token="mine", environ=env)
    assert (found.url, found.token) == ("http://127.0.0.1:8001/", "mine")
    found = discover(environ={**env, TOKEN_ENV: "from-env"})
    assert (found.url, found.token) == ("http://127.0.0.1:8001/", "from-env")


def test_a_parent_that_is_no_usable_server_falls_back(runtime: Path,
                                                      two_servers: dict[str, int]) -> None:
    dead = _dead_pid()
    _server_file(runtime, dead, "http://127.0.0.1:8003/", "stale", 3_000)
    unix = os.getpid() + 1_000_000  # (a file name only: the pid in it is alive)
    _server_file(runtime, os.getpid(), "http+unix://%2Ftmp%2Fjp.sock/", "sock", 500,
                 name=f"jpserver-{unix}.json")
    for pid_text in (str(dead), str(unix), "not-a-pid", "", str(_dead_pid())):
        assert parent_server(pid_text, runtime) is None
        found = discover(environ={PARENT_PID_ENV: pid_text})
        assert found.url == "http://127.0.0.1:8002/", pid_text
    # A kernel whose parent is no Jupyter server at all (no file): the newest server.
    (runtime / f"jpserver-{two_servers['parent']}.json").unlink()
    found = discover(environ={PARENT_PID_ENV: str(two_servers["parent"])})
    assert found.url == "http://127.0.0.1:8002/"


def test_a_broken_parent_file_is_skipped(runtime: Path, two_servers: dict[str, int]) -> None:
    (runtime / f"jpserver-{two_servers['parent']}.json").write_text("{half")
    found = discover(environ={PARENT_PID_ENV: str(two_servers["parent"])})
    assert found.url == "http://127.0.0.1:8002/"


def test_a_parent_file_without_a_pid_field_is_named_by_its_file(runtime: Path) -> None:
    # (JupyterHub's single-user servers write the same file as any jupyter_server)
    path = runtime / f"jpserver-{os.getpid()}.json"
    path.write_text(json.dumps({"url": "https://hub.example/user/ann/",
                                "token": "hub-api-token"}))
    info = parent_server(str(os.getpid()), runtime)
    assert info is not None and info["pid"] == os.getpid()
    found = discover(environ={PARENT_PID_ENV: str(os.getpid())})
    assert (found.url, found.token) == ("https://hub.example/user/ann/", "hub-api-token")


def test_nothing_found_says_what_was_tried(runtime: Path) -> None:
    with pytest.raises(ServerNotFound) as caught:
        discover(environ={PARENT_PID_ENV: str(os.getpid())})
    assert f"{runtime}/jpserver-*.json" in str(caught.value)
