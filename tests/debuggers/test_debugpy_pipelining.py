"""Requests written together to a debugpy session are answered together (issue 12, item 2).

After every stop an IDE such as nvim-dap asks for threads and the stack together, then the
scopes of the top frame, then the variables of every scope at once (one request per
scope, pipelined). pydevd's suspended thread runs one queued command per pass of its wait
loop and then sleeps on an event with a 0.2 s timeout: the second of two `variables`
requests that arrived together used to sit in the queue for those 0.2 s.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.client import DebugServerClient

from ..support.dap_client import DapTestClient, start_worker
from ..support.forward import ForwardProcess, join
from ..support.server_process import ServerProcess

TARGET = Path(__file__).parent.parent / "targets" / "stepper.py"
STEPS = 30
pytestmark = pytest.mark.timeout(180)

Message = dict[str, Any]


def _line_of(marker: str) -> int:
    for number, line in enumerate(TARGET.read_text().splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{TARGET} has no line marked {marker!r}")


async def _answers(futures: list[asyncio.Future[Message]]) -> list[Message]:
    """The responses, each checked to be a success."""
    responses = await asyncio.wait_for(asyncio.gather(*futures), 30)
    for response in responses:
        assert response["success"], response
    return list(responses)


async def _inspect(client: DapTestClient, thread_id: int, *, pipelined: bool) -> float:
    """What an IDE does after a stop; how long it took (seconds).

    Pipelined, as nvim-dap does: threads and stackTrace written together, then scopes,
    then one `variables` request per non-expensive scope, all written together. Otherwise
    every request waits for the answer to the one before it.
    """
    started = time.perf_counter()

    async def ask(requests: list[tuple[str, Message]]) -> list[Message]:
        if pipelined:
            return await _answers([client.send(c, a) for c, a in requests])
        return [(await _answers([client.send(c, a)]))[0] for c, a in requests]

    _, stack = await ask([("threads", {}), ("stackTrace", {"threadId": thread_id,
                                                          "startFrame": 0, "levels": 20})])
    frame_id = stack["body"]["stackFrames"][0]["id"]
    (scopes,) = await ask([("scopes", {"frameId": frame_id})])
    wanted = [s for s in scopes["body"]["scopes"] if not s.get("expensive")]
    assert len(wanted) >= 2, wanted  # Locals and Globals: a batch of two or more
    await ask([("variables", {"variablesReference": s["variablesReference"]})
               for s in wanted])
    return time.perf_counter() - started


def _stats(values: list[float]) -> tuple[float, float]:
    """Median and p90 (seconds)."""
    return (statistics.median(values),
            statistics.quantiles(values, n=10, method="inclusive")[8])


def _ms(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.1f}" for v in values)


async def _start(client: DapTestClient) -> int:
    """Launch the stepper, stopped at its breakpoint; its thread id."""
    await client.request("initialize", {"adapterID": "nvim-dap"})
    launch = client.send("launch", {"program": str(TARGET), "cwd": str(TARGET.parent)})
    await client.wait_event("initialized")
    await client.request("setBreakpoints", {"source": {"path": str(TARGET)},
                                            "breakpoints": [{"line": _line_of("STEP-HERE")}]})
    await client.request("configurationDone")
    assert (await asyncio.wait_for(launch, 30))["success"]
    stopped = await client.wait_event("stopped")
    return int(stopped["body"]["threadId"])


async def _measure_and_check(client: DapTestClient, thread_id: int) -> None:
    """Step 30 times; after each stop inspect twice pipelined and twice one by one (in
    the order p s s p or s p p s: more samples, same load); print and check the ratios."""
    # Warm-up: pydevd's first answers at a stop are slow.
    await _inspect(client, thread_id, pipelined=False)
    piped: list[float] = []
    one_by_one: list[float] = []
    steps: list[float] = []
    for index in range(STEPS):
        after = len(client.events)
        started = time.perf_counter()
        await _answers([client.send("next", {"threadId": thread_id})])
        await client.wait_event("stopped", after=after, timeout=30)
        stopped_after = time.perf_counter() - started
        first = index % 2 == 0
        took: dict[bool, list[float]] = {True: [], False: []}
        for pipelined in (first, not first, not first, first):
            took[pipelined].append(await _inspect(client, thread_id, pipelined=pipelined))
        piped += took[True]
        one_by_one += took[False]
        steps.append(stopped_after + took[True][0])
    median, p90 = _stats(steps)
    print(f"\nfull IDE step, pipelined, {STEPS} stops: median {median * 1000:.1f} ms, "
          f"p90 {p90 * 1000:.1f} ms, p90/median {p90 / median:.2f}")
    (p_med, p_p90), (s_med, s_p90) = _stats(piped), _stats(one_by_one)
    print(f"inspection pipelined: median {p_med * 1000:.2f} ms, p90 {p_p90 * 1000:.2f} ms; "
          f"one by one: median {s_med * 1000:.2f} ms, p90 {s_p90 * 1000:.2f} ms")
    print(f"pipelined ms: {_ms(piped)}\none by one ms: {_ms(one_by_one)}")
    assert p_med <= 1.3 * s_med, "pipelined requests are answered later than one by one"
    assert p_p90 <= 1.3 * s_p90, "a tail: some pipelined requests waited"


def test_pipelined_ide_step_has_no_200ms_tail() -> None:
    """After each of 30 stops the IDE's requests are answered as fast pipelined as asked
    one by one, in the median and in the p90 (each asked twice per stop, both ways).

    The bound is a ratio, so a slow machine does not fail it, and it compares with the
    same requests asked one by one at the same stops, in alternating order, so the other
    processes of a busy machine slow both alike. p90/median of the pipelined step alone
    is printed but would not do: with the tail in most steps the median is the tail too
    (204 ms, p90/median 1.02, before the fix).
    """
    async def scenario() -> None:
        client, proc = await start_worker()
        try:
            await _measure_and_check(client, await _start(client))
        finally:
            client.channel.close()
            await asyncio.wait_for(proc.wait(), 30)

    asyncio.run(scenario())


def test_through_forward_stdio_too(tmp_path: Path) -> None:
    """The same as an IDE sees it: a session of a real server, joined through
    `forward --stdio` (the path of issue 12's acceptance)."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(TARGET, root / TARGET.name)
    server = ServerProcess(root, tmp_path / "state")
    server.start()
    try:
        with DebugServerClient(f"http://127.0.0.1:{server.port}/", server.token) as api:
            model = api.create_session({
                "debugger": "debugpy", "program": TARGET.name,
                "breakpoints": [{"path": TARGET.name, "line": _line_of("STEP-HERE")}]})
            sid = str(model["id"])
            assert api.wait_settled(sid, 60)["state"] == "stopped"

            async def scenario() -> None:
                forward = await ForwardProcess.start(
                    f"http://127.0.0.1:{server.port}/", server.token, sid, "--stdio")
                try:
                    ide = forward.ide()
                    await join(ide)
                    stopped = await ide.wait_event("stopped")
                    await _measure_and_check(ide, int(stopped["body"]["threadId"]))
                    await ide.request("disconnect", {})
                    assert await forward.wait() == 0
                finally:
                    await forward.stop()

            asyncio.run(scenario())
            api.terminate(sid)
    finally:
        server.stop()
