"""What the gdb and lldb adapters' start-up requests share (see gdb/ and lldb/startup.py).

Owned by the worker's event loop. Both native adapters read `launch` and `attach`
alike (either may name a core file), refuse a pid the same way, and end a launched
program with the same SIGTERM-then-SIGKILL ladder; only the debugger calls differ,
and those are passed in.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from ....dap.messages import Message
from ..attachable import AttachRefused, parse_pid
from ..base import AdapterBase
from ..processes import kill_group, process_start_time
from ..registry import AdapterError, Answer

log = logging.getLogger(__name__)


#: Seconds a debugger has to take control of the program, and the program to end.
START_TIMEOUT = 60.0


async def start_arguments(arguments: Message, default_program: str | None,
                          open_core: Callable[[str, str], Awaitable[None]]) -> Message | None:
    """The arguments of a `launch` or `attach`; None once a core file they name is open.

    Clients use either request for a core file: `open_core(program, core)` opens it
    (the request's answer follows). AdapterError if the core file comes without a program.
    """
    args = dict(arguments)
    if not args.get("coreFile"):
        return args
    program = args.get("program") or default_program
    core = args.get("coreFile")
    if not isinstance(program, str) or not program or not isinstance(core, str):
        raise AdapterError("a core file needs 'program', the executable that dumped it")
    await open_core(program, core)
    return None


def attach_pid(args: Message) -> int:
    """The pid an `attach` names, if a debugger may attach to it (AdapterError why not)."""
    try:
        return parse_pid(args.get("processId", args.get("pid")))
    except AttachRefused as exc:
        raise AdapterError(exc.message) from None


def terminate_launched(adapter: AdapterBase, *, grace: float,
                       resume: Callable[[], Awaitable[None]],
                       kill: Callable[[], Awaitable[None]] | None = None) -> Answer:
    """Handle `terminate`: SIGTERM the launched program, kill it if it outlives `grace` s.

    SIGTERM passes through the debugger to the program (see PASS_SIGNALS) once it
    runs, so `resume` lets a stopped program go on and clean up. `kill` ends one that
    ignores the signal (None: SIGKILL its process group). Without a running program
    the session just ends, after the response.
    """
    target = adapter.target
    if target is None or target.proc.returncode is not None:
        return Answer(after=adapter.send_terminated)

    async def ladder() -> None:
        kill_group(target.pid, signal.SIGTERM)
        await resume()
        try:
            await asyncio.wait_for(asyncio.shield(adapter.finished), grace)
        except asyncio.TimeoutError:
            if kill is None:
                target.kill()
            else:
                await kill()

    adapter.spawn(ladder())
    return Answer()


def announce_process_group(adapter: AdapterBase, pid: int) -> None:
    """Tell the server about a process group of ours besides the target's (the debugger
    runs in a session of its own): the server kills it after the worker, and a later
    server's reaper too, matched by pid and start time."""
    adapter.client.send_event("jupyterDebugServer.processGroup",
                              {"pid": pid, "startTime": process_start_time(pid)})


def exit_cause(code: int | None) -> str:
    """How a process ended, for a sentence: "signal 9" or "code 1"."""
    if code is None:
        return "unknown status"
    return f"signal {-code}" if code < 0 else f"code {code}"


def debugger_lost(adapter: AdapterBase, message: str) -> None:
    """End the session because its debugger is gone (killed, crashed, or it lost the
    program): the server records `message` as the cause; a launched program is killed
    (it would run on untraced) and its exit ends the session, otherwise it ends now."""
    if adapter.finished.done():
        return
    log.warning("%s; ending the session", message)
    adapter.client.send_event("jupyterDebugServer.debuggerExited", {"message": message})
    adapter.client.send_event("output", {"category": "important", "output": message + "\n"})
    target = adapter.target
    if target is not None and target.proc.returncode is None:
        target.kill()  # watch_exit reports its end and sends `terminated`
    elif target is None:
        adapter.send_terminated()
