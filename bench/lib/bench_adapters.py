"""Modes that drive an adapter process directly with DAP: stock debugpy, our worker."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .bench_context import BENCH_DIR, Context
from .bench_modes import DapMode, Skip
from .bench_process import REPO_ROOT, base_env
from .dapclient import DapClient

NODELAY_SITE = BENCH_DIR / "nodelay_site"
WORKER_MODULE = "jupyter_debug_server.runner.debuggers.debugpy_adapter"


def plain_launch(program: Path, workdir: Path) -> dict[str, Any]:
    """DAP ``launch`` arguments that run ``program`` in ``workdir``, without arguments, and
    do not stop on entry (the breakpoint is the first stop)."""
    return {"program": str(program), "args": [], "cwd": str(workdir), "stopOnEntry": False}


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

