"""The requests the debugpy adapter answers itself (pydevd answers the rest).

`launch` and `attach` are answered once `configurationDone` is, as debugpy does
(`answered_by`): the client may send `configurationDone` as soon as pydevd's
`initialized` reaches it, while the start request's handler still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from ....dap import ChannelClosed, DapRequestError
from ..attachable import AttachRefused, parse_pid
from ..registry import AdapterError, Answer, Relay, request
from ..target import Target
from . import pydevd_attach
from .adapter import HANDSHAKE_TIMEOUT, DebugpyAdapter
from .launch import debugpy_dir, launch_argv

#: Seconds a program has to exit on its own once pydevd has closed its connection.
_EXIT_GRACE = 5.0
#: Seconds pydevd has to answer a `continue` (it does when a thread resumes, in
#: milliseconds) before we take it that no thread was suspended.
_CONTINUE_ANSWER = 2.0
#: Seconds pydevd has to answer `stepInTargets` (milliseconds when the thread is stopped).
_STEP_IN_TARGETS_ANSWER = 10.0


@request("initialize")
async def initialize(adapter: DebugpyAdapter, **arguments: Any) -> dict[str, Any]:
    if adapter.init_args is not None:
        raise AdapterError("the session is already initialized")
    adapter.init_args = {**arguments}
    adapter.init_args.setdefault("adapterID", "jupyter-debug-server")
    return adapter.registry.capabilities


@request("launch", answered_by="configurationDone")
async def launch(adapter: DebugpyAdapter, **arguments: Any) -> None:
    adapter.check_startable()
    argv, cwd, env = launch_argv(arguments, adapter.options)
    adapter.kind = "launch"
    ours, theirs = socket.socketpair()
    try:
        argv[2] = str(theirs.fileno())
        target = await Target.spawn(
            argv, cwd=cwd, env=env, pass_fds=[theirs.fileno()], sink=adapter.output
        )
    except OSError as exc:
        ours.close()
        raise AdapterError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
    finally:
        theirs.close()
    adapter.announce_target(target)
    # pydevd's own output redirection stays off: we already have the pipes.
    arguments.update(isOutputRedirected=True, redirectOutput=False)
    await adapter.race_exit(adapter.handshake(ours, "launch", arguments), "the debugger started")
    adapter.spawn(_end_when_pydevd_leaves(adapter, target))


async def _end_when_pydevd_leaves(adapter: DebugpyAdapter, target: Target) -> None:
    """pydevd closing its connection while the program runs leaves a program nobody can
    debug or stop through the session: say so and end it (its exit is reported).

    pydevd also closes it when the program ends (at interpreter exit, before the
    process is gone): a program that exits within the grace was not left behind.
    """
    assert adapter.pydevd is not None
    await adapter.pydevd.wait_closed()
    if target.proc.returncode is None and not adapter.detaching:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(target.proc.wait()), _EXIT_GRACE)
    if target.proc.returncode is None and not adapter.detaching:
        await adapter.output("console", "pydevd closed its connection to the debugger; the "
                             "program can no longer be debugged and is being stopped\n")
        await target.terminate()


@request("attach", answered_by="configurationDone")
async def attach(adapter: DebugpyAdapter, **arguments: Any) -> None:
    adapter.check_startable()
    try:
        pid = parse_pid(arguments.get("processId", arguments.get("pid")))
        adapter.kind = "attach"
        sock = await pydevd_attach.inject(pid, debugpy_dir())
    except (AttachRefused, pydevd_attach.AttachError) as exc:
        adapter.kind = None
        raise AdapterError(str(exc)) from None
    adapter.client.send_event("jupyterDebugServer.target", {"pid": pid, "startTime": None})
    await asyncio.wait_for(adapter.handshake(sock, "attach", arguments), HANDSHAKE_TIMEOUT)
    assert adapter.pydevd is not None
    pydevd = adapter.pydevd

    async def watch() -> None:
        await pydevd.wait_closed()
        adapter.send_terminated()

    adapter.spawn(watch())


@request("configurationDone")
async def configuration_done(adapter: DebugpyAdapter) -> Relay:
    if adapter.pydevd is None or not adapter.awaits("configurationDone"):
        raise AdapterError("'configurationDone' is only valid after 'launch' or 'attach'")
    return adapter.forward()  # its answer is the start request's too


@request("continue")
async def continue_(adapter: DebugpyAdapter, **arguments: Any) -> Relay | dict[str, Any]:
    if not adapter.stopped:  # pydevd would never answer: the program already runs
        return {"allThreadsContinued": True}
    adapter.leave_stop()
    # As debugpy does: DAP clients expect every thread to resume. pydevd answers only
    # once it resumes a suspended thread; when none was (our view of the stop was stale,
    # or the debuggee sent a `stopped` of its own) it never answers: then the program
    # already runs, and we say so.
    return Relay(adapter.pydevd, {**arguments, "threadId": "*"}, "the debuggee",
                 deadline=_CONTINUE_ANSWER, late_body={"allThreadsContinued": True})


@request("stepInTargets")
async def step_in_targets(adapter: DebugpyAdapter, **arguments: Any) -> Relay:
    """pydevd runs it on the frame's thread; a thread that resumes first never answers it
    (the frame fuzzer met that), so the answer has a deadline (it runs no user code)."""
    return Relay(adapter.pydevd, arguments, "the debuggee", deadline=_STEP_IN_TARGETS_ANSWER,
                 late_error=f"debugpy did not answer 'stepInTargets' within "
                            f"{_STEP_IN_TARGETS_ANSWER:.0f} s: the frame's thread resumed "
                            "before it was asked")


@request("cancel")
async def cancel(adapter: DebugpyAdapter) -> None:
    # pydevd never answers `cancel` (a request it runs is not cancellable): say so.
    raise AdapterError("debugpy cannot cancel a request; the request runs to its end")


@request("pause")
async def pause(adapter: DebugpyAdapter, **arguments: Any) -> Relay:
    return adapter.forward({**arguments, "threadId": "*"})


@request("terminate")
async def terminate(adapter: DebugpyAdapter) -> Relay | None:
    if adapter.kind == "launch" and adapter.target is not None:
        adapter.spawn(adapter.target.terminate())
        return None
    return adapter.forward()


@request("disconnect")
async def disconnect(adapter: DebugpyAdapter, *,
                     terminateDebuggee: bool | None = None) -> Answer:
    terminate = adapter.kind == "launch" if terminateDebuggee is None else terminateDebuggee
    if adapter.kind == "launch" and adapter.target is not None and terminate:
        await adapter.target.terminate()
        # The exit watcher reports exited/terminated; the response comes after them.
        await asyncio.wait_for(asyncio.shield(adapter.finished), HANDSHAKE_TIMEOUT)
    elif adapter.pydevd is not None and not adapter.pydevd.is_closed:
        adapter.detaching = True
        with contextlib.suppress(DapRequestError, ChannelClosed):
            await adapter.pydevd.request("disconnect", {"terminateDebuggee": bool(terminate)})
        if adapter.kind == "attach":
            adapter.pydevd.close("client disconnected")
            adapter.send_terminated()
    return Answer(after=adapter.send_terminated if adapter.target is None else None)
