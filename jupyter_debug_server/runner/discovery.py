"""Discovery (server side): which debuggers exist, where they are, whether they work here.

Built at import and never changed. Probing runs subprocesses, so callers run
`probe()` off the event loop. The workers themselves are named by module (the
entry points in runner/debuggers/); lldb-dap is found by the same rule the lldb
worker uses (runner/debuggers/lldb/discovery.py, standard library only).

A probe also lists the debugger's exception filters (`exception_filters`, what a launch
spec's `exception_breakpoints` may name): our adapters' are data
(runner/debuggers/exception_filters.py); lldb-dap's depend on its build, so the probe asks
it once (its answer to `initialize`), and the probe is cached.
"""

from __future__ import annotations

import importlib.metadata
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..dap import FrameDecoder, FramingError, encode
from .debuggers.exception_filters import DEBUGPY_FILTERS, GDB_FILTERS
from .debuggers.lldb.discovery import find_lldb_dap
from .worker_process import worker_environment

#: Seconds lldb-dap has to answer the probe's `initialize` (it takes about 0.3 s).
_LLDB_DAP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Debugger:
    """One supported debugger and the worker module that wraps it."""

    name: str
    worker_module: str
    description: str
    path_option: str | None = None  # the worker option that names the executable

    def probe(self, configured: str = "") -> dict[str, Any]:
        """Describe availability: name, available, version, path, reason, and the
        exception filters (`exception_filters`: [{id, label, default}], [] when unavailable).

        `configured` is the executable set in the server's config ("" means look on PATH).
        """
        return _PROBES[self.name](configured)

    def worker_args(self, path: str | None) -> list[str]:
        """Worker options that pass the probed executable on."""
        return [self.path_option, path] if self.path_option and path else []


def _configured_executable(configured: str, trait: str) -> tuple[str | None, str | None]:
    """(path, None) for a usable configured executable, else (None, why not)."""
    path = shutil.which(configured)
    if path is None:
        return None, (f"c.DebugServerApp.{trait} is {configured!r}, which is not an executable "
                      "file; fix the setting or leave it empty to search PATH")
    return path, None


def _debugpy(configured: str = "") -> dict[str, Any]:
    try:
        # Here, not at the top: debugpy may be missing, and then the import error is
        # the probe's answer.
        import debugpy  # noqa: PLC0415 (see above)

        version = importlib.metadata.version("debugpy")
    except Exception as exc:  # an import error here is the answer, not a bug
        return _unavailable("debugpy", None, f"debugpy cannot be imported ({exc}); "
                            "pip install debugpy")
    return {"name": "debugpy", "available": True, "version": version,
            "path": os.path.dirname(debugpy.__file__), "reason": None,
            "exception_filters": exception_filters(DEBUGPY_FILTERS)}


def _unavailable(name: str, path: str | None, reason: str | None) -> dict[str, Any]:
    return {"name": name, "available": False, "version": None, "path": path,
            "reason": reason, "exception_filters": []}


def exception_filters(filters: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """DAP `exceptionBreakpointFilters` as a probe lists them: [{id, label, default}]."""
    return [{"id": str(f["filter"]), "label": str(f.get("label") or f["filter"]),
             "default": bool(f.get("default"))}
            for f in filters if isinstance(f, dict) and isinstance(f.get("filter"), str)]


def _binary_version(path: str) -> str | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = out.strip().splitlines()[0] if out.strip() else ""
    return first.split()[-1] if first else None


def _gdb(configured: str = "") -> dict[str, Any]:
    if configured:
        path, why = _configured_executable(configured, "gdb_path")
        if path is None:
            return _unavailable("gdb", None, why)
    else:
        path = shutil.which("gdb")
    if not path:
        return _unavailable("gdb", None, "no gdb executable on PATH; install gdb (apt-get "
                            "install gdb) or set c.DebugServerApp.gdb_path")
    version = _binary_version(path)
    if version is None:
        return _unavailable("gdb", path, f"{path} did not answer --version; reinstall gdb")
    return {"name": "gdb", "available": True, "version": version, "path": path, "reason": None,
            "exception_filters": exception_filters(GDB_FILTERS)}


def _lldb_version(lldb_dap: str) -> str | None:
    """lldb-dap 19 has no --version: ask the lldb installed beside it (same LLVM)."""
    real = os.path.realpath(lldb_dap)
    folder, name = os.path.split(real)
    for sibling in (name.replace("lldb-dap", "lldb").replace("lldb-vscode", "lldb"), "lldb"):
        candidate = os.path.join(folder, sibling)
        if os.access(candidate, os.X_OK):
            version = _binary_version(candidate)
            if version:
                return version
    return None


def _lldb(configured: str = "") -> dict[str, Any]:
    if configured:
        path, why = _configured_executable(configured, "lldb_dap_path")
        if path is None:
            return _unavailable("lldb", None, why)
    else:
        path = find_lldb_dap()
    if not path:
        return _unavailable("lldb", None, "no lldb-dap or lldb-vscode executable on PATH; "
                            "install lldb (apt-get install lldb-19) or set "
                            "c.DebugServerApp.lldb_dap_path")
    try:
        lldb_dap = _initialize(path)
    except OSError as exc:
        return _unavailable("lldb", path, f"{path} could not be started ({exc.strerror}); "
                            "reinstall lldb or set c.DebugServerApp.lldb_dap_path")
    version = _lldb_version(path)  # while lldb-dap starts
    filters, why = _initialize_answer(lldb_dap, path)
    if filters is None:
        return _unavailable("lldb", path, f"{why}; reinstall lldb or set "
                            "c.DebugServerApp.lldb_dap_path")
    return {"name": "lldb", "available": True, "version": version, "path": path,
            "reason": None, "exception_filters": exception_filters(filters)}


def _initialize(path: str) -> subprocess.Popen[bytes]:
    """Start lldb-dap and send it `initialize` (as the lldb worker starts it: cwd "/", the
    server's environment without its credentials). It lives at most _LLDB_DAP_TIMEOUT;
    should the server die meanwhile, its stdin closes and it exits."""
    proc = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, cwd="/", env=worker_environment(),
                            start_new_session=True)
    assert proc.stdin is not None
    try:
        proc.stdin.write(encode({"seq": 1, "type": "request", "command": "initialize",
                                 "arguments": {"clientID": "jupyter-debug-server",
                                               "adapterID": "lldb"}}))
        proc.stdin.flush()
    except OSError:
        pass  # it exited: _initialize_answer says so
    return proc


def _initialize_answer(proc: subprocess.Popen[bytes], path: str) -> tuple[
        list[dict[str, Any]] | None, str]:
    """lldb-dap's `exceptionBreakpointFilters` from its `initialize` response, or (None,
    why not); ends the process either way."""
    assert proc.stdout is not None
    decoder = FrameDecoder()
    deadline = time.monotonic() + _LLDB_DAP_TIMEOUT
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([proc.stdout], [], [], remaining)[0]:
                return None, (f"{path} did not answer a DAP initialize request within "
                              f"{_LLDB_DAP_TIMEOUT:g} s")
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                return None, f"{path} exited before it answered a DAP initialize request"
            for message in decoder.feed(data):
                if message.get("type") == "response" and message.get("request_seq") == 1:
                    if not message.get("success"):
                        return None, (f"{path} refused a DAP initialize request: "
                                      f"{str(message.get('message'))[:200]}")
                    body = message.get("body") or {}
                    filters = body.get("exceptionBreakpointFilters") or []
                    return (list(filters) if isinstance(filters, list) else []), ""
    except FramingError as exc:
        return None, f"{path} answered a DAP initialize request with something else ({exc})"
    finally:
        # SIGKILL: lldb-dap aborts (and may dump core) when its input just closes, and
        # waits for a target to end on `disconnect`.
        proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


_PROBES = {"debugpy": _debugpy, "gdb": _gdb, "lldb": _lldb}

DEBUGGERS: dict[str, Debugger] = {
    d.name: d
    for d in (
        Debugger("debugpy", "jupyter_debug_server.runner.debuggers.debugpy_adapter",
                 "Python scripts and modules, and running Python processes"),
        Debugger("gdb", "jupyter_debug_server.runner.debuggers.gdb_adapter",
                 "C, C++, Rust and other native programs", "--gdb"),
        Debugger("lldb", "jupyter_debug_server.runner.debuggers.lldb_adapter",
                 "C, C++, Rust and other native programs, through lldb-dap", "--lldb-dap"),
    )
}
