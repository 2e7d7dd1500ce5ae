"""What every worker shares: its command line, its DAP channel, its life span.

A worker is `python -m jupyter_debug_server.runner.debuggers.<name>_adapter`.
With `--channel-fd N` it speaks DAP on an inherited socket (how the server runs
it); without, on stdin/stdout (how an IDE runs it as an adapter executable; any
kind of stdin/stdout, see stdio.py).
The channel closing means the server or the IDE is gone: the worker then ends
its debuggee and exits, so a dead server leaves no orphans.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any, Protocol

from ...dap import DapChannel
from .base import PRIVATE_EVENT_PREFIX
from .registry import checking_arguments
from .stdio import Stdio, print_usage_if_terminal

log = logging.getLogger(__name__)

_ANSWER_GRACE = 10.0


class Adapter(Protocol):
    """What a debugger adapter offers the worker harness."""

    def on_request(self, message: dict[str, Any]) -> None: ...

    async def shutdown(self, why: str) -> None: ...

    @property
    def finished(self) -> asyncio.Future[None]: ...

    @property
    def requests(self) -> set[asyncio.Task[Any]]: ...


AdapterFactory = Callable[[DapChannel, argparse.Namespace], Adapter]


def base_parser(description: str) -> argparse.ArgumentParser:
    """The options every worker takes; adapters add their own target options."""
    parser = argparse.ArgumentParser(description=description)
    parser.set_defaults(what=description)  # for the terminal's usage paragraph
    parser.add_argument("--session", default="", help="session id, used in log lines")
    parser.add_argument(
        "--channel-fd",
        type=int,
        default=None,
        help="speak DAP on this inherited socket instead of stdin/stdout",
    )
    parser.add_argument("--log-level", default=os.environ.get("JDS_WORKER_LOG", "WARNING"))
    return parser


def _keep_private_events(channel: DapChannel) -> None:
    """Standalone (an IDE on stdio): our `jupyterDebugServer.*` events are meant for the
    server only, so they are not sent to the IDE."""
    send_event = channel.send_event

    def public_only(event: str, body: Any = None) -> None:
        if not event.startswith(PRIVATE_EVENT_PREFIX):
            send_event(event, body)

    channel.send_event = public_only  # type: ignore[method-assign]


async def _serve(factory: AdapterFactory, options: argparse.Namespace) -> int:
    name = f"client[{options.session or os.getpid()}]"
    stdio: Stdio | None = None
    if options.channel_fd is not None:
        sock = socket.socket(fileno=options.channel_fd)
        channel: DapChannel = await DapChannel.from_socket(sock, name=name)
    else:
        stdio = Stdio()
        channel = await stdio.open(name)
    if stdio is not None:
        _keep_private_events(channel)
    adapter = factory(channel, options)
    # DAP argument types are checked before any adapter sees a request (registry.py).
    on_request = checking_arguments(channel, adapter.on_request)
    if stdio is None:
        channel.on_request = on_request
    else:
        stdio.bind(on_request)
    channel.start()
    loop = asyncio.get_running_loop()
    stop = loop.create_future()

    def on_signal(sig: signal.Signals) -> None:
        if not stop.done():
            stop.set_result(sig.name)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, on_signal, sig)
    done, _ = await asyncio.wait(
        [channel.closed, stop, adapter.finished], return_when=asyncio.FIRST_COMPLETED
    )
    why = "client channel closed" if channel.closed in done else "adapter finished"
    if stop in done:
        why = f"received {stop.result()}"
    if adapter.requests and not channel.is_closed:
        # Let requests in flight (typically the `disconnect` that ended it all) answer.
        await asyncio.wait(set(adapter.requests), timeout=_ANSWER_GRACE)
    await adapter.shutdown(why)
    await channel.drain()
    channel.close(why)
    if stdio is not None:
        # An output file is written by a thread: let it finish before the process ends.
        await loop.run_in_executor(None, stdio.flush)
    return 0


def run(factory: AdapterFactory, options: argparse.Namespace) -> None:
    """Run one worker to completion and exit the process."""
    logging.basicConfig(
        stream=sys.stderr,
        level=options.log_level.upper(),
        format=f"%(asctime)s worker[{options.session}] %(levelname)s %(name)s: %(message)s",
    )
    if options.channel_fd is None:
        main = sys.modules["__main__"]
        module = getattr(getattr(main, "__spec__", None), "name", None) or sys.argv[0]
        print_usage_if_terminal(module, options.what)
    sys.exit(asyncio.run(_serve(factory, options)))

