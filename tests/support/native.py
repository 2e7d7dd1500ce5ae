"""Compile the native test targets and drive a native-debugger worker over DAP."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.dap import ChannelClosed, DapRequestError

from .dap_client import DapTestClient, start_worker
from .server_process import ServerProcess

TARGETS_DIR = Path(__file__).resolve().parent.parent / "targets"

SOURCES = Path(__file__).parent.parent / "targets" / "native"
GDB_WORKER = "jupyter_debug_server.runner.debuggers.gdb_adapter"
LLDB_WORKER = "jupyter_debug_server.runner.debuggers.lldb_adapter"
WORKERS = {"gdb": GDB_WORKER, "lldb": LLDB_WORKER}


def compile_targets(dest: Path) -> dict[str, Path]:
    """Build every target with -g -O0 into `dest`; skip the test if no compiler exists."""
    built = {}
    for source in sorted(SOURCES.iterdir()):
        compiler = "g++" if source.suffix == ".cpp" else "gcc"
        if shutil.which(compiler) is None:
            pytest.fail(f"{compiler} is not installed; run bash scripts/setup.sh test")
        shutil.copy(source, dest / source.name)
        if source.stem.startswith("lib"):  # a shared library, loaded later with dlopen
            out = dest / f"{source.stem}.so"
            flags = ["-shared", "-fPIC"]
        else:
            out = dest / source.stem
            flags = ["-pthread"]
        subprocess.run([compiler, "-g", "-O0", *flags, "-o", str(out),
                        str(dest / source.name)], check=True, capture_output=True)
        built[source.stem] = out
    return built


def marker_line(source: Path, marker: str) -> int:
    """The line number of the line that contains `marker`."""
    for number, text in enumerate(source.read_text().splitlines(), 1):
        if marker in text:
            return number
    raise AssertionError(f"{marker} not in {source}")


class NativeSession:
    """A DAP client on a worker, with helpers for the common launch sequence."""

    def __init__(self, client: DapTestClient, proc: asyncio.subprocess.Process) -> None:
        self.client = client
        self.proc = proc
        self.capabilities: dict[str, Any] = {}

    def exception_filter(self, kind: str) -> str:
        """The adapter's own filter id for C++ `throw` or `catch` (gdb: throw, lldb:
        cpp_throw), found in its capabilities as a client would."""
        names = [f["filter"] for f in self.capabilities.get("exceptionBreakpointFilters", [])
                 if f["filter"] in (kind, f"cpp_{kind}")]
        assert len(names) == 1, self.capabilities
        return str(names[0])

    @classmethod
    async def launch(cls, debugger: str, program: Path, *, args: list[str] | None = None,
                     breakpoints: dict[Path, list[dict[str, Any]]] | None = None,
                     functions: list[str] | None = None, exceptions: list[str] | None = None,
                     stop_on_entry: bool = False) -> NativeSession:
        """Start `debugger`'s worker and launch `program` through the usual sequence."""
        client, proc = await start_worker(WORKERS[debugger])
        session = cls(client, proc)
        session.capabilities = await client.request("initialize", {
            "adapterID": "test", "linesStartAt1": True})
        launch = client.send("launch", {"program": str(program), "args": args or [],
                                        "cwd": str(program.parent),
                                        "stopOnEntry": stop_on_entry})
        await client.wait_event("initialized")
        for source, items in (breakpoints or {}).items():
            body = await client.request("setBreakpoints", {"source": {"path": str(source)},
                                                           "breakpoints": items})
            assert all(b["verified"] for b in body["breakpoints"]), body
        if functions:
            await client.request("setFunctionBreakpoints",
                                 {"breakpoints": [{"name": f} for f in functions]})
        if exceptions:
            await client.request("setExceptionBreakpoints", {
                "filters": [session.exception_filter(kind) for kind in exceptions]})
        await client.request("configurationDone")
        response = await asyncio.wait_for(launch, 60)
        assert response["success"], response
        return session

    async def stopped(self, after: int = 0) -> dict[str, Any]:
        """The next `stopped` event body at or after event index `after`."""
        return (await self.client.wait_event("stopped", after=after))["body"]

    async def resume(self, command: str, thread: int, **extra: Any) -> dict[str, Any]:
        """Send continue/next/stepIn/stepOut and return the body of the next stop."""
        mark = len(self.client.events)
        await self.client.request(command, {"threadId": thread, **extra})
        return await self.stopped(after=mark)

    async def frames(self, thread: int, **args: Any) -> list[dict[str, Any]]:
        body = await self.client.request("stackTrace", {"threadId": thread, **args})
        return list(body["stackFrames"])

    async def locals(self, frame_id: int) -> dict[str, dict[str, Any]]:
        scopes = await self.client.request("scopes", {"frameId": frame_id})
        ref = scopes["scopes"][0]["variablesReference"]
        body = await self.client.request("variables", {"variablesReference": ref})
        return {v["name"]: v for v in body["variables"]}

    async def children(self, ref: int, **paging: Any) -> dict[str, dict[str, Any]]:
        body = await self.client.request("variables", {"variablesReference": ref, **paging})
        return {v["name"]: v for v in body["variables"]}

    async def close(self) -> None:
        if not self.client.channel.is_closed:
            # The worker may have finished already (the program exited).
            with contextlib.suppress(ChannelClosed, DapRequestError):
                await asyncio.wait_for(self.client.channel.request("disconnect", {}), 30)
            self.client.channel.close()
        await asyncio.wait_for(self.proc.wait(), 30)


@contextlib.contextmanager
def targets_server(base: Path, server_args: list[str] | None = None) -> Iterator[ServerProcess]:
    """A server in its own process whose root holds the Python targets and the native
    ones compiled (`root/targets`, `root/native`), with Jupyter options `server_args`;
    stopped on exit."""
    root = (base / "root").resolve()
    shutil.copytree(TARGETS_DIR, root / "targets", ignore=shutil.ignore_patterns("native"))
    (root / "native").mkdir()
    compile_targets(root / "native")
    server = ServerProcess(root, base / "state", server_args=server_args)
    try:
        server.start()
        yield server
    finally:
        server.stop()
