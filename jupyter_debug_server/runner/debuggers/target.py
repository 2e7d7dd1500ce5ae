"""The debuggee as a child of the worker: spawn, capture its pipes, end its tree.

Owned by the worker's event loop. The target runs in its own session and
process group so the whole tree can be signalled at once, and gets
PR_SET_PDEATHSIG so it dies with the worker even if the worker is SIGKILLed.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import signal
from collections.abc import Awaitable, Callable, Sequence

from .processes import die_with_parent, kill_group, process_start_time

OutputSink = Callable[[str, str], Awaitable[None]]

_CHUNK = 64 * 1024


class Target:
    """One spawned debuggee with its stdout/stderr pumped into `sink`."""

    def __init__(self, proc: asyncio.subprocess.Process, sink: OutputSink) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.start_time = process_start_time(proc.pid)
        self._pumps = [
            asyncio.ensure_future(self._pump(proc.stdout, "stdout", sink)),
            asyncio.ensure_future(self._pump(proc.stderr, "stderr", sink)),
        ]
        self.exit_code: int | None = None

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        cwd: str | None,
        env: dict[str, str],
        pass_fds: Sequence[int],
        sink: OutputSink,
    ) -> Target:
        """Start `argv` (never through a shell) with its output captured."""
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=tuple(pass_fds),
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        return cls(proc, sink)

    @staticmethod
    async def _pump(stream: asyncio.StreamReader | None, category: str, sink: OutputSink) -> None:
        if stream is None:
            return
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while True:
            data = await stream.read(_CHUNK)
            text = decoder.decode(data, final=not data)
            if text:
                await sink(category, text)
            if not data:
                return

    async def wait(self) -> int:
        """Wait for exit *and* for both pipes to be drained; return the exit code."""
        code = await self.proc.wait()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        self.exit_code = code
        return code

    def kill(self) -> None:
        """SIGKILL the target's whole process group at once."""
        kill_group(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            if self.proc.returncode is None:
                self.proc.kill()

    async def terminate(self, grace: float = 3.0) -> None:
        """SIGTERM the target's process group, then SIGKILL it after `grace` seconds."""
        if self.proc.returncode is None:
            kill_group(self.pid, signal.SIGTERM)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.proc.wait()), grace)
        # Children that outlived the leader are still in its group.
        kill_group(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            if self.proc.returncode is None:
                self.proc.kill()
        await self.wait()
