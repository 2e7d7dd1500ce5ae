"""The fuzzed server: a real server process, one stopped session per debugger, its tokens,
and the checks run after every round of hostile frames.

After a round: the server process is alive; every session answers `threads` through REST
(a fresh client); no worker died; the server's log (stdout and stderr) holds no traceback
and none of the secrets used; the server's RSS grew at most 50 MB from the warm-up baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from jupyter_debug_server.client import DebugServerClient

from ..support.native import compile_targets, marker_line
from ..support.server_process import ServerProcess

TARGETS = Path(__file__).resolve().parents[1] / "targets"
DEBUGGERS = ("debugpy", "gdb", "lldb")
RSS_LIMIT_KIB = 50 * 1024
# What in a log line means something escaped a handler or a process died badly.
_CRASH_MARKS = ("Traceback (most recent call last)", "Fatal error", "Exception in callback",
                "Unhandled error", "Uncaught exception")


@dataclass
class FuzzSession:
    debugger: str
    id: str
    control: str  # session token secrets
    observe: str
    worker_pid: int = 0


@dataclass
class FuzzTarget:
    """The server under attack and what the checks need to know about it."""

    server: ServerProcess
    sessions: dict[str, FuzzSession]
    root: Path
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    baseline_rss: int = 0
    _log_seen: int = 0

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/"

    def program(self, debugger: str) -> tuple[Path, Path, int]:
        """The waiter target of `debugger`: program, source, the breakpoint line."""
        spec = _spec(debugger, self.root)
        breakpoint_ = spec["breakpoints"][0]
        return (self.root / spec["program"], self.root / breakpoint_["path"],
                int(breakpoint_["line"]))

    def secrets(self) -> list[str]:
        found = [self.server.token]
        for session in self.sessions.values():
            found += [session.control, session.observe]
        return found

    def rss(self) -> int:
        assert self.server.proc is not None
        return int(psutil.Process(self.server.proc.pid).memory_info().rss)

    async def check_round(self, label: str) -> None:
        """The checks after a round; problems are counted and kept, not raised here."""
        assert self.server.proc is not None
        if self.server.proc.poll() is not None:
            self._problem("crashes", f"{label}: the server exited with "
                          f"{self.server.proc.returncode}")
            return
        answers = await asyncio.gather(*(self._threads(s) for s in self.sessions.values()))
        for session, problem in zip(self.sessions.values(), answers, strict=True):
            if problem:
                self._problem("unanswered", f"{label}: session {session.debugger}: {problem}")
            if not _alive(session.worker_pid):
                self._problem("crashes", f"{label}: the {session.debugger} worker "
                              f"{session.worker_pid} died")
        self.check_log(label)
        growth = max(0, self.rss() - self.baseline_rss) // 1024
        self.counts["rss_growth_kib"] = max(self.counts["rss_growth_kib"], growth)
        if growth > RSS_LIMIT_KIB:
            self.problems.append(f"{label}: server RSS grew by {growth} KiB from the warm-up")

    async def _threads(self, session: FuzzSession) -> str:
        """'' if the session answers `threads` on REST, else what went wrong."""
        try:
            status, body = await asyncio.to_thread(
                self.server.request, "POST", f"/api/debug/sessions/{session.id}/dap",
                {"command": "threads"}, 30)
        except (OSError, TimeoutError) as exc:
            return f"no answer to threads: {exc!r}"
        if status != 200 or not isinstance(body, dict) or "threads" not in body:
            why = ""
            with contextlib.suppress(OSError, TimeoutError):
                _, model = await asyncio.to_thread(
                    self.server.request, "GET", f"/api/debug/sessions/{session.id}", None, 30)
                if isinstance(model, dict):
                    why = f" (the session is {model.get('state')}: {model.get('error')!r:.600})"
            return f"threads answered {status} {body!r:.300}{why}"
        return ""

    def check_log(self, label: str, extra: str = "") -> None:
        """Tracebacks and secrets in what the server logged since the last check (and in
        `extra`, another process's log)."""
        lines = self.server.log[self._log_seen:]
        self._log_seen += len(lines)
        text = "".join(lines) + extra
        for mark in _CRASH_MARKS:
            if mark in text:
                at = text.index(mark)
                self._problem("crashes", f"{label}: {mark!r} logged: "
                              f"{_redact(text[max(0, at - 1500):at + 2500], self.secrets())}")
                break
        for secret in self.secrets():
            hits = text.count(secret)
            if hits:
                self._problem("secret_hits", f"{label}: a secret appeared {hits} times in "
                              "a log", hits)

    def _problem(self, name: str, text: str, count: int = 1) -> None:
        self.counts[name] += count
        self.problems.append(text)


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "<secret>")
    return text


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _spec(debugger: str, root: Path) -> dict[str, Any]:
    if debugger == "debugpy":
        program = root / "targets" / "waiter.py"
        line = marker_line(program, "ATTACH-HERE")
    else:
        program = root / "native" / "waiter"
        line = marker_line(root / "native" / "waiter.c", "TICK-BODY")
    source = program if debugger == "debugpy" else root / "native" / "waiter.c"
    return {"debugger": debugger, "program": str(program.relative_to(root)),
            "breakpoints": [{"path": str(source.relative_to(root)), "line": line}],
            "name": f"fuzz-{debugger}"}


def start_target(base: Path) -> FuzzTarget:
    """A server in its own process with a stopped session of each debugger."""
    root = base / "root"
    shutil.copytree(TARGETS, root / "targets", ignore=shutil.ignore_patterns("native"))
    (root / "native").mkdir(parents=True)
    compile_targets(root / "native")
    _log_our_loggers(base / "state" / "config")
    server = ServerProcess(root, base / "state")
    server.start()
    target = FuzzTarget(server, {}, root)
    try:
        for debugger in DEBUGGERS:
            target.sessions[debugger] = _session(server, debugger, root)
        for session in target.sessions.values():
            session.worker_pid = _worker_pid(server, session.id)
    except BaseException:
        server.stop()
        raise
    return target


def _log_our_loggers(config_dir: Path) -> None:
    """Send the extension's own loggers (INFO: the workers' stderr, with any traceback a
    worker logs) to the server's console handler, so the checks see them."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {
        "logging_config": {"loggers": {"jupyter_debug_server": {
            "level": "INFO", "handlers": ["console"], "propagate": False}}}}}))


def _session(server: ServerProcess, debugger: str, root: Path) -> FuzzSession:
    status, model = server.request("POST", "/api/debug/sessions", _spec(debugger, root))
    assert status == 201, (status, model)
    sid = model["id"]
    with DebugServerClient(f"http://127.0.0.1:{server.port}/", server.token) as client:
        model = client.wait_settled(sid, 60)  # over the events socket: no polling
    assert model["state"] == "stopped", f"{debugger} session did not stop: {model}"
    tokens = {}
    for scope in ("control", "observe"):
        status, token = server.request("POST", f"/api/debug/sessions/{sid}/tokens",
                                       {"scope": scope, "ttl": 3600})
        assert status == 201, (status, token)
        tokens[scope] = token["secret"]
    return FuzzSession(debugger, sid, tokens["control"], tokens["observe"])


def _worker_pid(server: ServerProcess, session_id: str) -> int:
    assert server.proc is not None
    for child in psutil.Process(server.proc.pid).children():
        if session_id in " ".join(child.cmdline()):
            return int(child.pid)
    raise AssertionError(f"no worker process of session {session_id}")
