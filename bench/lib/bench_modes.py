"""A benchmark mode (one way of reaching the debuggee) and DAP stepping through a client."""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass, field
from typing import IO, Any

from .bench_context import Context
from .bench_process import file_tail, kill_if_target, stop_process
from .dapclient import DapClient, DapError, Message


class Skip(Exception):
    """A mode cannot run here (not implemented yet, failed to start); the reason says why."""


@dataclass
class Mode:
    ctx: Context
    name: str = ""
    description: str = ""
    samples: list[float] = field(default_factory=list)
    setup_seconds: float | None = None
    status: str = "ok"
    active: bool = False

    def start(self) -> None:
        raise NotImplementedError

    def step(self) -> float:
        """One timed step; returns seconds from request sent to stop received."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class Stepper:
    """`next` → `stopped` through a DAP client: shared by the byte-stream modes of
    bench_adapters.py and the tunnel modes of tunnel_latency.py (`stamp` is when the stop
    arrived)."""

    ctx: Context
    client: DapClient | None
    thread_id: int | None

    def _check_stop(self, message: Message) -> None:
        if message.get("type") == "response":
            raise DapError(f"'next' failed: {message.get('message')}")
        if message.get("event") != "stopped":
            raise DapError(f"the target ended instead of stopping: {message}")
        self.thread_id = int(message["body"]["threadId"])

    def _initialize(self, client: DapClient, client_name: str, adapter_id: str,
                    **capabilities: Any) -> None:
        """Send DAP `initialize` as this bench's client (`capabilities` go after the rest)."""
        client.call(
            "initialize",
            {
                "clientID": "jds-bench",
                "clientName": client_name,
                "adapterID": adapter_id,
                "pathFormat": "path",
                "linesStartAt1": True,
                "columnsStartAt1": True,
                **capabilities,
            },
            self.ctx.setup_timeout,
        )

    def _first_stop(self, client: DapClient, what: str) -> tuple[Message, int | None]:
        """Wait for the first stop (`what` names it) and check it; it and its top line."""
        timeout = self.ctx.setup_timeout
        stop = client.wait_for(_stop_or_end(None), timeout, what)
        self._check_stop(stop)
        trace = client.call("stackTrace", {"threadId": self.thread_id, "levels": 1}, timeout)
        frames = trace.get("body", {}).get("stackFrames", [])
        return stop, frames[0].get("line") if frames else None

    def step(self) -> float:
        client = self.client
        assert client is not None
        client.drop_events()
        started = time.perf_counter()
        seq = client.request("next", {"threadId": self.thread_id})
        stop = client.wait_for(
            _stop_or_end(seq), self.ctx.step_timeout, "the 'stopped' event after 'next'"
        )
        elapsed = self.stamp(client) - started
        self._check_stop(stop)
        client.response(seq, self.ctx.step_timeout)
        return elapsed

    def stamp(self, client: DapClient) -> float:
        """When the message `client` returned last was received (now, for a byte stream)."""
        return time.perf_counter()


class DapMode(Stepper, Mode):
    """A mode where our client speaks DAP directly to an adapter process."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: DapClient | None = None
        self.thread_id: int | None = None
        self.target_pid: int | None = None
        self.log_path = ctx.workdir / f"{type(self).__name__}.log"
        self._log: IO[bytes] | None = None

    # subclasses: start the adapter and return a client for it
    def spawn(self) -> DapClient:
        raise NotImplementedError

    def launch_arguments(self) -> dict[str, Any]:
        raise NotImplementedError

    def end_writing(self) -> None:
        """Signal end of input to the adapter (half-close), keep reading possible."""

    def release_channel(self) -> None:
        """Close our end(s) of the DAP channel."""

    def start(self) -> None:
        try:
            self.client = self.spawn()
            self._handshake(self.client)
        except (DapError, OSError, KeyError, TypeError, ValueError) as exc:
            tail = file_tail(self.log_path)
            raise Skip(f"{exc}" + (f"\n    adapter output:\n{tail}" if tail else "")) from exc

    def open_log(self) -> IO[bytes]:
        self._log = self.log_path.open("wb")
        return self._log

    def _handshake(self, client: DapClient) -> None:
        timeout = self.ctx.setup_timeout
        self._initialize(client, "step_latency", "debugpy", supportsRunInTerminalRequest=False)
        launch_seq = client.request("launch", self.launch_arguments())

        def launch_reply_or_initialized(m: Message) -> bool:
            if m.get("type") == "event":
                return m.get("event") == "initialized"
            return m.get("type") == "response" and m.get("request_seq") == launch_seq

        first = client.wait_for(launch_reply_or_initialized, timeout, "the 'initialized' event")
        launch_answered = first.get("type") == "response"
        if launch_answered:
            if not first.get("success"):
                raise DapError(f"launch failed: {first.get('message')} {first.get('body') or ''}")
            client.event("initialized", timeout)
        reply = client.call(
            "setBreakpoints",
            {
                "source": {"path": str(self.ctx.target)},
                "breakpoints": [{"line": self.ctx.break_line}],
                "lines": [self.ctx.break_line],
            },
            timeout,
        )
        breakpoints = reply.get("body", {}).get("breakpoints", [])
        if not breakpoints:
            raise DapError(f"setBreakpoints returned no breakpoint: {reply}")
        client.call("configurationDone", {}, timeout)
        if not launch_answered:
            client.response(launch_seq, timeout)
        stop, line = self._first_stop(client, "the first 'stopped' event")
        if line != self.ctx.break_line:
            raise DapError(
                f"first stop is at line {line}, not at the breakpoint (line "
                f"{self.ctx.break_line}): {stop.get('body')}"
            )
        for message in client.backlog:
            if message.get("type") == "event" and message.get("event") == "process":
                self.target_pid = message.get("body", {}).get("systemProcessId")


    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None and not client.closed:
            with contextlib.suppress(DapError, OSError):
                seq = client.request("disconnect", {"terminateDebuggee": True})
                client.response(seq, 5.0, check=False)
                # Keep reading until the adapter hangs up, so its last events do not
                # hit a closed pipe.
                self.end_writing()
                client.drain(5.0)
        self.release_channel()
        stop_process(self.proc, 10.0, terminate=False)
        kill_if_target(self.target_pid, self.ctx.target)
        if self._log is not None:
            self._log.close()
            self._log = None


def _stop_or_end(seq: int | None) -> Any:
    def match(m: Message) -> bool:
        if m.get("type") == "event":
            return m.get("event") in ("stopped", "terminated", "exited")
        return (
            seq is not None
            and m.get("type") == "response"
            and m.get("request_seq") == seq
            and not m.get("success")
        )

    return match

