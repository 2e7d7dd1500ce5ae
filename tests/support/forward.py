"""`jupyter-debug-server forward` as a child process, and DAP clients of it (an IDE's side)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from typing import Any

from jupyter_debug_server.dap import DapChannel

from .dap_client import DapTestClient

_LISTENING = re.compile(r"^listening on (?P<host>\S+):(?P<port>\d+)$")


class ForwardProcess:
    """The forward command; its stderr is collected so tests can await a log line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stderr: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read_stderr())

    @classmethod
    async def start(cls, url: str, token: str, session_id: str, *mode: str,
                    env: dict[str, str] | None = None) -> ForwardProcess:
        """Run `forward SESSION <mode…>` with --url and --token."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jupyter_debug_server.cli", "forward", session_id, *mode,
            "--url", url, "--token", token, env=env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        return cls(proc)

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.stderr.append(line.decode())
            self._changed.set()
        self._changed.set()

    async def log_line(self, contains: str, timeout: float = 30) -> str:
        """The first stderr line that contains `contains`."""
        async def scan() -> str:
            index = 0
            while True:
                for line in self.stderr[index:]:
                    if contains in line:
                        return line
                index = len(self.stderr)
                if self._reader.done():
                    raise AssertionError(f"forward ended without logging {contains!r}: "
                                         f"{''.join(self.stderr)}")
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(scan(), timeout)

    async def port(self, timeout: float = 30) -> int:
        """The port from the `listening on HOST:PORT` line (the first line on stdout)."""
        assert self.proc.stdout is not None
        line = (await asyncio.wait_for(self.proc.stdout.readline(), timeout)).decode()
        match = _LISTENING.match(line.strip())
        assert match is not None, (line, "".join(self.stderr))
        return int(match["port"])

    def ide(self) -> DapTestClient:
        """A DAP client on the forward's stdin/stdout (what an IDE does with --stdio)."""
        assert self.proc.stdout is not None and self.proc.stdin is not None
        return DapTestClient(DapChannel(self.proc.stdout, self.proc.stdin, name="ide"))

    async def wait(self, timeout: float = 30) -> int:
        """The exit status, once it has exited on its own."""
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await asyncio.wait_for(self._reader, timeout)
        return code

    async def stop(self) -> None:
        """Kill it if it still runs; fail if it ever logged a traceback."""
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        log = "".join(self.stderr)
        assert "Traceback" not in log and "Unhandled" not in log, log


async def tcp_ide(port: int, host: str = "127.0.0.1") -> DapTestClient:
    """A DAP client on the forward's port (what VS Code's debugServer does)."""
    reader, writer = await asyncio.open_connection(host, port)
    return DapTestClient(DapChannel(reader, writer, name=f"ide:{port}"))


async def join(ide: DapTestClient) -> dict[str, Any]:
    """initialize → attach → configurationDone, as an IDE attaching to a running program;
    returns the capabilities."""
    capabilities = await ide.request("initialize", {
        "adapterID": "jds", "clientID": "test", "linesStartAt1": True,
        "columnsStartAt1": True, "pathFormat": "path"})
    await ide.wait_event("initialized")
    await ide.request("attach", {})
    await ide.request("configurationDone")
    return dict(capabilities or {})
