"""What another OS user tries against alice's session: run by test_os_isolation.py as
jds-bob with the system Python (standard library only; passed with -c, since bob may not
reach this checkout).

Its stdin is a JSON list of [attempt, kind, target] (stdin, not argv: argv is public on
the host, and a plan may carry bob's own hub token); prints a JSON list of [attempt,
outcome], where the outcome is the errno's name (EACCES, EPERM, ...) or EOF (a connection
closed before any byte came back), and starts with "REACHED" when the attempt got through.
"""

from __future__ import annotations

import ctypes
import errno
import http.client
import json
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

PTRACE_ATTACH, PTRACE_DETACH = 16, 17


def _errno(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, type(exc).__name__)


def _read(path: str) -> str:
    with open(path, "rb") as f:
        data = f.read(64)
    return f"REACHED: read {len(data)} bytes"


def _listdir(path: str) -> str:
    return f"REACHED: {len(os.listdir(path))} entries"


def _dap(port: int) -> str:
    """Connect and send a perfect DAP initialize: anything but an unanswered close is a
    reach."""
    body = json.dumps({"seq": 1, "type": "request", "command": "initialize",
                       "arguments": {"adapterID": "bob"}}).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        try:
            s.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            got = s.recv(1)
        except ConnectionResetError:
            return "EOF"  # closed unread: the kernel answers our unread bytes with a reset
        return "EOF" if got == b"" else f"REACHED: answered {got!r}"


def _unix(path: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect(path)
    return "REACHED: connected"


def _http(target: list[Any]) -> str:
    """GET a route straight from a server's port (not through the proxy); its status."""
    port, path, token = target
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=20)
    try:
        conn.request("GET", path, headers={"Authorization": f"token {token}"})
        status = conn.getresponse().status
    finally:
        conn.close()
    return str(status) if status in (401, 403) else f"REACHED: {status}"


def _ptrace(pid: int) -> str:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:
        libc.ptrace(PTRACE_DETACH, pid, None, None)
        return "REACHED: attached"
    return errno.errorcode.get(ctypes.get_errno(), "ptrace failed")


def _signal(pid: int) -> str:
    os.kill(pid, 0)  # signal 0: permission check only, nothing is delivered
    return "REACHED: may signal"


def attempt(kind: str, target: Any) -> str:
    """Try one thing; its outcome."""
    actions: dict[str, Callable[[Any], str]] = {
        "read": _read, "listdir": _listdir, "dap": _dap, "unix": _unix, "http": _http,
        "ptrace": _ptrace, "signal": _signal}
    try:
        return str(actions[kind](target))
    except OSError as exc:
        return _errno(exc)


def main() -> None:
    plan = json.loads(sys.stdin.read())
    print(json.dumps([[name, attempt(kind, target)] for name, kind, target in plan]))


if __name__ == "__main__":
    main()
