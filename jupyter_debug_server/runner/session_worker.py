"""The worker process of a debug session: spawn it, run the DAP start sequence, watch
it, and stop it (close its channel, then SIGTERM, then SIGKILL its process group).

Owned by the server's event loop; blocking calls (/proc reads, kills of the target's
group) go through the manager's executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..dap import ChannelClosed, DapChannel, DapRequestError
from .errors import without_traceback
from .processes import boot_id, kill_group, process_start_time
from .session_state import SessionState

if TYPE_CHECKING:
    from .session_state import Message

# One logger for the whole session, as before its parts were split into modules.
log = logging.getLogger("jupyter_debug_server.runner.session")

_STDERR_TAIL = 4000


class WorkerProcess(SessionState):
    """The worker side of `Session`: start, supervision and stop of its process."""

    if TYPE_CHECKING:
        def _on_event(self, event: Message) -> None:
            """Handle one DAP event of the worker (defined by `Session`)."""

    # Called by _on_event when the debugger sends `initialized` (set during _start).
    _on_initialized: Callable[[], Any] = staticmethod(lambda: None)

    # -- start -----------------------------------------------------------------

    async def start(self, worker_module: str, worker_args: Sequence[str] = ()) -> None:
        """Spawn the worker, run the DAP start sequence; failures end in state 'failed'."""
        try:
            await asyncio.wait_for(self._start(worker_module, worker_args),
                                   self.config.launch_timeout)
        except asyncio.TimeoutError:
            await self._fail(f"the debugger did not start within {self.config.launch_timeout:g} s")
        except (DapRequestError, ChannelClosed) as exc:
            await self._fail(self._explain(str(exc)))
        except OSError as exc:
            await self._fail(f"could not start the worker: {exc}")
        except Exception as exc:
            # A bug of ours: the traceback goes to the server log, the session gets a sentence.
            log.exception("session %s: start-up failed", self.id)
            first = (str(exc).strip().splitlines() or [""])[0]
            await self._fail(f"the session could not start: {type(exc).__name__}: {first}")

    def _explain(self, message: str) -> str:
        """`message` and the last line of the worker's error output (for a traceback:
        its exception), as one line; the whole output is in the server log already."""
        lines = [line.strip() for line in self._worker_stderr.splitlines() if line.strip()]
        if lines:
            message = f"{message}; the worker's last error output was: {lines[-1]}"
        return without_traceback(message)

    async def _fail(self, why: str) -> None:
        why = without_traceback(why)  # the error field is a sentence, never a traceback
        log.warning("session %s failed: %s", self.id, why)
        await self._set(state="failed", error=why, stopped=None)
        await self._stop_worker()

    async def _start(self, worker_module: str, worker_args: Sequence[str]) -> None:
        command = await asyncio.get_running_loop().run_in_executor(
            self.blocking, worker_command, worker_module)
        ours, theirs = socket.socketpair()
        try:
            self.worker = await asyncio.create_subprocess_exec(
                *command, "--session", self.id, *worker_args,
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
        worker_started, boot = await asyncio.get_running_loop().run_in_executor(
            self.blocking, _start_time_and_boot, self.worker.pid)
        # The boot id too: the reaper of a later server must never match a process of
        # another boot that happens to have the same pid and start time.
        await self.store.update_session(self.id, worker_pid=self.worker.pid,
                                        worker_start_time=worker_started, boot_id=boot)
        self._spawn(self._pump_worker_log())
        self._spawn(self._watch_worker())
        self.channel = await DapChannel.from_socket(
            ours, name=f"worker[{self.id}]", on_event=self._on_event,
            max_message=self.config.max_dap_message,
        )
        self.channel.start()
        self.mux.upstream = self.channel
        initialized = asyncio.get_running_loop().create_future()

        def on_initialized() -> None:
            if not initialized.done():
                initialized.set_result(None)

        self._on_initialized = on_initialized
        self.capabilities = await self.channel.request(
            "initialize",
            {"clientID": "jupyter-debug-server", "adapterID": self.spec.debugger,
             "linesStartAt1": True, "columnsStartAt1": True, "pathFormat": "path",
             "supportsVariableType": True, "supportsRunInTerminalRequest": False},
        ) or {}
        started = asyncio.ensure_future(
            self.channel.request(self.spec.request, self.spec.dap_arguments())
        )
        # Until configurationDone, `launch` only answers if it fails.
        done, _ = await asyncio.wait({started, initialized}, return_when=asyncio.FIRST_COMPLETED)
        if started in done:
            started.result()
        await self._configure()
        await self.channel.request("configurationDone")
        await started
        if self.state == "starting":
            await self._set(state="running")

    async def _configure(self) -> None:
        assert self.channel is not None
        by_path: dict[str, list[dict[str, Any]]] = {}
        for bp in self.spec.breakpoints:
            by_path.setdefault(bp.path, []).append(bp.to_dap())
        for path, bps in by_path.items():
            # The session's own (REST's): DAP clients that join later add theirs.
            await self._set_own_breakpoints(path, bps)
        if self.spec.function_breakpoints:
            await self._own_request("setFunctionBreakpoints", {
                "breakpoints": [{"name": n} for n in self.spec.function_breakpoints]})
        if any(f.get("default") for f in self.capabilities.get("exceptionBreakpointFilters", [])):
            await self.channel.request("setExceptionBreakpoints", {"filters": [
                f["filter"] for f in self.capabilities["exceptionBreakpointFilters"]
                if f.get("default")]})

    # -- supervision -----------------------------------------------------------

    async def _pump_worker_log(self) -> None:
        assert self.worker is not None and self.worker.stderr is not None
        async for raw in self.worker.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._worker_stderr = (self._worker_stderr + line + "\n")[-_STDERR_TAIL:]
            log.info("worker %s: %s", self.id, line)

    async def _watch_worker(self) -> None:
        assert self.worker is not None
        code = await self.worker.wait()
        if self.channel is not None:
            self.channel.close("worker exited")
        await self._reap_target()
        await self.output.flush()
        if self.active:
            if self._terminating:
                await self._set(state="terminated", stopped=None)
            else:
                await self._set(state="failed", stopped=None, error=self._explain(
                    f"the worker process exited unexpectedly with code {code}"))
        if not self._ended.done():
            self._ended.set_result(None)

    async def _reap_target(self) -> None:
        """Kill what is left of the debuggers' and the target's process groups, if still
        ours: they run in sessions of their own, out of reach of the worker's group."""
        groups = list(self.process_groups)
        if not (self.pid is None or self.spec.request == "attach"
                or self.pid_start_time is None):
            groups.append((self.pid, self.pid_start_time))
        if groups:
            await asyncio.get_running_loop().run_in_executor(self.blocking, reap_groups, groups)

    async def _stop_worker(self) -> None:
        if self.channel is not None:
            self.channel.close("session ended")  # the worker sees EOF and cleans up
        worker = self.worker
        if worker is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if worker.returncode is not None:
                break
            try:
                await asyncio.wait_for(asyncio.shield(worker.wait()), self.config.shutdown_timeout)
                break
            except asyncio.TimeoutError:
                if sig == signal.SIGTERM:
                    # A frozen worker (SIGSTOP) would keep SIGTERM pending: let it run its
                    # own ladder (kill the target, close the debugger) on the way out.
                    kill_group(worker.pid, signal.SIGCONT)
                kill_group(worker.pid, sig)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._ended), self.config.shutdown_timeout)
        await self._reap_target()
        await self.output.flush()


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
    from .. import __file__ as package_init

    inits = [package_init]
    try:
        import debugpy
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
