"""A jupyter_server with the extension in a separate process, for crash and restart tests."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_READY = "is running at"
TARGETS = Path(__file__).resolve().parent.parent / "targets"


def idle_connections(client: Any) -> tuple[http.client.HTTPConnection, ...]:
    """The kept-alive connections a DebugServerClient holds between requests."""
    return tuple(client.transport.idle_connections)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`jupyter-debug-server serve` as a child process, driven over HTTP."""

    def __init__(self, root: Path, state: Path, extra: list[str] | None = None,
                 server_args: list[str] | None = None) -> None:
        self.extra = extra or []
        self.server_args = server_args or []  # Jupyter options (after the `--`)
        self.root = root
        self.state = state
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []

    def start(self, timeout: float = 60, ready: str = "jupyter_debug_server: store") -> None:
        env = dict(os.environ, JUPYTER_TOKEN=self.token,
                   JUPYTER_DATA_DIR=str(self.state / "data"),
                   JUPYTER_RUNTIME_DIR=str(self.state / "runtime"),
                   JUPYTER_CONFIG_DIR=str(self.state / "config"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_debug_server.cli", "serve", *self.extra,
             "--port", str(self.port), "--root-dir", str(self.root), "--",
             "--ServerApp.port_retries=0",
             f"--DebugServerApp.db_path={self.state / 'debug.db'}",
             "--DebugServerApp.shutdown_timeout=2", *self.server_args],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if _READY in line:
                break
        # The extension opens its store on start: wait for its log line (or another).
        while ready not in line:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line)
            self.lines.put(line)

    def request(self, method: str, path: str, body: Any = None,
                timeout: float = 60) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers={"Authorization": f"token {self.token}"})
            response = conn.getresponse()
            data = response.read()
            return response.status, json.loads(data) if data else None
        finally:
            conn.close()

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@contextlib.contextmanager
def python_targets_server(base: Path) -> Iterator[ServerProcess]:
    """A server process whose root holds a copy of tests/targets (`root/targets`; state
    in `base/state`), stopped on exit. (With the native targets compiled:
    support/native.py's `targets_server`.)"""
    root = base / "root"
    shutil.copytree(TARGETS, root / "targets")
    server = ServerProcess(root, base / "state")
    server.start()
    try:
        yield server
    finally:
        server.stop()
