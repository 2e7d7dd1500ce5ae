"""The ``rest`` mode: our REST ``step`` route through a real ``jupyter server`` subprocess."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from typing import IO, Any

from .bench_context import Context
from .bench_modes import Mode, Skip
from .bench_process import REPO_ROOT, base_env, kill_if_target, stop_process
from .dapclient import DapError


class NoDelayHTTPConnection(http.client.HTTPConnection):
    """Keep-alive HTTP connection whose socket has TCP_NODELAY (also after a reconnect)."""

    def connect(self) -> None:
        super().connect()
        assert self.sock is not None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


_URL_RE = re.compile(r"http://(?:127\.0\.0\.1|localhost):(\d+)/")


class RestMode(Mode):
    """Our REST ``step`` route through a real ``jupyter server`` subprocess."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.name = "rest"
        self.description = "our REST step route via jupyter server (keep-alive HTTP)"
        self.proc: subprocess.Popen[str] | None = None
        self.conn: NoDelayHTTPConnection | None = None
        self.token = secrets.token_hex(24)
        self.session_id: str | None = None
        self.target_pid: int | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.tail: deque[str] = deque(maxlen=200)
        self._queue_lines = True
        self._reader: threading.Thread | None = None

    # -- server process --------------------------------------------------------------

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self.tail.append(line.rstrip("\n"))
            if self._queue_lines:
                self.lines.put(line)
        self.lines.put(None)

    def _tail(self, lines: int = 12) -> str:
        return "\n".join(list(self.tail)[-lines:])

    def _start_server(self) -> int:
        # One Jupyter dir (config, data with the extension's database, runtime) per
        # server: a server that finds another one's sessions in its database reaps them.
        jupyter_dir = self.ctx.workdir / f"jupyter-{self.name}"
        env = base_env([REPO_ROOT])
        env.update(
            {
                "JUPYTER_TOKEN": self.token,  # via the environment: keeps it out of argv
                "JUPYTER_CONFIG_DIR": str(jupyter_dir / "config"),
                "JUPYTER_DATA_DIR": str(jupyter_dir / "data"),
                "JUPYTER_RUNTIME_DIR": str(jupyter_dir / "runtime"),
            }
        )
        argv = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port=0",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={self.ctx.workdir}",
            "--ServerApp.jpserver_extensions=jupyter_debug_server=True",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--allow-root")  # CI containers often run as root
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=self.ctx.workdir,
            start_new_session=True,
        )
        assert self.proc.stderr is not None
        self._reader = threading.Thread(
            target=self._read_stderr, args=(self.proc.stderr,), name="server-stderr", daemon=True
        )
        self._reader.start()
        deadline = time.monotonic() + self.ctx.setup_timeout
        running = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Skip(f"jupyter server did not report its URL in time:\n{self._tail()}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise Skip(f"jupyter server exited during startup:\n{self._tail()}")
            if "is running at" in line:
                running = True
            match = _URL_RE.search(line)
            if running and match:
                self._queue_lines = False
                return int(match.group(1))

    # -- HTTP --------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, body: Any = None, timeout: float | None = None
    ) -> tuple[int, Any]:
        conn = self.conn
        assert conn is not None
        if timeout is not None:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
        headers = {"Authorization": f"token {self.token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")
        return response.status, data

    def _first_contact(self) -> None:
        # The server logs its URL just before its event loop starts listening; the only
        # wait outside the timed section that retries is this one, bounded.
        deadline = time.monotonic() + self.ctx.setup_timeout
        while True:
            try:
                status, data = self._request("GET", "/api/status")
            except ConnectionRefusedError:
                assert self.conn is not None
                self.conn.close()
                if time.monotonic() > deadline:
                    raise Skip("jupyter server refused connections") from None
                time.sleep(0.02)
                continue
            if status != 200:
                raise Skip(f"GET /api/status answered {status}: {data}")
            return

    def launch_spec(self) -> dict[str, Any]:
        """The POST /api/debug/sessions body of this mode's session."""
        return {
            "debugger": "debugpy",
            "program": str(self.ctx.target),
            "cwd": str(self.ctx.workdir),
            "breakpoints": [{"path": str(self.ctx.target), "line": self.ctx.break_line}],
        }

    def start(self) -> None:
        port = self._start_server()
        self.conn = NoDelayHTTPConnection("127.0.0.1", port, timeout=self.ctx.setup_timeout)
        self._first_contact()
        spec = self.launch_spec()
        try:
            status, data = self._request("POST", "/api/debug/sessions", spec)
        except (OSError, http.client.HTTPException) as exc:
            raise Skip(f"POST /api/debug/sessions failed: {exc}") from exc
        if status == 404:
            raise Skip(
                "POST /api/debug/sessions answered 404: the extension's routes are not there"
            )
        if status != 201 or not isinstance(data, dict) or "id" not in data:
            raise Skip(f"POST /api/debug/sessions answered {status}: {data}\n{self._tail()}")
        self.session_id = str(data["id"])
        model = self._wait_stopped(data)
        self.target_pid = model.get("pid")

    def _wait_stopped(self, model: dict[str, Any]) -> dict[str, Any]:
        # Setup only (never inside the timed section): the session model has no
        # long-poll, so re-read it with a short pause, bounded by the setup timeout.
        deadline = time.monotonic() + self.ctx.setup_timeout
        path = f"/api/debug/sessions/{self.session_id}"
        while True:
            state = model.get("state")
            if state == "stopped":
                stopped = model.get("stopped")
                line = stopped.get("line") if isinstance(stopped, dict) else None
                if line is not None and line != self.ctx.break_line:
                    raise Skip(f"first stop is not at line {self.ctx.break_line}: {stopped}")
                return model
            if state in ("exited", "terminated", "failed", "lost"):
                raise Skip(f"session ended before its first stop: {model}\n{self._tail()}")
            if time.monotonic() > deadline:
                raise Skip(f"session did not stop within {self.ctx.setup_timeout:g} s: {model}")
            time.sleep(0.05)
            status, data = self._request("GET", path)
            if status != 200 or not isinstance(data, dict):
                raise Skip(f"GET {path} answered {status}: {data}")
            model = data

    def step(self) -> float:
        conn = self.conn
        assert conn is not None
        path = f"/api/debug/sessions/{self.session_id}/step"
        body = json.dumps({"kind": "over"})
        headers = {"Authorization": f"token {self.token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise DapError(f"POST {path} answered {response.status}: {raw[:300]!r}")
        model = json.loads(raw)
        state = model.get("state") if isinstance(model, dict) else None
        if state not in (None, "stopped"):
            raise DapError(f"POST {path}: session is {state!r} after the step: {model}")
        return elapsed

    def close(self) -> None:
        if self.conn is not None:
            if self.session_id is not None and self.proc is not None and self.proc.poll() is None:
                with contextlib.suppress(OSError, http.client.HTTPException):
                    self._request("DELETE", f"/api/debug/sessions/{self.session_id}", timeout=10)
            self.conn.close()
            self.conn = None
        self.session_id = None
        stop_process(self.proc, 20.0, terminate=True)
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        kill_if_target(self.target_pid, self.ctx.target)

