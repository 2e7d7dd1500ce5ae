"""The DAP start sequence of a session's debugger: `initialize`, `launch` or `attach`,
the session's own breakpoints and exception filters, `configurationDone`.

Owned by the server's event loop; run by `Session.start` (session.py) on the channel
of a worker that has just started.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..dap import DapChannel
    from .launch_spec import LaunchSpec
    from .upstream import Upstream

#: Our `initialize`: 1-based lines and columns and plain paths, as the session shows them.
_INITIALIZE = {"clientID": "jupyter-debug-server", "linesStartAt1": True,
               "columnsStartAt1": True, "pathFormat": "path", "supportsVariableType": True,
               "supportsRunInTerminalRequest": False}


async def start_debugger(channel: DapChannel, spec: LaunchSpec, upstream: Upstream,
                         initialized: asyncio.Future[None]) -> None:
    """Run the start sequence; `initialized` is resolved by the debugger's `initialized`
    event. Raises DapRequestError or ChannelClosed as the requests do."""
    upstream.capabilities = await channel.request(
        "initialize", {**_INITIALIZE, "adapterID": spec.debugger}) or {}
    started = asyncio.ensure_future(channel.request(spec.request, spec.dap_arguments()))
    # Until configurationDone, `launch` only answers if it fails.
    done, _ = await asyncio.wait({started, initialized}, return_when=asyncio.FIRST_COMPLETED)
    if started in done:
        started.result()
    await _configure(channel, spec, upstream)
    await channel.request("configurationDone")
    await started


async def _configure(channel: DapChannel, spec: LaunchSpec, upstream: Upstream) -> None:
    by_path: dict[str, list[dict[str, Any]]] = {}
    for bp in spec.breakpoints:
        by_path.setdefault(bp.path, []).append(bp.to_dap())
    for path, bps in by_path.items():
        # The session's own (REST's): DAP clients that join later add theirs.
        await upstream.set_own_breakpoints(path, bps)
    if spec.function_breakpoints:
        await upstream.own_request("setFunctionBreakpoints", {
            "breakpoints": [{"name": n} for n in spec.function_breakpoints]})
    await _exception_filters(channel, spec, upstream)


async def _exception_filters(channel: DapChannel, spec: LaunchSpec,
                             upstream: Upstream) -> None:
    """The spec's exception filters (checked against the debugger's when it was parsed);
    without any, the debugger's defaults, as a DAP client would set them."""
    if spec.exception_breakpoints is None:
        offered = upstream.capabilities.get("exceptionBreakpointFilters", [])
        filters = [f["filter"] for f in offered if f.get("default")]
        if not filters:
            return
    else:
        filters = list(spec.exception_breakpoints)  # [] clears: no exception stops
    await channel.request("setExceptionBreakpoints", {"filters": filters})
