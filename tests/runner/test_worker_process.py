"""The worker process component (runner/worker_process.py) on its own, with no session:
Popen-like verbs on a real debugpy worker.

`start` returns the worker's DAP channel, `wait` its exit code (the channel closes with
it), `terminate` the stop ladder, which also ends a frozen (SIGSTOPped) worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from jupyter_debug_server.runner.discovery import DEBUGGERS
from jupyter_debug_server.runner.processes import process_start_time
from jupyter_debug_server.runner.worker_process import WorkerProcess

pytestmark = pytest.mark.timeout(60)

MODULE = DEBUGGERS["debugpy"].worker_module


@contextlib.asynccontextmanager
async def _worker() -> AsyncIterator[WorkerProcess]:
    blocking = ThreadPoolExecutor(max_workers=1)
    process = WorkerProcess(blocking=blocking, max_dap_message=1 << 20,
                            on_stderr=lambda line: None)
    try:
        yield process
    finally:
        if process.returncode is None and process.pid is not None:
            await process.terminate(1.0)  # (a failed test must not leave a worker behind)
        blocking.shutdown(wait=False)


async def test_start_gives_the_channel_and_wait_the_exit_code() -> None:
    async with _worker() as worker:
        channel = await worker.start("testsession01", MODULE, [],
                                     on_event=lambda event: None)
        assert worker.pid is not None and worker.returncode is None
        assert worker.start_time == process_start_time(worker.pid)
        capabilities = await channel.request("initialize", {"adapterID": "debugpy"},
                                             timeout=30)
        assert capabilities.get("supportsConfigurationDoneRequest"), capabilities
        waiting = asyncio.ensure_future(worker.wait())
        await worker.terminate(5.0)  # the worker leaves on EOF: no signal needed
        assert await asyncio.wait_for(waiting, 10) == worker.returncode
        assert channel.is_closed


async def test_the_ladder_ends_a_frozen_worker() -> None:
    async with _worker() as worker:
        await worker.start("testsession02", MODULE, [], on_event=lambda event: None)
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGSTOP)  # EOF alone cannot end it now
        await asyncio.wait_for(worker.terminate(0.5), 10)
        code = await asyncio.wait_for(worker.wait(), 10)
        # SIGCONT and SIGTERM let it run its own ladder; SIGKILL if it did not in time.
        assert code is not None and worker.returncode == code
