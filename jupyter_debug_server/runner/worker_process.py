"""The worker process of a debug session, with Popen-like verbs: `start` spawns it and
returns its DAP channel, `wait` returns its exit code, `terminate` runs the stop ladder
(close the channel, then SIGTERM, then SIGKILL its process group).

It holds no session state: the session (session.py) decides what an exit means. Owned
by the server's event loop; blocking calls (/proc reads, the interpreter's isolated
sys.path) go through the executor it is given.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

from ..dap import DapChannel
from ..dap.messages import Message
from .processes import boot_id, kill_group, process_start_time

_STDERR_TAIL = 4000


class WorkerProcess:
    """One worker process (`python -I -m …_adapter`) and the server's end of its channel."""

    def __init__(self, *, blocking: Executor, max_dap_message: int,
                 on_stderr: Callable[[str], None]) -> None:
        self.blocking = blocking
        self.max_dap_message = max_dap_message
        self.on_stderr = on_stderr  # each line the worker writes to stderr
        self.process: asyncio.subprocess.Process | None = None
        self.channel: DapChannel | None = None
        self.start_time: float | None = None  # of the process, as /proc shows it
        self.boot_id: str | None = None
        self.stderr_tail = ""  # the last few KiB of its stderr, for error sentences
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def pid(self) -> int | None:
        """The worker's pid (None before it started)."""
        return self.process.pid if self.process is not None else None

    @property
    def returncode(self) -> int | None:
        """Its exit code once it has exited, else None."""
        return self.process.returncode if self.process is not None else None

    async def start(self, session_id: str, module: str, args: Sequence[str], *,
                    on_event: Callable[[Message], None]) -> DapChannel:
        """Spawn the worker of `session_id` running `module` and return its open DAP
        channel (`on_event` gets the debugger's events). OSError if it cannot start."""
        loop = asyncio.get_running_loop()
        command = await loop.run_in_executor(self.blocking, worker_command, module)
        ours, theirs = socket.socketpair()
        try:
            self.process = await asyncio.create_subprocess_exec(
                *command, "--session", session_id, *args,
                "--channel-fd", str(theirs.fileno()),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,  # Ctrl-C of the server reaches us, not the worker
                # Not the session's cwd: nothing in it may be imported by our processes.
                # The target gets that cwd from the launch request's arguments.
                cwd=WORKER_CWD,
                env=worker_environment(),
            )
        finally:
            theirs.close()
        self.start_time, self.boot_id = await loop.run_in_executor(
            self.blocking, _start_time_and_boot, self.process.pid)
        task = asyncio.ensure_future(self._pump_stderr())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.channel = await DapChannel.from_socket(
            ours, name=f"worker[{session_id}]", on_event=on_event,
            max_message=self.max_dap_message)
        self.channel.start()
        return self.channel

    async def _pump_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.stderr_tail = (self.stderr_tail + line + "\n")[-_STDERR_TAIL:]
            self.on_stderr(line)

    async def wait(self) -> int:
        """Wait for the worker to exit; its channel is closed then. Its exit code."""
        assert self.process is not None
        code = await self.process.wait()
        self.close_channel("worker exited")
        return code

    def close_channel(self, why: str) -> None:
        """Close the DAP channel (idempotent): the worker sees EOF and cleans up."""
        if self.channel is not None:
            self.channel.close(why)

    async def terminate(self, timeout: float) -> None:
        """The stop ladder: close the channel and give the worker `timeout` seconds to
        leave, then SIGTERM its process group, then SIGKILL it (each after `timeout`)."""
        self.close_channel("session ended")
        process = self.process
        if process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if process.returncode is not None:
                break
            try:
                await asyncio.wait_for(asyncio.shield(process.wait()), timeout)
                break
            except asyncio.TimeoutError:
                if sig == signal.SIGTERM:
                    # A frozen worker (SIGSTOP) would keep SIGTERM pending: let it run its
                    # own ladder (kill the target, close the debugger) on the way out.
                    kill_group(process.pid, signal.SIGCONT)
                kill_group(process.pid, sig)


#: Credentials of the Jupyter server (and JupyterHub) that a debuggee must never see.
SECRET_ENV = frozenset({"JUPYTER_TOKEN", "JUPYTER_PASSWORD", "JPY_API_TOKEN",
                        "JUPYTERHUB_API_TOKEN", "JPY_SESSION_NAME"})


def reap_groups(groups: Sequence[tuple[int, float]]) -> None:
    """SIGKILL each process group whose leader still has the recorded start time (same pid
    *and* start time: never signal an unrelated process that reused the pid). Blocking."""
    for pid, started in groups:
        if process_start_time(pid) == started:
            kill_group(pid, signal.SIGKILL)


def _start_time_and_boot(pid: int) -> tuple[float | None, str | None]:
    return process_start_time(pid), boot_id()


#: The worker's working directory: nothing there can shadow a module.
WORKER_CWD = "/"

# Run by `python -I -c` when the isolated interpreter would not find our package (a
# user-site or PYTHONPATH install): put its folders first, then run the worker module.
_BOOTSTRAP = ("import os, runpy, sys; roots, module = sys.argv[1], sys.argv[2]; "
              "sys.path[:0] = roots.split(os.pathsep); del sys.argv[1:3]; "
              "runpy.run_module(module, run_name='__main__', alter_sys=True)")


def worker_command(module: str) -> list[str]:
    """The command line of a worker running `module`: an isolated interpreter (`-I`: no
    current directory or script folder on sys.path, no PYTHON* variables, no user site),
    so a `socket.py` in the session's folder is never imported by the worker.

    Blocking (it may ask the interpreter for its isolated sys.path once): run it off the
    event loop.
    """
    missing = [root for root in _import_roots() if root not in _isolated_sys_path()]
    if not missing:
        return [sys.executable, "-I", "-m", module]
    return [sys.executable, "-I", "-c", _BOOTSTRAP, os.pathsep.join(missing), module]


@functools.cache
def _import_roots() -> tuple[str, ...]:
    """The folders the worker imports our package and debugpy from."""
    # Our package's folder, found from this file (importing the package itself would
    # import the app, and with it this module: an import circle).
    inits = [os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "__init__.py")]
    try:
        import debugpy  # noqa: PLC0415 - optional: only debugpy sessions need it (a function: cached)
    except ImportError:
        pass  # only debugpy sessions need it, and they are refused without it
    else:
        inits.append(debugpy.__file__)
    roots: list[str] = []
    for init in inits:
        root = os.path.dirname(os.path.dirname(os.path.abspath(init)))
        if root not in roots:
            roots.append(root)
    return tuple(roots)


@functools.cache
def _isolated_sys_path() -> frozenset[str]:
    """sys.path of `python -I` (site-packages and their .pth files included)."""
    out = subprocess.run(
        [sys.executable, "-I", "-c", "import json, sys; print(json.dumps(sys.path))"],
        capture_output=True, text=True, check=True, cwd=WORKER_CWD, timeout=60,
        env=worker_environment())
    return frozenset(os.path.abspath(p) for p in json.loads(out.stdout) if p)


def worker_environment() -> dict[str, str]:
    """The server's environment minus its credentials: what workers and targets inherit."""
    return {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
