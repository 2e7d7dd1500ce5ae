"""Running and stopping: continue, next, stepIn, stepOut, pause, threads.

Their responses reach the client before the events they cause (`events_after_response`):
gdb's `*running` and `*stopped` may be read before the `^running` (or `^done`) reply has
been handled, and a client that sees `stopped` before the response to `next` may take the
response as the newer news (the server's mux did, and forgot the stop).
"""

from __future__ import annotations

from typing import Any

from ..registry import AdapterError, request
from .adapter import GdbAdapter
from .mi import MIError


async def _resume(adapter: GdbAdapter, request_name: str, command: str, thread: int) -> None:
    mi = adapter.require_stopped(f"run '{request_name}'")
    if adapter.kind == "core":
        raise AdapterError("a core file is a snapshot of a dead process: it cannot run or step")
    try:
        await mi.command(f"{command} --thread {int(thread)}" if thread else command)
    except MIError as exc:
        raise AdapterError(f"gdb refused '{request_name}': {exc}") from None


@request("continue", events_after_response=True)
async def continue_(adapter: GdbAdapter, *, threadId: int) -> dict[str, Any]:
    await _resume(adapter, "continue", "-exec-continue", threadId)
    return {"allThreadsContinued": True}


@request("next", capability="supportsSteppingGranularity", events_after_response=True)
async def next_(adapter: GdbAdapter, *, threadId: int,
                granularity: str | None = "statement") -> None:
    await _resume(adapter, "next", "-exec-next-instruction" if granularity == "instruction"
                  else "-exec-next", threadId)


@request("stepIn", events_after_response=True)
async def step_in(adapter: GdbAdapter, *, threadId: int,
                  granularity: str | None = "statement") -> None:
    await _resume(adapter, "stepIn", "-exec-step-instruction" if granularity == "instruction"
                  else "-exec-step", threadId)


@request("stepOut", events_after_response=True)
async def step_out(adapter: GdbAdapter, *, threadId: int) -> None:
    await _resume(adapter, "stepOut", "-exec-finish", threadId)


@request("pause", events_after_response=True)
async def pause(adapter: GdbAdapter) -> None:
    mi = adapter.require_mi()
    if adapter.stopped_thread is not None:
        return
    adapter.pause_requested = True
    await mi.command("-exec-interrupt --all")


@request("threads")
async def threads(adapter: GdbAdapter) -> dict[str, Any]:
    mi = adapter.require_mi()
    if adapter.stopped_thread is None:
        # gdb cannot list threads of a running program in all-stop mode.
        return {"threads": adapter.known_threads()}
    info = await mi.command("-thread-info")
    found = []
    for thread in info.get("threads", []):
        name = thread.get("name") or thread.get("target-id") or f"thread {thread.get('id')}"
        found.append({"id": int(thread["id"]), "name": name})
    adapter.threads_seen = found
    return {"threads": found}
