"""Large DAP messages over the tunnel of a real server and a real debugpy session: read by
the helper process, not on the event loop (websocket/large.py, dap/large.py), and
answered, refused or closed exactly as small ones are."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from jupyter_debug_server.dap.messages import LARGE_MESSAGE

from ..support.ws_dap import TunnelClient

pytestmark = pytest.mark.timeout(120)

LOOP = "targets/loop.py"
BREAK_LINE = 13
MAX_DAP = 2 * LARGE_MESSAGE
PAD = "p" * (LARGE_MESSAGE + 1000)  # makes any message a large one


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["DebugServerApp"]["max_dap_message"] = MAX_DAP
    return jp_server_config


async def _stopped_session(api: Any, manager: Any) -> Any:
    status, model = await api("POST", "sessions", {
        "debugger": "debugpy", "program": LOOP,
        "breakpoints": [{"path": LOOP, "line": BREAK_LINE}]})
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 30), (
        session.state, session.error)
    return session


async def _reply(client: TunnelClient, message: dict[str, Any]) -> dict[str, Any]:
    """Send `message` (a request with its own seq) as one frame; its response."""
    mark = len(client.messages)
    client.conn.write_message(json.dumps(message))
    return await client.wait_for(
        lambda m: m["type"] == "response" and m["request_seq"] == message["seq"], after=mark)


async def _closed(client: TunnelClient, frame: str | bytes, *, binary: bool = False) -> tuple[
        int, str]:
    client.conn.write_message(frame, binary=binary)
    code, reason = await asyncio.wait_for(client.closed, 30)
    return int(code), str(reason)


@pytest.mark.usefixtures("targets")
async def test_large_requests_reach_the_debugger_intact_under_the_same_rules(
        api: Any, manager: Any, tunnel: Any) -> None:
    session = await _stopped_session(api, manager)
    control = await tunnel(session.id)
    await control.join()
    thread = session.stopped["thread_id"]
    assert manager.large_messages.pid is None  # no large message yet: no helper

    # The arguments go to pydevd as the client's own bytes (JSON escapes and all).
    text = "é" * 1000 + "\ud83d\ude00" + "x" * LARGE_MESSAGE
    stack = await _reply(control, {"type": "request", "seq": 50, "command": "stackTrace",
                                   "arguments": {"threadId": thread, "pad": PAD}})
    assert stack["success"], stack
    frame_id = stack["body"]["stackFrames"][0]["id"]
    evaluated = await _reply(control, {
        "type": "request", "seq": 51, "command": "evaluate",
        "arguments": {"expression": f"len({text!r})", "frameId": frame_id}})
    assert evaluated["success"], evaluated
    assert evaluated["body"]["result"] == str(len(text))
    helper = manager.large_messages.pid
    assert helper is not None

    # What the mux refuses, it refuses in the same words (but for the seq).
    observer = await tunnel(session.id, role="observe")
    await observer.join()
    large_and_small = [
        (observer, "evaluate", {"expression": "1", "frameId": frame_id}),
        (observer, "disconnect", {"terminateDebuggee": True}),
        (control, "threads", "not an object"),
        (control, "stackTrace", {"threadId": "one"}),
    ]
    for client, command, arguments in large_and_small:
        small = await _reply(client, {"type": "request", "seq": 60, "command": command,
                                      "arguments": arguments})
        padded = ({**arguments, "pad": PAD} if isinstance(arguments, dict)
                  else arguments + PAD)
        large = await _reply(client, {"type": "request", "seq": 61, "command": command,
                                      "arguments": padded})
        assert not small["success"] and not large["success"], (small, large)
        if isinstance(arguments, dict):
            assert large["message"] == small["message"]
        else:  # the sentence shows the arguments' start
            assert large["message"].split(" (")[0] == small["message"].split(" (")[0]
    # The mux merges breakpoints: it does not take them large.
    refused = await _reply(control, {
        "type": "request", "seq": 70, "command": "setBreakpoints",
        "arguments": {"source": {"path": str(session.spec.program)},
                      "breakpoints": [{"line": BREAK_LINE, "condition": "1 or " + PAD}]}})
    assert not refused["success"]
    assert "merges with other clients' breakpoints" in refused["message"]
    assert f"under {LARGE_MESSAGE} bytes" in refused["message"]
    # A large message that is no request is read and ignored, as a small one.
    control.conn.write_message(json.dumps({"type": "event", "seq": 80, "event": "x",
                                           "body": PAD}))
    assert (await control.body("threads"))["threads"]
    assert manager.large_messages.pid == helper  # one helper, reused
    assert session.state == "stopped"


@pytest.mark.usefixtures("targets")
async def test_malformed_large_frames_are_refused_as_small_ones_and_all_else_goes_on(
        api: Any, manager: Any, tunnel: Any) -> None:
    session = await _stopped_session(api, manager)
    blank = " " * (LARGE_MESSAGE + 10)
    request = '{"type": "request", "seq": 1, "command": "threads", "arguments": '
    pairs: list[tuple[str | bytes, str | bytes, bool]] = [
        ("not json", "not json" + blank, False),  # bad JSON
        ("[1]", "[1" + ", 1" * (LARGE_MESSAGE // 3 + 10) + "]", False),  # not an object
        ("[" * 100_000, request + "[" * 600 + "]" * 600 + "}" + blank, False),  # too deep
        ('{"type": "request", "seq": 1, "command": "x", "a": NaN}',
         '{"type": "request", "seq": 1, "command": "x", "a": NaN}' + blank, False),
        (b'"\xff"', b'"\xff"' + blank.encode(), False),  # not UTF-8
        (b'"\xed\xa0\x80"', b'"\xed\xa0\x80"' + blank.encode(), False),  # a lone surrogate
        (b"\x00\x01", b"\x00\x01" * LARGE_MESSAGE, True),  # binary
        ('{"type": "request", "seq": -1, "command": "threads"}',  # an unusable seq
         '{"type": "request", "seq": -1, "command": "threads"}' + blank, False),
    ]
    for small, large, binary in pairs:
        small_close = await _closed(await tunnel(session.id), small, binary=binary)
        large_close = await _closed(await tunnel(session.id), large, binary=binary)
        assert small_close[0] in (1003, 1007), small_close
        assert large_close == small_close, (small[:20], large_close)

    # Over max_dap_message: a request is answered, anything else closes 1009; beyond the
    # frame headroom (1 MiB more) websockets closes 1009 before reading it.
    client = await tunnel(session.id)
    over = await _reply(client, {"type": "request", "seq": 5, "command": "threads",
                                 "arguments": {"pad": "q" * MAX_DAP}})
    assert not over["success"]
    assert f"exceeds the limit of {MAX_DAP} bytes" in over["message"]
    assert (await client.body("threads"))["threads"]
    code, reason = await _closed(client, json.dumps({"type": "event", "seq": 6, "event": "x",
                                                     "body": "q" * MAX_DAP}))
    assert code == 1009 and "max_dap_message" in reason
    code, _ = await _closed(await tunnel(session.id), "r" * (MAX_DAP + LARGE_MESSAGE + 1))
    assert code == 1009

    # The session, the server and the helper carry on.
    helper = manager.large_messages.pid
    assert helper is not None
    client = await tunnel(session.id)
    await client.join()
    reply = await _reply(client, {"type": "request", "seq": 9, "command": "threads",
                                  "arguments": {"pad": PAD}})
    assert reply["success"] and reply["body"]["threads"], reply
    assert manager.large_messages.pid == helper
    assert session.state == "stopped"
