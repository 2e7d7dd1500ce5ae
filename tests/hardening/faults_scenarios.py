"""One function per kind of fault. Each starts what it needs, injects the fault, and hands
the aftermath to `Lab.settle` / `Lab.check_leftovers`; each returns the number of faults
it injected (a server fault may hit several sessions at once, but counts as one)."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

from .faults_lab import FINAL, PROGRAMS, Lab, Launched, raw_http
from .faults_support import MARKER_ENV

Scenario = Callable[[Lab, random.Random, str], int]


def _signal(proc: psutil.Process | None, sig: int) -> bool:
    if proc is None:
        return False
    try:
        proc.send_signal(sig)
        return True
    except psutil.Error:
        return False


def _victim(launched: Launched, role: str, variant: str) -> psutil.Process | None:
    if role == "target" or (role == "debugger" and launched.debugger == "debugpy"):
        return launched.target  # pydevd runs inside the debuggee
    if role == "worker":
        return launched.worker
    # The debugger: gdb, or lldb-dap ("adapter") or its lldb-server ("server").
    wanted = "lldb-server" if variant == "server" else ("gdb", "lldb-dap")
    return next((p for p in launched.debuggers if p.name().startswith(wanted)), None)


def _variants(role: str, debugger: str) -> list[str]:
    if role == "debugger" and debugger == "lldb":
        return ["adapter", "server"]
    return ["adapter"] if role == "debugger" else [role]


def sigkill(role: str) -> Scenario:
    """SIGKILL the target, worker or debugger of a stopped session."""

    def scenario(lab: Lab, rng: random.Random, debugger: str) -> int:
        variant = lab.pick(rng, f"sigkill_{role}", debugger, _variants(role, debugger))
        launched = lab.launch(debugger, token=rng.random() < 0.3)
        if launched is None:
            return 0
        victim = _victim(launched, role, variant)
        if not _signal(victim, signal.SIGKILL):
            lab.problems.append(f"sigkill_{role} {debugger}: no {role} process found")
            lab.end(launched, f"sigkill_{role}")
            return 0
        lab.settle(launched, f"sigkill_{role} ({variant}) {debugger}", ends=True)
        return 1

    return scenario


def sigstop(role: str) -> Scenario:
    """SIGSTOP the target, worker or debugger; a request meanwhile; SIGCONT (or never)."""

    def scenario(lab: Lab, rng: random.Random, debugger: str) -> int:
        variant = lab.pick(rng, f"sigstop_{role}", debugger, ["cont", "cont", "no_cont"])
        launched = lab.launch(debugger, token=rng.random() < 0.3)
        if launched is None:
            return 0
        part = rng.choice(_variants(role, debugger))
        victim = _victim(launched, role, part)
        what = f"sigstop_{role} ({part}) {debugger}"
        if not _signal(victim, signal.SIGSTOP):
            lab.problems.append(f"{what}: no {role} process found")
            lab.end(launched, what)
            return 0
        if variant == "cont":
            # Frozen for a while, then thawed: a request made meanwhile must get its answer.
            asked = _in_background(lambda: lab.usable(launched))
            time.sleep(rng.uniform(0.2, 1.0))  # the length of the fault, not a wait
            _signal(victim, signal.SIGCONT)
            if not asked.result(timeout=25):
                lab.add("non_final_sessions")
                lab.problems.append(f"{what}+SIGCONT: a request made while it was stopped "
                                    "got no answer after SIGCONT")
            lab.settle(launched, f"{what}+SIGCONT", ends=False)
        else:
            # Never thawed: ending the session must still end every process.
            lab.end(launched, what)
            lab.check_leftovers([launched], what)
        return 1

    return scenario


def sigstop_server(lab: Lab, rng: random.Random, debugger: str) -> int:
    """Freeze the server with a session running; requests wait and are answered after."""
    launched = lab.launch(debugger)
    if launched is None:
        return 0
    lab.server.signal(signal.SIGSTOP)
    asked = _in_background(lambda: lab.usable(launched))
    time.sleep(rng.uniform(0.2, 1.0))  # the length of the fault, not a wait
    lab.server.signal(signal.SIGCONT)
    if not asked.result(timeout=25):
        lab.add("non_final_sessions")
        lab.problems.append(f"sigstop_server {debugger}: no answer after SIGCONT")
    lab.settle(launched, f"sigstop_server {debugger}", ends=False)
    return 1


def sigkill_server(lab: Lab, rng: random.Random, debugger: str) -> int:
    """SIGKILL the server with one session per debugger; restart it on the same database:
    the sessions are `lost` and nothing of theirs is left. Variants: the workers run (they
    notice), the workers are frozen (only the restart can reap them), or the server is
    SIGSTOPped first and never continued (its sockets stay open until the kill)."""
    variant = lab.pick(rng, "sigkill_server", debugger, ["running", "frozen", "server_stopped"])
    sessions = [s for d in ("debugpy", "gdb", "lldb") if (s := lab.launch(d)) is not None]
    if variant == "frozen":
        for s in sessions:
            for p in s.procs:
                _signal(p, signal.SIGSTOP)
    elif variant == "server_stopped":
        lab.server.signal(signal.SIGSTOP)
        time.sleep(rng.uniform(0.2, 1.0))  # the length of the fault, not a wait
    lab.server.signal(signal.SIGKILL)
    lab.server.wait(30)
    lab.server.start()
    what = f"sigkill_server ({variant})"
    for s in sessions:
        state = lab.state(s.id)
        if state != "lost":
            lab.add("non_final_sessions")
            lab.problems.append(f"{what}: session {s.id} ({s.debugger}) is {state}, not lost")
    lab.check_leftovers(sessions, what)
    return 1


def client_dropped(lab: Lab, rng: random.Random, debugger: str) -> int:
    """Drop clients mid-request: REST `continue`/`step` while they wait for the next stop,
    and DAP tunnel or events WebSocket connections mid-message; the session stays usable."""
    launched = lab.launch(debugger, token=rng.random() < 0.3)
    if launched is None:
        return 0
    faults = 0
    for _ in range(4):  # several drops per session keep each one cheap
        variant = lab.pick(rng, "client_dropped", debugger, ["rest", "rest", "ws", "events"])
        if variant == "rest":
            faults += _drop_rest(lab, rng, launched)
        else:
            faults += _drop_ws(lab, rng, launched, "dap" if variant == "ws" else "events")
        if lab.state(launched.id) in FINAL:
            break
    if not _clients_gone(lab, launched):
        lab.problems.append(f"client_dropped {debugger}: the dropped clients are still "
                            "counted 10 s later")
    lab.settle(launched, f"client_dropped {debugger}", ends=False)
    return faults


def _drop_rest(lab: Lab, rng: random.Random, launched: Launched) -> int:
    route, body = rng.choice([("continue", {}), ("step", {"kind": "out"})])
    auth = f"Bearer {launched.token}" if launched.token else f"token {lab.server.token}"
    data = json.dumps(body).encode()
    sock = raw_http(lab.server.port, (
        f"POST /api/debug/sessions/{launched.id}/{route} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n").encode() + data)
    # Drop once the server acts on it (the target runs), i.e. while the request waits.
    lab.wait_state(launched.id, {"running"} | FINAL, 10)
    _close(sock, reset=rng.random() < 0.5)
    # Stop it again so the next drop (and the final check) find a stopped session.
    lab.call("POST", f"sessions/{launched.id}/pause", {}, token=launched.token, timeout=20)
    lab.wait_state(launched.id, {"stopped"} | FINAL, 10)
    return 1


def _drop_ws(lab: Lab, rng: random.Random, launched: Launched, route: str) -> int:
    """Open the DAP tunnel or the events socket and vanish in the middle of a message."""
    token = launched.token or lab.server.token
    key = base64.b64encode(os.urandom(16)).decode()
    sock = raw_http(lab.server.port, (
        f"GET /api/debug/sessions/{launched.id}/{route}?token={token} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{lab.server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        lab.problems.append(f"client_dropped {route}: upgrade refused: {head[:200]!r}")
        sock.close()
        return 0
    message = json.dumps({"seq": 1, "type": "request", "command": "threads"}).encode()
    how = rng.choice(["half-frame", "first-fragment", "after-request"])
    if how == "half-frame":
        sock.sendall(_frame(message, fin=True)[: 6 + len(message) // 2])
    elif how == "first-fragment":
        sock.sendall(_frame(message[:10], fin=False))
    else:
        sock.sendall(_frame(message, fin=True))  # gone before its answer is read
    _close(sock, reset=rng.random() < 0.5)
    return 1


def _frame(payload: bytes, *, fin: bool) -> bytes:
    """A masked client text frame (payloads under 126 bytes)."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", (0x80 if fin else 0) | 0x1, 0x80 | len(payload)) + mask + masked


def _close(sock: socket.socket, *, reset: bool) -> None:
    if reset:  # an RST instead of a FIN: the peer vanished
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _clients_gone(lab: Lab, launched: Launched) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, model = lab.call("GET", f"sessions/{launched.id}", timeout=15)
        if status != 200 or not isinstance(model, dict) or model.get("clients") == 0:
            return True
        time.sleep(0.05)  # the model has no long poll
    return False


_LOCKER = """\
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def store_locked(lab: Lab, rng: random.Random, debugger: str) -> int:
    """Another process holds an exclusive lock on the store for a while (shorter or longer
    than busy_timeout): requests succeed late or get a clear error, never hang or a bare
    500."""
    variant = lab.pick(rng, "store_locked", debugger, ["short", "short", "beyond_busy_timeout"])
    # busy_timeout is 5 s (c.DebugServerApp.store_busy_timeout).
    hold = rng.uniform(0.3, 1.5) if variant == "short" else 7.0
    locker = subprocess.Popen([sys.executable, "-c", _LOCKER, str(lab.db), str(hold)],
                              stdout=subprocess.PIPE, text=True)
    assert locker.stdout is not None
    if locker.stdout.readline().strip() != "locked":
        locker.kill()
        locker.wait()
        lab.problems.append("store_locked: the locking process could not lock the store")
        return 0
    try:
        launched = _launch_under_lock(lab, debugger, hold)
    finally:
        locker.wait(30)
    if launched is not None:
        lab.settle(launched, f"store_locked {debugger}", ends=False)
    return 1


def _launch_under_lock(lab: Lab, debugger: str, hold: float) -> Launched | None:
    what = f"store_locked {hold:.1f} s {debugger}"
    marker = lab.new_marker()
    status, model = lab.call("POST", "sessions", {
        "debugger": debugger, "program": PROGRAMS[debugger], "stop_on_entry": True,
        "env": {MARKER_ENV: marker}},
        timeout=60)
    _check_locked_answer(lab, what, status, model)
    for method, path in (("GET", "sessions"), ("GET", "debuggers")):
        got, answer = lab.call(method, path, timeout=60)
        _check_locked_answer(lab, f"{what} {method} {path}", got, answer)
    if status != 201 or not isinstance(model, dict):
        return None
    return lab.find(model, debugger, marker)


def _check_locked_answer(lab: Lab, what: str, status: int | None, answer: Any) -> None:
    if status is None:
        lab.problems.append(f"{what}: no answer ({answer})")
    elif status >= 500 and not (isinstance(answer, dict) and isinstance(
            answer.get("message"), str) and len(answer["message"].split()) >= 3
            and answer.get("reason")):
        lab.problems.append(f"{what}: {status} without a sentence: {str(answer)[:200]}")
    elif status >= 400 and status != 503:
        lab.problems.append(f"{what}: {status} {str(answer)[:200]}")


class _Background:
    def __init__(self, fn: Callable[[], bool]) -> None:
        self._value = False
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], bool]) -> None:
        self._value = fn()

    def result(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return self._value


def _in_background(fn: Callable[[], bool]) -> _Background:
    return _Background(fn)
