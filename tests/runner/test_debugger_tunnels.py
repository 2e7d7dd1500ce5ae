"""gdb sessions shared by IDEs: what real DAP clients (nvim-dap, VS Code, LLVM's
dap_server.py) rely on, on a real gdb through a real server and its DAP tunnel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..support.native import compile_targets, marker_line
from ..support.ws_dap import TunnelClient

pytestmark = pytest.mark.timeout(300)

STEPS = 200

Tunnel = Callable[[str], Awaitable[TunnelClient]]


@pytest.fixture
def native(jp_root_dir: Path) -> dict[str, Path]:
    dest = jp_root_dir / "native"
    dest.mkdir()
    return compile_targets(dest)


@pytest.fixture
def tunnel(jp_ws_fetch: Any) -> Iterator[Tunnel]:
    """Open a control client on a session's DAP tunnel: `await tunnel(sid)`."""
    opened: list[TunnelClient] = []

    async def connect(session_id: str) -> TunnelClient:
        conn = await jp_ws_fetch("api", "debug", "sessions", session_id, "dap")
        client = TunnelClient(conn)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.conn.close()


async def _stopped_gdb_session(api: Any, manager: Any, program: str, source: str,
                               line: int) -> Any:
    status, model = await api("POST", "sessions", {
        "debugger": "gdb", "program": program,
        "breakpoints": [{"path": source, "line": line}]})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 60), session.error
    return session


async def _late_joiner_stop(tunnel: Tunnel, session_id: str) -> dict[str, Any] | None:
    """Join as an IDE does (initialize → attach → configurationDone) and return the
    `stopped` event replayed to it, or None. The replay is sent right after the
    configurationDone response, so a `threads` answer after it marks its end."""
    joiner = await tunnel(session_id)
    try:
        await joiner.join()
        seq = joiner.send("threads")
        await joiner.wait_for(lambda m: m["type"] == "response" and m["request_seq"] == seq)
        stops = [e for e in joiner.events if e["event"] == "stopped"]
        return stops[-1] if stops else None
    finally:
        await joiner.close()


async def test_a_late_joiner_after_each_of_many_gdb_steps_gets_the_stop(
        api: Any, manager: Any, tunnel: Tunnel, native: dict[str, Path]) -> None:
    source = native["waiter"].parent / "waiter.c"
    line = marker_line(source, "tick();")
    session = await _stopped_gdb_session(api, manager, "native/waiter", "native/waiter.c",
                                         line)
    stepper = await tunnel(session.id)
    await stepper.join()
    thread = (await stepper.event("stopped"))["body"]["threadId"]
    await stepper.body("setBreakpoints", {"source": {"path": str(source)}, "breakpoints": []})
    lost: list[int] = []
    early: list[int] = []
    for step in range(STEPS):
        mark = len(stepper.messages)
        seq = stepper.send("next", {"threadId": thread})
        stop = await stepper.event("stopped", after=mark)
        response = await stepper.wait_for(
            lambda m, seq=seq: m["type"] == "response" and m["request_seq"] == seq,
            after=mark)
        assert response["success"], response
        if stepper.messages.index(stop, mark) < stepper.messages.index(response, mark):
            early.append(step)  # DAP: the response to `next` comes before its stop
        assert session.state == "stopped", (step, session.state)
        replayed = await _late_joiner_stop(tunnel, session.id)
        if replayed is None:
            lost.append(step)
        else:
            assert replayed["body"]["threadId"] == thread, replayed
    assert not lost, f"{len(lost)} of {STEPS} stops were not replayed: steps {lost}"
    assert not early, f"{len(early)} of {STEPS} stops came before their response: {early}"


MI_SYNTAX = ("-interpreter-exec", "^error", "msg=", "gdb command '")


async def test_gdb_console_evaluates_expressions_and_runs_only_prefixed_commands(
        api: Any, manager: Any, tunnel: Tunnel, native: dict[str, Path]) -> None:
    source = native["points"].parent / "points.c"
    session = await _stopped_gdb_session(api, manager, "native/points", "native/points.c",
                                         marker_line(source, "AFTER-RECURSE"))
    sid = session.id
    # REST: every context evaluates the expression (total = 0² + 2² + 4² + 6² + 8²).
    for context in ({}, {"context": "repl"}, {"context": "watch"}, {"context": "hover"}):
        status, result = await api("POST", f"sessions/{sid}/evaluate",
                                   {"expression": "total", **context})
        assert status == 200 and result["result"] == "120", (context, result)
    status, result = await api("POST", f"sessions/{sid}/evaluate", {"expression": "p"})
    assert status == 200 and result["variablesReference"] > 0, result  # expandable
    status, result = await api("POST", f"sessions/{sid}/evaluate",
                               {"expression": "-exec print total * 2"})
    assert status == 200 and result["result"] == "$1 = 240", result
    status, error = await api("POST", f"sessions/{sid}/evaluate", {"expression": "nosuch"})
    assert status == 422, error
    assert error["message"] == ("evaluating 'nosuch' failed: "
                                'gdb: No symbol "nosuch" in current context.'), error
    status, error = await api("POST", f"sessions/{sid}/evaluate",
                              {"expression": "-exec frobnicate"})
    assert status == 422 and error["message"].endswith(
        'gdb: Undefined command: "frobnicate".  Try "help".'), error

    # The tunnel: what VS Code's and nvim-dap's consoles send.
    client = await tunnel(sid)
    await client.join()
    for context in ({"context": "repl"}, {}):
        body = await client.body("evaluate", {"expression": "total", **context})
        assert body["result"] == "120", (context, body)
    body = await client.body("evaluate", {"expression": "-exec info line main",
                                          "context": "repl"})
    assert "main" in body["result"] and "points.c" in body["result"], body
    output = [e["body"]["output"] for e in client.events if e["event"] == "output"]
    assert not any("points.c" in text for text in output), output  # once, as the result
    for expression, said in (("nosuch", 'gdb: No symbol "nosuch" in current context.'),
                             ("-exec", "'-exec' needs a gdb command after it, "
                                       "e.g. '-exec info frame'")):
        response = await client.request("evaluate", {"expression": expression,
                                                     "context": "repl"})
        assert not response["success"] and response["message"] == said, response
    for response in [m for m in client.responses if not m["success"]]:
        assert not any(mi in response["message"] for mi in MI_SYNTAX), response
