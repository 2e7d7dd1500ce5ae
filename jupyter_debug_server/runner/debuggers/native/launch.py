"""Start a native program for a debugger to attach to before it runs a single instruction.

Owned by the worker's event loop. The program runs as a Target (own process group,
stdout/stderr pipes pumped into the session's output, dies with the worker), first
as exec_stub.py, which waits for `release()` before exec'ing the real program.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from ..registry import AdapterError
from ..target import OutputSink, Target

_PRIVATE_ENV_PREFIX = "JDS_"

#: Signals the native debuggers pass to the program without stopping: shutdown requests
#: reach it (DAP `terminate` sends SIGTERM), and job control is not an error.
PASS_SIGNALS = ("SIGTERM", "SIGHUP", "SIGPIPE", "SIGCHLD", "SIGWINCH", "SIGCONT")

STUB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "exec_stub.py")


class StubFailed(RuntimeError):
    """The stub ended before the debugger could take over."""


class NativeLaunch:
    """A target parked before exec: attach a debugger to `pid`, then `release()`."""

    def __init__(self, target: Target, go: int) -> None:
        self.target = target
        self.pid = target.pid
        self._go: int | None = go

    @classmethod
    async def start(cls, argv: Sequence[str], *, cwd: str | None, env: dict[str, str],
                    sink: OutputSink, ptracer: int | None) -> NativeLaunch:
        """Spawn the stub for `argv` and wait until it is ready to be attached."""
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        spec = {"argv": list(argv), "ptracer": ptracer, "ready_fd": ready_w, "go_fd": go_r}
        try:
            target = await Target.spawn(
                [sys.executable, "-I", "-S", STUB], cwd=cwd,
                env={**env, "JDS_EXEC": json.dumps(spec)},
                pass_fds=(ready_w, go_r), sink=sink)
        except BaseException:
            for fd in (ready_r, ready_w, go_r, go_w):
                os.close(fd)
            raise
        os.close(ready_w)
        os.close(go_r)
        launch = cls(target, go_w)
        try:
            await launch._wait_ready(ready_r)
        except BaseException:
            launch.abort()
            raise
        return launch

    async def _wait_ready(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        got: asyncio.Future[bytes] = loop.create_future()

        def readable() -> None:
            if not got.done():
                got.set_result(os.read(fd, 1))

        loop.add_reader(fd, readable)
        try:
            if await got != b"r":
                code = await self.target.wait()
                raise StubFailed(f"the launcher exited with code {code} before the program ran")
        finally:
            loop.remove_reader(fd)
            os.close(fd)

    def release(self) -> None:
        """Let the stub exec the program (the debugger is attached by now)."""
        if self._go is not None:
            os.write(self._go, b"g")
            os.close(self._go)
            self._go = None

    def abort(self) -> None:
        """Make the stub exit without running the program (idempotent)."""
        if self._go is not None:
            os.close(self._go)  # EOF: the stub exits
            self._go = None


def launch_plan(args: dict[str, Any], default_program: str | None,
                default_args: Sequence[str] | None) -> tuple[list[str], str | None,
                                                              dict[str, str]]:
    """argv, cwd and environment of a native `launch` request (AdapterError if invalid)."""
    program = args.get("program") or default_program
    if not isinstance(program, str) or not program:
        raise AdapterError("'launch' needs 'program', the path of the executable to debug")
    cwd = args.get("cwd")
    if cwd is not None and (not isinstance(cwd, str) or not os.path.isdir(cwd)):
        raise AdapterError(f"'cwd' {cwd!r} is not a directory")
    path = os.path.abspath(os.path.join(cwd or os.getcwd(), program))
    if not os.path.isfile(path):
        raise AdapterError(f"program {program!r} is not a file")
    if not os.access(path, os.X_OK):
        raise AdapterError(f"program {program!r} is not executable")
    target_args = args.get("args", list(default_args or []))
    if not isinstance(target_args, list) or not all(isinstance(a, str) for a in target_args):
        raise AdapterError(f"'args' must be a list of strings, not {target_args!r}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_ENV_PREFIX)}
    extra = args.get("env") or {}
    if not isinstance(extra, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        raise AdapterError("'env' must map strings to strings")
    env.update(extra)
    return [path, *target_args], cwd, env
