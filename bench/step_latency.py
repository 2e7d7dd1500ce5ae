#!/usr/bin/env python
"""Benchmark: DAP ``next`` -> ``stopped`` latency, several ways of reaching one debuggee.

Modes (see bench/README.md):

- ``stock``   stock debugpy adapter on stdio, DAP client talks to it directly;
- ``nodelay`` the same, with TCP_NODELAY forced on every socket debugpy/pydevd create;
- ``worker``  our worker (``jupyter_debug_server.runner.debuggers.debugpy_adapter``)
              over an inherited socketpair (``--channel-fd``), exactly as the server uses it;
- ``rest``    our REST ``step`` route through a real ``jupyter server`` subprocess.

All sessions are started first and stay stopped at a breakpoint inside an endless loop;
then the modes take turns: each round runs a block of steps per mode, and the order of
modes rotates from round to round, so machine noise hits every mode alike. Per-mode
samples are pooled over all rounds; the report gives median and p90 and the ratios the
design targets are stated in (DESIGN.md section 6).

Usage: ``python bench/step_latency.py [--steps 600] [--rounds 12] [--modes ...]``
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import queue
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dapclient import DapClient, DapError, Message

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
TARGET_SOURCE = BENCH_DIR / "targets" / "loop.py"
NODELAY_SITE = BENCH_DIR / "nodelay_site"
BREAK_MARKER = "# BENCH-BREAK"
WORKER_MODULE = "jupyter_debug_server.runner.debuggers.debugpy_adapter"
ALL_MODES = ("stock", "nodelay", "worker", "rest")

# (numerator, denominator, target ratio or None for "informational")
RATIOS: tuple[tuple[str, str, float | None], ...] = (
    ("nodelay", "stock", None),
    ("worker", "stock", 0.10),
    ("worker", "nodelay", 1.50),
    ("rest", "stock", None),
    ("rest", "nodelay", None),
)


class Skip(Exception):
    """A mode cannot run here (not implemented yet, failed to start); the reason says why."""


@dataclass
class Context:
    workdir: Path
    target: Path
    break_line: int
    setup_timeout: float
    step_timeout: float


@dataclass
class NativeContext(Context):
    """``target`` is the C source (breakpoints go there); ``program`` is the executable."""

    program: Path


def python_context(workdir: Path, args: argparse.Namespace) -> Context:
    """Copy loop.py into ``workdir``: the context of a Python (debugpy) benchmark."""
    target = workdir / "loop.py"
    shutil.copyfile(TARGET_SOURCE, target)
    return Context(
        workdir=workdir,
        target=target,
        break_line=find_break_line(target),
        setup_timeout=args.setup_timeout,
        step_timeout=args.step_timeout,
    )


def base_env(extra_path: list[Path]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    parts = [str(p) for p in extra_path]
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    if parts:
        env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def file_tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def kill_if_target(pid: int | None, target: Path) -> None:
    """SIGKILL ``pid`` if it is still alive and really runs our target (checked via /proc)."""
    if not pid:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if str(target).encode() in cmdline:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def plain_launch(program: Path, workdir: Path) -> dict[str, Any]:
    """DAP ``launch`` arguments that run ``program`` in ``workdir``, without arguments, and
    do not stop on entry (the breakpoint is the first stop)."""
    return {"program": str(program), "args": [], "cwd": str(workdir), "stopOnEntry": False}


def kill_leftovers(program: Path) -> list[int]:
    """SIGKILL every process that still runs ``program`` (checked via /proc); their pids."""
    needle = str(program).encode() + b"\0"
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(needle):
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
    return killed


def stop_process(proc: subprocess.Popen[Any] | None, grace: float, *, terminate: bool) -> None:
    """Let ``proc`` exit (optionally after SIGTERM), else SIGKILL its process group."""
    if proc is None or proc.poll() is not None:
        return
    if terminate:
        with contextlib.suppress(OSError):
            proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        # start_new_session=True made proc.pid its own process-group id.
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


# --------------------------------------------------------------------------------------
# modes


@dataclass
class Mode:
    ctx: Context
    name: str = ""
    description: str = ""
    samples: list[float] = field(default_factory=list)
    setup_seconds: float | None = None
    status: str = "ok"
    active: bool = False

    def start(self) -> None:
        raise NotImplementedError

    def step(self) -> float:
        """One timed step; returns seconds from request sent to stop received."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class Stepper:
    """`next` → `stopped` through a DAP client: shared by the byte-stream modes here and the
    tunnel modes of tunnel_latency.py (`stamp` is when the stop arrived)."""

    ctx: Context
    client: DapClient | None
    thread_id: int | None

    def _check_stop(self, message: Message) -> None:
        if message.get("type") == "response":
            raise DapError(f"'next' failed: {message.get('message')}")
        if message.get("event") != "stopped":
            raise DapError(f"the target ended instead of stopping: {message}")
        self.thread_id = int(message["body"]["threadId"])

    def _initialize(self, client: DapClient, client_name: str, adapter_id: str,
                    **capabilities: Any) -> None:
        """Send DAP `initialize` as this bench's client (`capabilities` go after the rest)."""
        client.call(
            "initialize",
            {
                "clientID": "jds-bench",
                "clientName": client_name,
                "adapterID": adapter_id,
                "pathFormat": "path",
                "linesStartAt1": True,
                "columnsStartAt1": True,
                **capabilities,
            },
            self.ctx.setup_timeout,
        )

    def _first_stop(self, client: DapClient, what: str) -> tuple[Message, int | None]:
        """Wait for the first stop (`what` names it) and check it; it and its top line."""
        timeout = self.ctx.setup_timeout
        stop = client.wait_for(_stop_or_end(None), timeout, what)
        self._check_stop(stop)
        trace = client.call("stackTrace", {"threadId": self.thread_id, "levels": 1}, timeout)
        frames = trace.get("body", {}).get("stackFrames", [])
        return stop, frames[0].get("line") if frames else None

    def step(self) -> float:
        client = self.client
        assert client is not None
        client.drop_events()
        started = time.perf_counter()
        seq = client.request("next", {"threadId": self.thread_id})
        stop = client.wait_for(
            _stop_or_end(seq), self.ctx.step_timeout, "the 'stopped' event after 'next'"
        )
        elapsed = self.stamp(client) - started
        self._check_stop(stop)
        client.response(seq, self.ctx.step_timeout)
        return elapsed

    def stamp(self, client: DapClient) -> float:
        """When the message `client` returned last was received (now, for a byte stream)."""
        return time.perf_counter()


class DapMode(Stepper, Mode):
    """A mode where our client speaks DAP directly to an adapter process."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: DapClient | None = None
        self.thread_id: int | None = None
        self.target_pid: int | None = None
        self.log_path = ctx.workdir / f"{type(self).__name__}.log"
        self._log: IO[bytes] | None = None

    # subclasses: start the adapter and return a client for it
    def spawn(self) -> DapClient:
        raise NotImplementedError

    def launch_arguments(self) -> dict[str, Any]:
        raise NotImplementedError

    def end_writing(self) -> None:
        """Signal end of input to the adapter (half-close), keep reading possible."""

    def release_channel(self) -> None:
        """Close our end(s) of the DAP channel."""

    def start(self) -> None:
        try:
            self.client = self.spawn()
            self._handshake(self.client)
        except (DapError, OSError, KeyError, TypeError, ValueError) as exc:
            tail = file_tail(self.log_path)
            raise Skip(f"{exc}" + (f"\n    adapter output:\n{tail}" if tail else "")) from exc

    def open_log(self) -> IO[bytes]:
        self._log = self.log_path.open("wb")
        return self._log

    def _handshake(self, client: DapClient) -> None:
        timeout = self.ctx.setup_timeout
        self._initialize(client, "step_latency", "debugpy", supportsRunInTerminalRequest=False)
        launch_seq = client.request("launch", self.launch_arguments())

        def launch_reply_or_initialized(m: Message) -> bool:
            if m.get("type") == "event":
                return m.get("event") == "initialized"
            return m.get("type") == "response" and m.get("request_seq") == launch_seq

        first = client.wait_for(launch_reply_or_initialized, timeout, "the 'initialized' event")
        launch_answered = first.get("type") == "response"
        if launch_answered:
            if not first.get("success"):
                raise DapError(f"launch failed: {first.get('message')} {first.get('body') or ''}")
            client.event("initialized", timeout)
        reply = client.call(
            "setBreakpoints",
            {
                "source": {"path": str(self.ctx.target)},
                "breakpoints": [{"line": self.ctx.break_line}],
                "lines": [self.ctx.break_line],
            },
            timeout,
        )
        breakpoints = reply.get("body", {}).get("breakpoints", [])
        if not breakpoints:
            raise DapError(f"setBreakpoints returned no breakpoint: {reply}")
        client.call("configurationDone", {}, timeout)
        if not launch_answered:
            client.response(launch_seq, timeout)
        stop, line = self._first_stop(client, "the first 'stopped' event")
        if line != self.ctx.break_line:
            raise DapError(
                f"first stop is at line {line}, not at the breakpoint (line "
                f"{self.ctx.break_line}): {stop.get('body')}"
            )
        for message in client.backlog:
            if message.get("type") == "event" and message.get("event") == "process":
                self.target_pid = message.get("body", {}).get("systemProcessId")


    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None and not client.closed:
            with contextlib.suppress(DapError, OSError):
                seq = client.request("disconnect", {"terminateDebuggee": True})
                client.response(seq, 5.0, check=False)
                # Keep reading until the adapter hangs up, so its last events do not
                # hit a closed pipe.
                self.end_writing()
                client.drain(5.0)
        self.release_channel()
        stop_process(self.proc, 10.0, terminate=False)
        kill_if_target(self.target_pid, self.ctx.target)
        if self._log is not None:
            self._log.close()
            self._log = None


def _stop_or_end(seq: int | None) -> Any:
    def match(m: Message) -> bool:
        if m.get("type") == "event":
            return m.get("event") in ("stopped", "terminated", "exited")
        return (
            seq is not None
            and m.get("type") == "response"
            and m.get("request_seq") == seq
            and not m.get("success")
        )

    return match


class StockMode(DapMode):
    """Stock debugpy: ``python -m debugpy.adapter`` on stdio, launch with internal console."""

    def __init__(self, ctx: Context, *, nodelay: bool = False) -> None:
        super().__init__(ctx)
        self.nodelay = nodelay
        self.name = "nodelay" if nodelay else "stock"
        self.log_path = ctx.workdir / f"{self.name}-adapter.log"
        self.description = (
            "stock debugpy, TCP_NODELAY forced via sitecustomize"
            if nodelay
            else "stock debugpy adapter on stdio"
        )

    def _extra_path(self) -> list[Path]:
        return [NODELAY_SITE] if self.nodelay else []

    def adapter_argv(self) -> list[str]:
        """The adapter to run on stdio."""
        return [sys.executable, "-m", "debugpy.adapter"]

    def spawn(self) -> DapClient:
        self.proc = subprocess.Popen(
            self.adapter_argv(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.open_log(),
            env=base_env(self._extra_path()),
            cwd=self.ctx.workdir,
            bufsize=0,
            start_new_session=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        return DapClient(self.proc.stdout.fileno(), self.proc.stdin.fileno(), self.name)

    def launch_arguments(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "name": "bench",
            "type": "python",
            "request": "launch",
            "program": str(self.ctx.target),
            "args": [],
            "cwd": str(self.ctx.workdir),
            "console": "internalConsole",
            "stopOnEntry": False,
            "justMyCode": True,
        }
        if self.nodelay:
            # Inherited anyway; stated explicitly so the debuggee surely gets it.
            arguments["env"] = {"PYTHONPATH": base_env(self._extra_path())["PYTHONPATH"]}
        return arguments

    def end_writing(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def release_channel(self) -> None:
        if self.proc is not None:
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()


class WorkerMode(DapMode):
    """Our worker, driven over an inherited AF_UNIX socketpair like the server drives it."""

    def __init__(self, ctx: Context, *, module: str = WORKER_MODULE,
                 worker_args: Sequence[str] = (), log_name: str = "worker.log") -> None:
        super().__init__(ctx)
        self.name = "worker"
        self.module = module
        self.worker_args = list(worker_args)
        self.description = f"our worker ({module} --channel-fd)"
        self.log_path = ctx.workdir / log_name
        self.sock: socket.socket | None = None

    def spawn(self) -> DapClient:
        env = base_env([REPO_ROOT])
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import importlib.util, sys; "
                f"sys.exit(0 if importlib.util.find_spec({self.module!r}) else 3)",
            ],
            env=env,
            cwd=self.ctx.workdir,
            capture_output=True,
            text=True,
            timeout=self.ctx.setup_timeout,
            check=False,
        )
        if probe.returncode != 0:
            detail = (probe.stderr.strip().splitlines() or ["module not found"])[-1]
            raise Skip(f"cannot import {self.module}: {detail}")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock = ours
        try:
            log = self.open_log()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, "--channel-fd", str(theirs.fileno()),
                 *self.worker_args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                cwd=self.ctx.workdir,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        finally:
            theirs.close()
        return DapClient(ours.fileno(), ours.fileno(), self.name)

    def launch_arguments(self) -> dict[str, Any]:
        return plain_launch(self.ctx.target, self.ctx.workdir)

    def end_writing(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)

    def release_channel(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


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


def make_mode(name: str, ctx: Context) -> Mode:
    if name == "stock":
        return StockMode(ctx)
    if name == "nodelay":
        return StockMode(ctx, nodelay=True)
    if name == "worker":
        return WorkerMode(ctx)
    if name == "rest":
        return RestMode(ctx)
    raise ValueError(name)


# --------------------------------------------------------------------------------------
# running and reporting


def summarize(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000.0 for s in samples)
    p90 = statistics.quantiles(ms, n=10, method="inclusive")[8] if len(ms) > 1 else ms[0]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p90_ms": p90,
        "mean_ms": statistics.fmean(ms),
        "min_ms": ms[0],
        "max_ms": ms[-1],
    }


def run_step(mode: Mode, record: bool) -> None:
    try:
        elapsed = mode.step()
    except (DapError, OSError, http.client.HTTPException, ValueError) as exc:
        mode.status = f"failed during stepping: {exc}"
        mode.active = False
        print(f"  {mode.name}: {mode.status}", flush=True)
        mode.close()
        return
    if record:
        mode.samples.append(elapsed)


def start_modes(modes: list[Mode]) -> None:
    for mode in modes:
        print(f"starting {mode.name}: {mode.description} ...", flush=True)
        started = time.perf_counter()
        try:
            mode.start()
        except Skip as exc:
            mode.status = f"skipped: {exc}"
            print(f"  {mode.name} {mode.status}", flush=True)
            mode.close()
            continue
        except Exception as exc:
            mode.status = f"failed to start: {type(exc).__name__}: {exc}"
            print(f"  {mode.name} {mode.status}", flush=True)
            mode.close()
            continue
        mode.setup_seconds = time.perf_counter() - started
        mode.active = True
        print(
            f"  {mode.name} stopped at the breakpoint after {mode.setup_seconds:.2f} s", flush=True
        )


def run_rounds(modes: list[Mode], rounds: int, per_round: int, warmup: int) -> None:
    for mode in modes:
        for _ in range(warmup):
            if mode.active:
                run_step(mode, record=False)
    for index in range(rounds):
        active = [m for m in modes if m.active]
        if not active:
            return
        shift = index % len(active)
        order = active[shift:] + active[:shift]
        round_started = time.perf_counter()
        for mode in order:
            for _ in range(per_round):
                if not mode.active:
                    break
                run_step(mode, record=True)
        parts = []
        for mode in order:
            if mode.samples:
                parts.append(
                    f"{mode.name} {statistics.median(mode.samples[-per_round:]) * 1000:.2f}"
                )
        print(
            f"round {index + 1}/{rounds} ({time.perf_counter() - round_started:.1f} s): "
            f"median ms {', '.join(parts)}",
            flush=True,
        )


def report(
    modes: list[Mode],
    args: argparse.Namespace,
    per_round: int,
    versions: dict[str, str],
    ratios: Sequence[tuple[str, str, float | None]] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Print the table and the ratios (default: this benchmark's RATIOS); return JSON."""
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        **versions,
        "rounds": args.rounds,
        "steps_per_round": per_round,
        "steps_per_mode": args.rounds * per_round,
        "warmup_steps": args.warmup,
        "modes": {},
        "ratios": {},
    }
    print()
    print(
        f"python {result['python']} ({result['python_implementation']}), "
        + "".join(f"{name} {value}, " for name, value in versions.items())
        + f"{result['platform']}, {result['cpus']} CPUs"
    )
    print(
        f"steps per mode: {result['steps_per_mode']} "
        f"({args.rounds} interleaved rounds x {per_round}; {args.warmup} warm-up steps not counted)"
    )
    print()
    header = (
        f"{'mode':<8} {'n':>5} {'median ms':>10} {'p90 ms':>9} {'min ms':>8} {'setup s':>8}  status"
    )
    print(header)
    print("-" * len(header))
    medians: dict[str, float] = {}
    for mode in modes:
        entry: dict[str, Any] = {"description": mode.description, "status": mode.status}
        if mode.setup_seconds is not None:
            entry["setup_s"] = mode.setup_seconds
        setup = f"{mode.setup_seconds:8.2f}" if mode.setup_seconds is not None else f"{'-':>8}"
        status = mode.status.splitlines()[0]
        if mode.samples:
            stats = summarize(mode.samples)
            entry.update(stats)
            medians[mode.name] = stats["median_ms"]
            print(
                f"{mode.name:<8} {stats['n']:>5} {stats['median_ms']:>10.2f} "
                f"{stats['p90_ms']:>9.2f} {stats['min_ms']:>8.2f} {setup}  {status}"
            )
        else:
            print(f"{mode.name:<8} {0:>5} {'-':>10} {'-':>9} {'-':>8} {setup}  {status}")
        result["modes"][mode.name] = entry
    print()
    all_met = True
    requested = {mode.name for mode in modes}
    for numerator, denominator, target in RATIOS if ratios is None else ratios:
        if numerator not in medians or denominator not in medians:
            if target is not None and {numerator, denominator} <= requested:
                all_met = False  # the target could not be measured: --check fails
                print(f"{numerator}/{denominator}: not measured (target <= {target:.2f}x)")
            continue
        ratio = medians[numerator] / medians[denominator]
        delta = medians[numerator] - medians[denominator]
        met = None if target is None else ratio <= target
        if met is False:
            all_met = False
        verdict = (
            "informational"
            if target is None
            else f"target <= {target:.2f}x: {'met' if met else 'MISSED'}"
        )
        print(f"{numerator}/{denominator} = {ratio:.2f}x ({verdict})  [{delta:+.2f} ms]")
        result["ratios"][f"{numerator}/{denominator}"] = {
            "ratio": ratio,
            "delta_ms": delta,
            "target": target,
            "met": met,
        }
    return result, all_met


def find_break_line(path: Path, marker: str = BREAK_MARKER) -> int:
    """The line number of the first line of `path` that contains `marker`."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if marker in line:
            return number
    raise SystemExit(f"{path} has no line marked {marker}")


def bench_parser(doc: str | None, all_modes: tuple[str, ...], check_help: str,
                 default_modes: tuple[str, ...] | None = None) -> argparse.ArgumentParser:
    """The options every benchmark here shares; each adds its own before parsing."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--steps", type=int, default=600, help="timed steps per mode (min)")
    parser.add_argument("--rounds", type=int, default=12, help="interleaved rounds")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps per mode first")
    defaults = default_modes or all_modes
    parser.add_argument("--modes", default=",".join(defaults),
                        help=f"comma-separated subset of {all_modes} "
                             f"(default: {','.join(defaults)})")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--setup-timeout", type=float, default=60.0, help="seconds")
    parser.add_argument("--step-timeout", type=float, default=15.0, help="seconds")
    parser.add_argument("--check", action="store_true", help=check_help)
    parser.add_argument("--keep-tmp", action="store_true", help="keep the work dir (logs)")
    return parser


def parse_bench_args(parser: argparse.ArgumentParser, argv: list[str] | None,
                     all_modes: tuple[str, ...]) -> argparse.Namespace:
    """Parse, and check what every benchmark checks (`args.mode_list` is the modes)."""
    args = parser.parse_args(argv)
    args.mode_list = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in args.mode_list if m not in all_modes]
    if unknown or not args.mode_list:
        parser.error(f"unknown mode(s) {unknown}; choose from {', '.join(all_modes)}")
    if args.steps < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--steps and --rounds must be >= 1, --warmup >= 0")
    return args


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, ALL_MODES,
                          "exit 1 if a baseline mode failed or a measured target ratio was missed")
    return parse_bench_args(parser, argv, ALL_MODES)


def run_bench(
    args: argparse.Namespace,
    *,
    prefix: str,
    make_context: Callable[[Path], Context],
    make_mode: Callable[[str, Any], Mode],
    versions: Callable[[], dict[str, str]],
    ratios: Sequence[tuple[str, str, float | None]],
    baselines: tuple[str, ...],
    extra_report: Callable[[dict[str, Any], set[str]], bool] | None = None,
) -> int:
    """Run a benchmark in a fresh work dir, clean up, report; return the exit status.

    Shared by every benchmark here: ``make_context`` sets up the target in the work dir,
    ``versions`` is asked after the run, ``extra_report`` prints further targets (all
    met?), and ``--check`` also fails when a ``baselines`` mode has no samples.
    """
    per_round = math.ceil(args.steps / args.rounds)
    workdir = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    ctx: Context | None = None
    modes: list[Mode] = []
    try:
        ctx = make_context(workdir)
        modes = [make_mode(name, ctx) for name in args.mode_list]
        start_modes(modes)
        run_rounds(modes, args.rounds, per_round, args.warmup)
    finally:
        for mode in modes:
            mode.active = False
            mode.close()
        if isinstance(ctx, NativeContext):
            leftovers = kill_leftovers(ctx.program)
            if leftovers:
                print(f"warning: killed target processes left behind: {leftovers}")
        if args.keep_tmp:
            print(f"work dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    result, all_met = report(modes, args, per_round, versions(), ratios)
    if extra_report is not None:
        all_met = extra_report(result, {m.name for m in modes}) and all_met
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    baselines_ok = all(m.samples for m in modes if m.name in baselines)
    return 1 if args.check and not (all_met and baselines_ok) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import debugpy

    return run_bench(
        args,
        prefix="jds-bench-",
        make_context=lambda workdir: python_context(workdir, args),
        make_mode=make_mode,
        versions=lambda: {"debugpy": debugpy.__version__},
        ratios=RATIOS,
        baselines=("stock", "nodelay"),
    )


if __name__ == "__main__":
    sys.exit(main())
