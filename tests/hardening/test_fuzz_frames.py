"""Hostile frames against every surface that takes DAP or WebSocket frames (DESIGN.md §4-§5).

A real server process with a stopped debugpy, gdb and lldb session takes ≥ 60,000 hostile
frames (at HARDENING_SCALE=1) from a seeded generator (HARDENING_SEED, printed): raw
WebSocket frames and hostile DAP JSON on the DAP tunnel (as a control and an observe
client) and the events socket, hostile Content-Length streams on `forward --stdio` and
`--port 0`, and hostile DAP on each worker run alone as a stdio adapter. After every round
the server is alive, each session answers `threads` on REST, no worker died, the server's
log holds no traceback and no secret, and its RSS grew ≤ 50 MB. The counts go to the
hardening report (tests/hardening/report.py, suite "fuzz").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support.forward import ForwardProcess
from .fuzz_dap import scale, scaled, seed
from .fuzz_rounds import Tally, WsPlan, summary, ws_campaign
from .fuzz_stream import DapStream, framed, stream_campaign
from .fuzz_target import DEBUGGERS, FuzzTarget, start_target
from .fuzz_ws import RawWebSocket, frame
from .report import record, record_max, report_dir

pytestmark = pytest.mark.timeout(600)

# Frames per debugger at scale 1 (x3 debuggers: ≥ 60,000 in all with the other files).
TUNNEL_FRAMES = 12_000
EVENTS_FRAMES = 2_500
ROUNDS = 3


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    print(f"\nfuzz: HARDENING_SEED={seed()} HARDENING_SCALE={scale()}")
    fuzzed = start_target(tmp_path_factory.mktemp("fuzz"))
    try:
        asyncio.run(_warm_up(fuzzed))
        fuzzed.baseline_rss = fuzzed.rss()
        yield fuzzed
    finally:
        fuzzed.server.stop()
        log = report_dir() / "fuzz-server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("".join(fuzzed.server.log))
        print(f"fuzz: the server's log is in {log}")
    fuzzed.check_log("after shutdown")
    assert not fuzzed.problems, "\n".join(fuzzed.problems)


async def _warm_up(target: FuzzTarget) -> None:
    """Every surface used once with good frames, so the baseline RSS includes its code."""
    rng = random.Random(seed())
    for session in target.sessions.values():
        ws = await RawWebSocket.connect(target.port, f"/api/debug/sessions/{session.id}/dap",
                                        session.control)
        ws.write(b"".join(frame(rng, 0x1, b'{"type":"request","seq":%d,"command":"threads"}'
                                % n) for n in range(1, 201)))
        assert await ws.until(lambda w=ws: 200 in w.responses, 60), "warm-up unanswered"
        await ws.abort()
    target.baseline_rss = target.rss()
    await target.check_round("warm-up")
    assert not target.problems, "\n".join(target.problems)


def _finish(target: FuzzTarget, surface: str, tallies: list[Tally], started: float) -> None:
    """Record the counts of one test, print them, and fail on any problem."""
    frames = sum(t.frames for t in tallies)
    problems = [p for t in tallies for p in t.problems] + target.problems
    extra = sum((t.counts for t in tallies), start=target.counts.copy())
    crashes, unanswered, secret_hits = (extra.pop(k, 0) for k in
                                        ("crashes", "unanswered", "secret_hits"))
    rss = extra.pop("rss_growth_kib", 0)
    record("fuzz", frames=frames, **{f"frames_{surface}": frames}, crashes=crashes,
           unanswered=unanswered, secret_hits=secret_hits,
           **{k: v for k, v in extra.items() if v})
    record_max("fuzz", rss_growth_kib=rss)
    print(f"fuzz {surface}: {frames} frames in {time.monotonic() - started:.1f} s, "
          f"{[summary(t) for t in tallies]}, rss +{rss} KiB, seed {seed()}")
    target.counts.clear()
    target.problems.clear()
    assert not problems, "\n".join(problems[:40])


@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_tunnel_frames(target: FuzzTarget, debugger: str) -> None:
    session = target.sessions[debugger]
    rng = random.Random(f"{seed()}-tunnel-{debugger}")
    started = time.monotonic()

    async def rounds() -> list[Tally]:
        tallies = []
        for number in range(ROUNDS):
            role = ("control", "observe")[number % 2]
            plan = WsPlan(target.port, f"/api/debug/sessions/{session.id}/dap",
                          [(role, session.control if role == "control" else session.observe)],
                          scaled(TUNNEL_FRAMES // ROUNDS, 20), dap=True,
                          label=f"tunnel {debugger} round {number}")
            tallies.append(await ws_campaign(plan, rng))
            await target.check_round(plan.label)
        return tallies

    _finish(target, "tunnel", asyncio.run(rounds()), started)


@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_events_frames(target: FuzzTarget, debugger: str) -> None:
    session = target.sessions[debugger]
    rng = random.Random(f"{seed()}-events-{debugger}")
    started = time.monotonic()

    async def rounds() -> list[Tally]:
        plan = WsPlan(target.port, f"/api/debug/sessions/{session.id}/events",
                      [("control", session.control), ("observe", session.observe),
                       ("jupyter", target.server.token)],
                      scaled(EVENTS_FRAMES, 20), dap=False,
                      label=f"events {debugger}")
        tally = await ws_campaign(plan, rng)
        await target.check_round(plan.label)
        return [tally]

    _finish(target, "events", asyncio.run(rounds()), started)



FORWARD_PORT_FRAMES = 2_500
FORWARD_STDIO_FRAMES = 1_200
WORKER_FRAMES = 2_500
WORKERS = {"debugpy": "jupyter_debug_server.runner.debuggers.debugpy_adapter",
           "gdb": "jupyter_debug_server.runner.debuggers.gdb_adapter",
           "lldb": "jupyter_debug_server.runner.debuggers.lldb_adapter"}
_INITIALIZE = {"adapterID": "fuzz", "clientID": "fuzz", "linesStartAt1": True,
               "columnsStartAt1": True, "pathFormat": "path"}


async def _ide(stream: DapStream) -> DapStream:
    """An IDE's first request (a strict forward requires `initialize` first)."""
    response = await stream.request(1, "initialize", _INITIALIZE)
    assert response["success"], response
    return stream


@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_forward_port_frames(target: FuzzTarget, debugger: str) -> None:
    session = target.sessions[debugger]
    rng = random.Random(f"{seed()}-forward-port-{debugger}")
    started = time.monotonic()

    async def rounds() -> list[Tally]:
        forward = await ForwardProcess.start(target.url, session.control, session.id,
                                             "--port", "0")
        try:
            port = await forward.port()

            async def connect() -> DapStream:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                return await _ide(DapStream(reader, writer))

            label = f"forward --port {debugger}"
            tally = await stream_campaign(connect, scaled(FORWARD_PORT_FRAMES, 20), rng,
                                          label)
        finally:
            await _end_forward(forward)
        target.check_log(label, "".join(forward.stderr))
        await target.check_round(label)
        return [tally]

    _finish(target, "forward_port", asyncio.run(rounds()), started)


async def _end_forward(forward: ForwardProcess) -> None:
    if forward.proc.returncode is None:
        forward.proc.terminate()
        with contextlib.suppress(asyncio.TimeoutError):
            await forward.wait(15)
    with contextlib.suppress(AssertionError):
        await forward.stop()  # (its own Traceback check; ours is check_log)


@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_forward_stdio_frames(target: FuzzTarget, debugger: str) -> None:
    session = target.sessions[debugger]
    rng = random.Random(f"{seed()}-forward-stdio-{debugger}")
    started = time.monotonic()
    label = f"forward --stdio {debugger}"

    async def rounds() -> list[Tally]:
        forwards: list[ForwardProcess] = []

        async def start() -> DapStream:
            forward = await ForwardProcess.start(target.url, session.control, session.id,
                                                 "--stdio")
            forwards.append(forward)
            assert forward.proc.stdout is not None and forward.proc.stdin is not None
            return await _ide(DapStream(forward.proc.stdout, forward.proc.stdin))

        try:
            tally = await stream_campaign(start, scaled(FORWARD_STDIO_FRAMES, 20), rng,
                                          label)
        finally:
            for forward in forwards:
                await _end_forward(forward)
        target.check_log(label, "".join(line for f in forwards for line in f.stderr))
        await target.check_round(label)
        return [tally]

    _finish(target, "forward_stdio", asyncio.run(rounds()), started)


@pytest.mark.parametrize("debugger", DEBUGGERS)
def test_worker_channel_frames(target: FuzzTarget, debugger: str,
                               tmp_path: Path) -> None:
    """The worker alone on stdio (as an IDE's adapter executable) takes hostile DAP."""
    rng = random.Random(f"{seed()}-worker-{debugger}")
    started = time.monotonic()
    label = f"worker {debugger}"
    program, source, line = target.program(debugger)

    async def rounds() -> list[Tally]:
        workers: list[tuple[asyncio.subprocess.Process, asyncio.Task[bytes]]] = []

        async def start() -> DapStream:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", WORKERS[debugger], cwd=tmp_path,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
            assert proc.stdin is not None and proc.stdout is not None
            assert proc.stderr is not None
            workers.append((proc, asyncio.ensure_future(proc.stderr.read())))
            stream = DapStream(proc.stdout, proc.stdin)
            await stream.request(1, "initialize", _INITIALIZE)
            stream.write(framed(json.dumps({
                "type": "request", "seq": 2, "command": "launch",
                "arguments": {"program": str(program), "cwd": str(program.parent)}}).encode()))
            assert await stream.until(lambda: any(e["event"] == "initialized"
                                                  for e in stream.events), 60), "no initialized"
            await stream.request(3, "setBreakpoints", {"source": {"path": str(source)},
                                                       "breakpoints": [{"line": line}]})
            await stream.request(4, "configurationDone")
            assert await stream.until(lambda: 2 in stream.responses, 60), "launch unanswered"
            return stream

        hung: list[str] = []
        try:
            tally = await stream_campaign(start, scaled(WORKER_FRAMES, 20), rng,
                                          label)
        finally:
            target.check_log(label, await _end_workers(workers, hung))
        await target.check_round(label)
        for problem in hung:
            tally.problem("crashes", f"{label}: {problem}")
        return [tally]

    _finish(target, "worker", asyncio.run(rounds()), started)


async def _end_workers(workers: list[tuple[asyncio.subprocess.Process, asyncio.Task[bytes]]],
                       problems: list[str]) -> str:
    """Close each worker's stdin; it must exit by itself (bounded). Their stderr, joined."""
    logs = []
    for proc, stderr in workers:
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except asyncio.TimeoutError:
            problems.append(f"worker {proc.pid} did not exit 30 s after its stdin closed")
            proc.kill()
            await proc.wait()
        logs.append((await stderr).decode(errors="replace"))
    return "".join(logs)
