"""Discovery (server side): which debuggers exist, where they are, whether they work here.

Built at import and never changed. Probing runs subprocesses, so callers run
`probe()` off the event loop. The workers themselves are named by module (the
entry points in runner/debuggers/); lldb-dap is found by the same rule the lldb
worker uses (runner/debuggers/lldb/discovery.py, standard library only).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from .debuggers.lldb.discovery import find_lldb_dap


@dataclass(frozen=True)
class Debugger:
    """One supported debugger and the worker module that wraps it."""

    name: str
    worker_module: str
    description: str
    path_option: str | None = None  # the worker option that names the executable

    def probe(self, configured: str = "") -> dict[str, Any]:
        """Describe availability: name, available, version, path, reason.

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
        return {"name": "debugpy", "available": False, "version": None, "path": None,
                "reason": f"debugpy cannot be imported ({exc}); pip install debugpy"}
    return {"name": "debugpy", "available": True, "version": version,
            "path": os.path.dirname(debugpy.__file__), "reason": None}


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
            return {"name": "gdb", "available": False, "version": None, "path": None,
                    "reason": why}
    else:
        path = shutil.which("gdb")
    if not path:
        return {"name": "gdb", "available": False, "version": None, "path": None,
                "reason": "no gdb executable on PATH; install gdb (apt-get install gdb) or "
                          "set c.DebugServerApp.gdb_path"}
    version = _binary_version(path)
    if version is None:
        return {"name": "gdb", "available": False, "version": None, "path": path,
                "reason": f"{path} did not answer --version; reinstall gdb"}
    return {"name": "gdb", "available": True, "version": version, "path": path, "reason": None}


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
            return {"name": "lldb", "available": False, "version": None, "path": None,
                    "reason": why}
    else:
        path = find_lldb_dap()
    if not path:
        return {"name": "lldb", "available": False, "version": None, "path": None,
                "reason": "no lldb-dap or lldb-vscode executable on PATH; install lldb "
                          "(apt-get install lldb-19) or set c.DebugServerApp.lldb_dap_path"}
    return {"name": "lldb", "available": True, "version": _lldb_version(path), "path": path,
            "reason": None}


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
