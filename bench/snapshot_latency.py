#!/usr/bin/env python
"""Benchmark: what the stop history costs a step, and how soon a stop's snapshot arrives.

Modes (see bench/README.md), each a session of its own ``jupyter server`` subprocess,
driven as a DAP client over the WebSocket tunnel while an events WebSocket
(``?only=state,snapshot``) is open on the same session, as a panel would be:

- ``off``         the session is launched with ``snapshots: false``: the baseline;
- ``on``          snapshots on (one watch), ``next`` sent as soon as the stop arrives, so
                  the stop's snapshot is still being taken: the step may wait behind one
                  batch of the server's requests, and the snapshot ends incomplete;
- ``on-settled``  the same, but each step waits (outside the timed section) until the
                  stop's snapshot has arrived on the events socket before the next step
                  (with a tunnel client attached, a snapshot first lets it ask for 50 ms);
- ``rest-settled`` no tunnel client: steps through REST ``…/step`` (a panel's or a
                  notebook's way), each waiting for its snapshot like ``on-settled``.
                  Informational: its time is a REST step's, not comparable to ``off``;
                  its stop -> snapshot delay is what a panel sees.

Timed: ``next`` frame written -> ``stopped`` frame complete, on the tunnel. The report
gives on/off (target <= 1.15x), and the time from each stop's ``state`` frame to its
``snapshot`` frame on the events socket (p50, p90), for ``on-settled`` (complete
snapshots) and ``on``.

With ``--no-events`` no events WebSocket is opened (an IDE alone on the tunnel): the
server then asks nothing for ``off``, and for ``on`` the snapshot fetches the stack itself;
``on-settled`` needs the events socket and is skipped.

Usage: ``python bench/snapshot_latency.py [--steps 600] [--modes off,on,on-settled]
[--no-events]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import sys
import threading
import time
from typing import Any

import debugpy
import websocket
from lib.bench_context import Context, python_context
from lib.bench_modes import Mode, Skip
from lib.bench_run import bench_parser, parse_bench_args, run_bench
from lib.bench_server import RestMode
from lib.bench_tunnel import WsMode
from lib.dapclient import DapError

ALL_MODES = ("off", "on", "on-settled", "rest-settled")
EVENTS_PATH = "/api/debug/sessions/{id}/events?only=state,snapshot"
# (numerator, denominator, target ratio or None for "informational")
RATIOS: tuple[tuple[str, str, float | None], ...] = (
    ("on", "off", 1.15),
    ("on-settled", "off", None),
)


class EventsReader:
    """The session's events WebSocket, read on a thread of its own: when each stop's
    `state` frame and each `snapshot` frame arrived (perf_counter)."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        self.conn = websocket.create_connection(
            url, timeout=timeout, header=[f"Authorization: token {token}"],
            sockopt=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self.conn.settimeout(None)
        self.changed = threading.Condition()
        self.last_stop = 0.0  # when the latest `stopped` state frame arrived
        self.snapshots: list[tuple[float, dict[str, Any]]] = []  # (since its stop, snapshot)
        self.closed = False
        self.thread = threading.Thread(target=self._read, name="events", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while True:
                raw = self.conn.recv()
                arrived = time.perf_counter()
                frame = json.loads(raw)
                with self.changed:
                    if frame.get("type") == "state" and frame["session"]["state"] == "stopped":
                        self.last_stop = arrived
                    elif frame.get("type") == "snapshot":
                        self.snapshots.append((arrived - self.last_stop, frame["snapshot"]))
                        self.changed.notify_all()
        except Exception:  # closed by us, or by the server at the end
            pass
        finally:
            with self.changed:
                self.closed = True
                self.changed.notify_all()

    def wait_snapshots(self, count: int, timeout: float) -> None:
        """Wait until `count` snapshots have arrived."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.snapshots) >= count or self.closed,
                                         timeout):
                raise DapError(f"no snapshot #{count} on the events socket in {timeout:g} s")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close(timeout=5)
        self.thread.join(timeout=5)


def open_events(port: int, session_id: str, token: str, timeout: float) -> EventsReader:
    """The session's events WebSocket, read on a thread (Skip if it does not open)."""
    try:
        return EventsReader(f"ws://127.0.0.1:{port}{EVENTS_PATH.format(id=session_id)}",
                            token, timeout)
    except (OSError, websocket.WebSocketException) as exc:
        raise Skip(f"the events WebSocket did not open: {exc}") from exc


class EventsOnSession:
    """A mode with the session's events WebSocket open (`events`, once started): a
    `settled` step waits, untimed, for its stop's snapshot; closing closes the socket."""

    events: EventsReader | None = None
    settled = False
    ctx: Context

    def step(self) -> float:
        step = super().step  # type: ignore[misc]
        if self.events is None or not self.settled:
            return float(step())
        before = len(self.events.snapshots)
        elapsed = float(step())
        self.events.wait_snapshots(before + 1, self.ctx.step_timeout)
        return elapsed

    def close(self) -> None:
        if self.events is not None:
            self.events.close()
        super().close()  # type: ignore[misc]


class SnapshotMode(EventsOnSession, WsMode):
    """`ws` of tunnel_latency.py on a session with (or without) snapshots, with an events
    WebSocket open on it."""

    #: Whether an events WebSocket is open on the session (--no-events: none).
    with_events = True

    def __init__(self, ctx: Context, name: str) -> None:
        super().__init__(ctx)
        self.name = name
        self.snapshots_on = name != "off"
        self.settled = name == "on-settled"
        self.description = {
            "off": "DAP over the tunnel, snapshots: false",
            "on": "DAP over the tunnel, snapshots on, next at once",
            "on-settled": "DAP over the tunnel, snapshots on, next after the snapshot",
        }[name]

    def launch_spec(self) -> dict[str, Any]:
        return {**super().launch_spec(), "snapshots": self.snapshots_on,
                "watches": ["total + x"]}

    def start(self) -> None:
        if self.settled and not self.with_events:
            raise Skip("on-settled waits for each snapshot on the events socket: "
                       "run it without --no-events")
        super().start()
        if not self.with_events:
            return
        assert self.port is not None and self.session_id is not None
        self.events = open_events(self.port, self.session_id, self.token,
                                  self.ctx.setup_timeout)



class RestSnapshotMode(EventsOnSession, RestMode):
    """``rest-settled``: REST steps on a session with snapshots on and an events
    WebSocket, each step waiting (untimed) for its stop's snapshot."""

    snapshots_on = True

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.name = "rest-settled"
        self.description = "REST step route, snapshots on, next after the snapshot"
        self.settled = True
        self.port: int | None = None

    def _start_server(self) -> int:
        self.port = super()._start_server()
        return self.port

    def launch_spec(self) -> dict[str, Any]:
        return {**super().launch_spec(), "watches": ["total + x"]}

    def start(self) -> None:
        if not SnapshotMode.with_events:
            raise Skip("rest-settled waits for each snapshot on the events socket: "
                       "run it without --no-events")
        super().start()
        assert self.port is not None and self.session_id is not None
        self.events = open_events(self.port, self.session_id, self.token,
                                  self.ctx.setup_timeout)


def report_snapshots(modes: list[Mode]) -> Any:
    def extra(result: dict[str, Any], requested: set[str]) -> bool:
        print()
        result["stop_to_snapshot"] = {}
        for mode in modes:
            events = getattr(mode, "events", None)
            if not getattr(mode, "snapshots_on", False) or events is None:
                continue
            delays = [d * 1000 for d, _ in events.snapshots if d > 0]
            complete = sum(1 for _, s in events.snapshots if s["complete"])
            if len(delays) < 2:
                print(f"{mode.name}: stop -> snapshot: too few snapshots ({len(delays)})")
                continue
            p50 = statistics.median(delays)
            p90 = statistics.quantiles(delays, n=10, method="inclusive")[8]
            print(f"{mode.name}: stop -> snapshot on the events socket: p50 {p50:.2f} ms, "
                  f"p90 {p90:.2f} ms (n={len(delays)}, complete {complete}/"
                  f"{len(events.snapshots)})")
            result["stop_to_snapshot"][mode.name] = {
                "p50_ms": p50, "p90_ms": p90, "n": len(delays), "complete": complete,
                "snapshots": len(events.snapshots)}
        return True

    return extra


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, ALL_MODES, "exit 1 if off failed or on/off was missed")
    parser.add_argument("--no-events", action="store_true",
                        help="open no events WebSocket (a DAP client alone on the session)")
    args: argparse.Namespace = parse_bench_args(parser, argv, ALL_MODES)
    SnapshotMode.with_events = not args.no_events
    made: list[Mode] = []

    def make_mode(name: str, ctx: Context) -> Mode:
        mode: Mode = RestSnapshotMode(ctx) if name == "rest-settled" else SnapshotMode(ctx, name)
        made.append(mode)
        return mode

    return run_bench(
        args,
        prefix="jds-snapshot-bench-",
        make_context=lambda workdir: python_context(workdir, args),
        make_mode=make_mode,
        versions=lambda: {"debugpy": debugpy.__version__,
                          "events socket": "no" if args.no_events else "yes"},
        ratios=RATIOS,
        baselines=("off",),
        extra_report=report_snapshots(made),
    )


if __name__ == "__main__":
    sys.exit(main())
