"""lldb's benchmark modes and context, shared by lldb_step_latency.py and ide_step.py."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from typing import Any

from .bench_adapters import StockMode, plain_launch
from .bench_context import NativeContext
from .bench_native import NativeRestMode, NativeWorkerMode, first_line
from .bench_process import REPO_ROOT, kill_if_target

ADAPTER_MODULE = "jupyter_debug_server.runner.debuggers.lldb_adapter"
DISCOVERY_MODULE = "jupyter_debug_server.runner.debuggers.lldb.discovery"
@dataclass
class LldbContext(NativeContext):
    """A native context whose debugger is the executable ``lldb_dap``."""

    lldb_dap: str


# --------------------------------------------------------------------------------------
# modes


class DirectMode(StockMode):
    """lldb-dap on stdio pipes, driven directly; it launches the program itself.

    The stdio plumbing (pipes, half-close, cleanup) is ``StockMode``'s; only the adapter
    and the launch arguments differ. The handshake (initialize, launch, ``initialized``,
    setBreakpoints, configurationDone, first stop checked with stackTrace) is ``DapMode``'s;
    lldb-dap 19 answers ``launch`` before it sends ``initialized``, which it handles.
    """

    def __init__(self, ctx: LldbContext) -> None:
        super().__init__(ctx)
        self.lctx = ctx
        self.name = "direct"
        self.description = f"{ctx.lldb_dap} on stdio, launching the program itself"
        self.log_path = ctx.workdir / "direct-lldb-dap.log"

    def adapter_argv(self) -> list[str]:
        return [self.lctx.lldb_dap]

    def launch_arguments(self) -> dict[str, Any]:
        return {
            **plain_launch(self.lctx.program, self.ctx.workdir),
            # lldb's default turns ASLR off via personality(), which many containers
            # refuse; our worker's exec stub runs the program with ASLR on, so keep it on.
            "disableASLR": False,
        }

    def close(self) -> None:
        super().close()
        kill_if_target(self.target_pid, self.lctx.program)


class LldbWorkerMode(NativeWorkerMode):
    """Our lldb worker over an inherited AF_UNIX socketpair, like the server drives it."""

    def __init__(self, ctx: LldbContext) -> None:
        super().__init__(ctx, module=ADAPTER_MODULE, worker_args=["--lldb-dap", ctx.lldb_dap],
                         program=ctx.program, log_name="worker.log")
        self.lctx = ctx
        self.description = f"our lldb worker ({ADAPTER_MODULE} --channel-fd)"


class LldbRestMode(NativeRestMode):
    """Our REST ``step`` route with ``"debugger": "lldb"`` through a real jupyter server."""

    def __init__(self, ctx: LldbContext) -> None:
        super().__init__(ctx, "lldb")
        self.lctx = ctx

    def start(self) -> None:
        # The server's Jupyter config dir is in the work dir (see RestMode._start_server):
        # point it at the same lldb-dap as the other modes.
        config_dir = self.ctx.workdir / "jupyter" / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        config = {"DebugServerApp": {"lldb_dap_path": self.lctx.lldb_dap}}
        (config_dir / "jupyter_server_config.json").write_text(json.dumps(config) + "\n")
        super().start()


def default_lldb_dap() -> str | None:
    """What the worker and the server would pick: the package's ``find_lldb_dap()``."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))
    try:
        discovery = importlib.import_module(DISCOVERY_MODULE)
    except ImportError:
        return shutil.which("lldb-dap")
    found = discovery.find_lldb_dap()
    return str(found) if found else None


def lldb_version(lldb_dap: str) -> str:
    """lldb-dap 19 has no --version: ask the lldb installed beside it (same LLVM)."""
    folder, name = os.path.split(os.path.realpath(lldb_dap))
    for sibling in (name.replace("lldb-dap", "lldb").replace("lldb-vscode", "lldb"), "lldb"):
        candidate = os.path.join(folder, sibling)
        if os.access(candidate, os.X_OK):
            line = first_line([candidate, "--version"])  # "lldb version 19.1.7"
            return line.removeprefix("lldb version ").strip() or "unknown"
    return "unknown"
