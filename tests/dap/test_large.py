"""Large DAP messages (dap/large.py): the helper's checks say what the small path says, in
the same words; where large arguments lie in the client's bytes; the helper process
(started on first use, reused, restarted); a raw request on a real channel
(dap/channel.py send_raw_request)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from jupyter_debug_server.dap import DapChannel, FrameDecoder
from jupyter_debug_server.dap.arguments import argument_error
from jupyter_debug_server.dap.framing import TOO_DEEP, check_message, from_json
from jupyter_debug_server.dap.large import (
    MAX_COMMAND,
    MAX_DEPTH,
    SMALL_ARGUMENTS,
    HelperFailed,
    LargeMessages,
    inspect,
    pieces,
)

pytestmark = pytest.mark.timeout(60)
BIG = "x" * (SMALL_ARGUMENTS + 100)


def _small_path(text: str) -> str | None:
    """What the tunnel's small path refuses a frame for (its words), or None."""
    try:
        check_message(from_json(text))
    except ValueError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("text", [
    "not json", "", "[1, 2]", '{"type": "request"}', '{"type": "reply", "seq": 1}',
    '{"type": "request", "seq": "1", "command": "threads"}',
    '{"type": "request", "seq": 1, "command": 5}', '{"type": "event", "seq": 1}',
    '{"type": "request", "seq": 1, "command": "x", "arguments": NaN}',
    '{"type": "request", "seq": 1, "command": "x", "arguments": 1e400}',
    '{"type": "request", "seq": 1, "command": "x"} trailing',
    '{"type": "request", "seq": 1, "command": "x", "arguments": ' + "[" * 100_000,
    '\ufeff{"type": "request", "seq": 1, "command": "x"}',
])
def test_malformed_messages_are_refused_in_the_small_paths_words(text: str) -> None:
    refused = _small_path(text)
    assert refused is not None
    assert inspect(text.encode()) == {"refused": refused}


def test_text_that_is_not_utf8_is_told_apart() -> None:
    assert inspect(b'{"type": "request", "seq": 1, "command": "\xff"}') == {"not_utf8": True}
    # A lone surrogate as UTF-8 bytes is not UTF-8; as a JSON escape it is text.
    assert inspect('{"a": "\ud800"}'.encode(errors="surrogatepass")) == {"not_utf8": True}
    escaped = inspect(b'{"type": "request", "seq": 1, "command": "\\ud800"}')
    assert escaped == {"message": {"type": "request", "seq": 1, "command": "\ud800"}}


def test_nesting_is_bounded_whatever_the_recursion_limit() -> None:
    def nested(depth: int) -> bytes:
        return (b'{"type": "request", "seq": 1, "command": "x", "arguments": {"a": '
                + b"[" * (depth - 2) + b"]" * (depth - 2) + b"}}")

    assert "message" in inspect(nested(MAX_DEPTH))  # the message itself is one level
    assert inspect(nested(MAX_DEPTH + 1)) == {"refused": TOO_DEEP}


def test_the_envelope_of_what_the_mux_reads_comes_back() -> None:
    assert inspect(b'{"type": "event", "seq": 7, "event": "x", "body": {}}') == {
        "message": {"type": "event", "seq": 7}}
    assert inspect(b'{"type": "request", "command": "threads"}') == {
        "message": {"type": "request", "command": "threads"}}  # no seq: the mux's 0
    small = {"type": "request", "seq": 2, "command": "evaluate",
             "arguments": {"expression": "1", "frameId": 3}, "pad": BIG}
    assert inspect(json.dumps(small).encode()) == {"message": {
        "type": "request", "seq": 2, "command": "evaluate", "arguments": small["arguments"]}}
    long_command = json.dumps({"type": "request", "seq": 1, "command": "c" * (MAX_COMMAND + 1)})
    assert inspect(long_command.encode()) == {
        "unreadable": f"its command name has {MAX_COMMAND + 1} characters (at most "
                      f"{MAX_COMMAND} are read)"}


@pytest.mark.parametrize("layout", [
    '{{"type":"request","seq":4,"command":"evaluate","arguments":{args}}}',
    ' {{ "arguments" : [1] , "seq" : 4 ,\n\t"type" : "request", "command" : "evaluate",\r\n'
    '  "argu\\u006dents" :  {args}  }} ',  # the last one counts, escaped key and all
])
def test_large_arguments_are_where_they_lie_in_the_clients_bytes(layout: str) -> None:
    arguments = ('{"expression": "\\u00e9\\ud800 é ' + BIG + '", "frameId": 2,'
                 ' "context": "repl", "format": {"hex": true}, "flag": true, "none": null,'
                 ' "long": "' + "y" * 2000 + '"}')
    data = layout.format(args=arguments).encode()
    found = inspect(data)
    start, end = found["raw"]
    assert data[start:end].decode() == arguments  # byte offsets, past the "é"
    assert found["message"] == {"type": "request", "seq": 4, "command": "evaluate",
                                "arguments": {"frameId": 2, "context": "repl",
                                              "flag": True, "none": None}}
    assert found["wrong"] is None


def test_what_argument_error_says_of_large_arguments_is_kept() -> None:
    for command, arguments in (("threads", BIG), ("setBreakpoints", {"source": BIG}),
                               ("cancel", {"requestId": "1", "pad": BIG})):
        message = {"type": "request", "seq": 1, "command": command, "arguments": arguments}
        found = inspect(json.dumps(message).encode())
        assert found["wrong"] == argument_error(command, arguments) is not None


def test_pieces_cut_only_the_first_and_the_last_chunk() -> None:
    chunks = [b"abc", b"defg", b"hi"]
    joined = b"".join(chunks)
    for start in range(len(joined)):
        for end in range(start, len(joined) + 1):
            got = pieces(chunks, start, end)
            assert b"".join(got) == joined[start:end]
            assert all(piece for piece in got)
    assert pieces(chunks, 2, 8)[1] is chunks[1]


# -- the helper process ------------------------------------------------------------------

@contextlib.asynccontextmanager
async def _helper() -> AsyncIterator[LargeMessages]:
    async def command() -> Sequence[str]:
        return [sys.executable, "-I", "-m", "jupyter_debug_server.dap.large"]

    messages = LargeMessages(command, cwd="/", environment=lambda: dict(os.environ))
    try:
        yield messages
    finally:
        await messages.close()


def _chunks(message: dict[str, Any], size: int = 65536) -> tuple[list[bytes], int]:
    data = json.dumps(message).encode()
    return [data[at:at + size] for at in range(0, len(data), size)], len(data)


async def test_the_helper_is_started_once_and_keeps_serving_after_bad_input() -> None:
    async with _helper() as helper:
        assert helper.pid is None  # started on first use
        message = {"type": "request", "seq": 9, "command": "evaluate",
                   "arguments": {"expression": BIG, "frameId": 1}}
        chunks, size = _chunks(message)
        found = await helper.inspect(chunks, size)
        pid = helper.pid
        assert pid is not None
        # Background work: the server, serving every session, goes first.
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(
            os.getpriority(os.PRIO_PROCESS, 0) + 10, 19)
        assert found.message == {"type": "request", "seq": 9, "command": "evaluate",
                                 "arguments": {"frameId": 1}}
        assert found.raw is not None and found.raw.wrong is None
        assert from_json(b"".join(found.raw.pieces)) == message["arguments"]
        assert found.raw.size == len(b"".join(found.raw.pieces))
        for bad, what in ((b"[" * 200_000, "refused"), (b"\xff" * 10, "not_utf8")):
            result = await helper.inspect([bad], len(bad))
            assert getattr(result, what) and result.message is None
        assert (await helper.inspect(chunks, size)).message == found.message
        assert helper.pid == pid


async def test_a_helper_that_died_is_started_again() -> None:
    async with _helper() as helper:
        chunks, size = _chunks({"type": "request", "seq": 1, "command": "threads"})
        await helper.inspect(chunks, size)
        first = helper.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        try:
            found = await helper.inspect(chunks, size)
        except HelperFailed:  # it died under our feet: the next one is a new helper
            found = await helper.inspect(chunks, size)
        assert found.message == {"type": "request", "seq": 1, "command": "threads"}
        assert helper.pid not in (None, first)


async def test_closing_stops_the_helper() -> None:
    async with _helper() as helper:
        chunks, size = _chunks({"type": "request", "seq": 1, "command": "threads"})
        await helper.inspect(chunks, size)
        pid = helper.pid
        await helper.close()
        assert helper.pid is None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # (reaped: asyncio waited for it)
        with pytest.raises(HelperFailed, match="shutting down"):
            await helper.inspect(chunks, size)


# -- a raw request on a real channel ------------------------------------------------------

async def test_a_raw_request_goes_in_order_with_its_own_seq_and_its_answer_routed() -> None:
    ours, theirs = socket.socketpair()
    channel = await DapChannel.from_socket(ours, name="raw")
    channel.start()
    answers: list[dict[str, Any]] = []
    all_answered = asyncio.Event()

    def answered(response: dict[str, Any]) -> None:
        answers.append(response)
        if len(answers) == 3:
            all_answered.set()

    arguments = json.dumps({"expression": "é" + "z" * 3_000_000}).encode()
    parts = [arguments[at:at + 65536] for at in range(0, len(arguments), 65536)]
    first = channel.send_request("threads", None, answered)
    raw = channel.send_raw_request("evaluate", parts, answered)
    after = channel.send_request("stackTrace", {"threadId": 1}, answered)
    assert (first, raw, after) == (1, 2, 3)

    def peer() -> list[dict[str, Any]]:
        """The far end: read the three requests (blocking), answer them in reverse."""
        decoder = FrameDecoder()
        got: list[dict[str, Any]] = []
        while len(got) < 3:
            got += decoder.feed(theirs.recv(1 << 20))
        for request in reversed(got):
            body = json.dumps({"type": "response", "request_seq": request["seq"],
                               "success": True, "command": request["command"]}).encode()
            theirs.sendall(b"Content-Length: %d\r\n\r\n%b" % (len(body), body))
        return got

    try:
        got = await asyncio.wait_for(asyncio.to_thread(peer), 30)
        assert [(m["seq"], m["command"]) for m in got] == [
            (1, "threads"), (2, "evaluate"), (3, "stackTrace")]
        assert got[1] == {"type": "request", "seq": 2, "command": "evaluate",
                          "arguments": json.loads(arguments)}
        await asyncio.wait_for(all_answered.wait(), 30)
        assert [a["command"] for a in answers] == ["stackTrace", "evaluate", "threads"]
    finally:
        channel.close()
        theirs.close()
