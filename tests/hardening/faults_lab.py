"""The fault suite's workbench: one server (restarted only after server faults), sessions
with marked targets, the processes of each session by role, and the checks run after
every fault (final or usable, nothing left 10 s later)."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ..support.server_process import ServerProcess
from .faults_support import MARKER_ENV, descendants, marked, still_alive

FINAL = {"exited", "terminated", "failed", "lost"}
USABLE = {"running", "stopped"}
PROGRAMS = {"debugpy": "targets/waiter.py", "gdb": "waiter", "lldb": "waiter"}
#: How long a scenario's processes may outlive it (DESIGN.md §5, issue 11).
LEFTOVER_GRACE = 10.0


class SharedGate:
    """Many holders at once (`shared`), or one alone (`alone`): a readers-writer lock."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._alone = False

    def shared(self) -> _Hold:
        return _Hold(self, alone=False)

    def alone(self) -> _Hold:
        return _Hold(self, alone=True)

    def _enter(self, alone: bool) -> None:
        with self._cond:
            if alone:
                self._cond.wait_for(lambda: not self._alone)
                self._alone = True  # new shared holders wait from now on
                self._cond.wait_for(lambda: self._shared == 0)
            else:
                self._cond.wait_for(lambda: not self._alone)
                self._shared += 1

    def _exit(self, alone: bool) -> None:
        with self._cond:
            if alone:
                self._alone = False
            else:
                self._shared -= 1
            self._cond.notify_all()


class _Hold:
    def __init__(self, gate: SharedGate, alone: bool) -> None:
        self.gate, self.alone = gate, alone

    def __enter__(self) -> None:
        self.gate._enter(self.alone)

    def __exit__(self, *_: object) -> None:
        self.gate._exit(self.alone)


@dataclass
class Launched:
    """A session a scenario started, and every process found for it."""

    id: str
    debugger: str
    marker: str
    target: psutil.Process | None
    worker: psutil.Process | None
    debuggers: list[psutil.Process]  # gdb / lldb-dap (and lldb-server); [] for debugpy
    procs: list[psutil.Process]  # all of the above and their children
    token: str | None = None  # a session token, when the scenario issued one


@dataclass
class Lab:
    """A server in its own process, with the tallies of the suite."""

    server: ServerProcess
    run: str
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    serials: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Scenarios run in parallel under `gate`; server and store faults hold it alone.
    gate: SharedGate = field(default_factory=SharedGate)

    def pick(self, rng: random.Random, kind: str, debugger: str, variants: list[str]) -> str:
        """A variant of a scenario (`kind` and `debugger` name it in a replay's log)."""
        return rng.choice(variants)

    def add(self, name: str, n: int = 1) -> None:
        """Add to a count (scenarios run in several threads)."""
        with self.lock:
            self.counts[name] += n

    def new_marker(self) -> str:
        """A marker unique to one session of this run."""
        return f"{self.run}-{next(self.serials)}"

    @property
    def db(self) -> Path:
        return self.server.state / "debug.db"

    # -- HTTP ----------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             timeout: float = 30) -> tuple[int | None, Any]:
        """One REST call; (None, why) when it timed out or the connection failed."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        auth = f"Bearer {token}" if token else f"token {self.server.token}"
        try:
            conn.request(method, f"/api/debug/{path}",
                         body=None if body is None else json.dumps(body),
                         headers={"Authorization": auth})
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        try:
            return response.status, json.loads(data) if data else None
        except ValueError:
            return response.status, data[:300]

    def state(self, session_id: str) -> str | None:
        status, model = self.call("GET", f"sessions/{session_id}", timeout=15)
        return model.get("state") if status == 200 and isinstance(model, dict) else None

    def wait_state(self, session_id: str, states: set[str], within: float) -> str | None:
        """The session's state once it is one of `states` (or the last seen at the end)."""
        deadline = time.monotonic() + within
        state = self.state(session_id)
        while state not in states and time.monotonic() < deadline:
            time.sleep(0.05)  # the REST model has no long poll; the events socket is not
            # what is under test here
            state = self.state(session_id)
        return state

    # -- sessions ------------------------------------------------------------------

    def launch(self, debugger: str, *, token: bool = False) -> Launched | None:
        """A session stopped at the entry of an endless target, its processes found."""
        marker = self.new_marker()
        status, model = self.call("POST", "sessions", {
            "debugger": debugger, "program": PROGRAMS[debugger], "stop_on_entry": True,
            "env": {MARKER_ENV: marker}}, timeout=90)
        if status != 201 or not isinstance(model, dict):
            self.problems.append(f"launch {debugger}: {status} {str(model)[:300]}")
            return None
        launched = self.find(model, debugger, marker)
        if token:
            status, issued = self.call("POST", f"sessions/{model['id']}/tokens",
                                       {"scope": "control"})
            if status == 201 and isinstance(issued, dict):
                launched.token = issued["secret"]
                self.secrets.add(issued["secret"])
        return launched

    def find(self, model: dict[str, Any], debugger: str, marker: str) -> Launched:
        """The session's worker, debugger and target (process tree and marker)."""
        worker = None
        for proc in descendants(self.server.proc.pid):  # type: ignore[union-attr]
            try:
                if model["id"] in proc.cmdline():
                    worker = proc
            except psutil.Error:
                continue
        procs = [] if worker is None else [worker, *descendants(worker.pid)]
        procs += [p for p in marked(marker) if p.pid not in {q.pid for q in procs}]
        target = next((p for p in procs if p.pid == model.get("pid")), None)
        debuggers = [p for p in procs if _name(p).startswith(("gdb", "lldb"))]
        return Launched(model["id"], debugger, marker, target, worker, debuggers, procs)

    def usable(self, launched: Launched) -> bool:
        """The session answers a `threads` request (with its own token when it has one)."""
        status, body = self.call("POST", f"sessions/{launched.id}/dap",
                                 {"command": "threads"}, token=launched.token, timeout=10)
        return status == 200 and isinstance(body, dict) and "threads" in body

    def settle(self, launched: Launched, what: str, *, ends: bool) -> None:
        """After a fault: the session is final, or usable and then ended by DELETE; and
        nothing it started is left 10 s later. `ends`: a process of the session died, so
        it should end; if it has not within 3 s it must still answer `threads` and, sent
        `continue`, reach a final state (a debugger may learn of a death on resuming)."""
        state = self.wait_state(launched.id, FINAL if ends else FINAL | USABLE, 3 if ends else 10)
        if state not in FINAL:
            answers = state in USABLE and self.usable(launched)
            if not answers:
                # It may be ending just now (a loaded machine is slow to tell): give it time.
                state = self.wait_state(launched.id, FINAL, 10)
            if not answers and state not in FINAL:
                self.add("non_final_sessions")
                self.problems.append(f"{what}: session {launched.id} ({launched.debugger}) is "
                                     f"{state} and does not answer 'threads'")
            elif ends and state not in FINAL:
                self.call("POST", f"sessions/{launched.id}/continue", {}, token=launched.token,
                          timeout=15)
                state = self.wait_state(launched.id, FINAL, 10)
                if state not in FINAL:
                    self.add("non_final_sessions")
                    self.problems.append(f"{what}: session {launched.id} ({launched.debugger})"
                                         f" is still {state} after a `continue`")
            if state not in FINAL:
                self.end(launched, what)
        self.check_leftovers([launched], what)

    def end(self, launched: Launched, what: str) -> None:
        """DELETE the session; it must answer and reach a final state."""
        status, model = self.call("DELETE", f"sessions/{launched.id}", timeout=30)
        state = model.get("state") if isinstance(model, dict) else None
        if status != 200 or state not in FINAL:
            self.add("non_final_sessions")
            self.problems.append(f"{what}: DELETE of {launched.id} ({launched.debugger}) "
                                 f"answered {status} {str(model)[:200]}")

    def check_leftovers(self, sessions: list[Launched], what: str) -> None:
        procs = [p for s in sessions for p in s.procs]
        procs += [p for s in sessions for p in marked(s.marker)]
        left = still_alive(_unique(procs), LEFTOVER_GRACE)
        if left:
            self.add("leftover_processes", len(left))
            self.problems.append(f"{what}: still running {LEFTOVER_GRACE:g} s later: "
                                 f"{[f'{p.pid} {_name(p)}' for p in left]}")
            for p in left:  # do not let one leak pile up on the next scenarios
                with contextlib.suppress(psutil.Error):
                    p.kill()


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return "?"


def _unique(procs: list[psutil.Process]) -> list[psutil.Process]:
    seen: dict[int, psutil.Process] = {}
    for p in procs:
        seen.setdefault(p.pid, p)
    return list(seen.values())


def raw_http(port: int, request: bytes) -> socket.socket:
    """A connection that has sent `request` (the caller drops it when it likes)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(request)
    return sock

