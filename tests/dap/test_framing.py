"""Pure protocol tests: framing and the channel over in-memory streams."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest

from jupyter_debug_server.dap import (
    ChannelClosed,
    DapChannel,
    DapRequestError,
    DapTimeout,
    FrameDecoder,
    FramingError,
    encode,
    framing,
)
from jupyter_debug_server.dap.framing import from_json, to_json

_VALUES: list[Any] = [
    {"seq": 1, "type": "event", "event": "output",
     "body": {"output": 'é ☃ \u2028 "q" \\ \x00 \ud83d\ude00'}},
    {"n": [1, 2.5, -0.0, 1e300, -1e-300, True, False, None], "e": {}},
    {1: "int key", 2.5: "float key", None: "null key"},
    "text", 7, [], None,
]


@pytest.fixture
def codec() -> str:
    """The one JSON path framing has: the public `json` API (bench/json_codec.py measured
    CPython's private C entry points as under 1 % of a step, so they are gone)."""
    assert not hasattr(framing, "_C_ENCODE") and not hasattr(framing, "_C_SCAN")
    return "public"


@pytest.mark.parametrize("value", _VALUES)
def test_to_json_writes_what_compact_json_dumps_writes(codec: str, value: Any) -> None:
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        expected.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: only escapes make it UTF-8
        expected = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    assert to_json(value) == expected


@pytest.mark.parametrize("text", ["main-\udc80", "\ud800", "é and \udfff", "\ude00\ud83d"])
def test_a_lone_surrogate_is_written_as_a_json_escape(codec: str, text: str) -> None:
    """Finding 4 of issue 11: a thread named "main-\\udc80" made encode() raise."""
    message = {"seq": 1, "type": "response", "request_seq": 1, "success": True,
               "command": "threads", "body": {"threads": [{"id": 1, "name": text}]}}
    out = to_json(message)
    out.encode("utf-8")  # always valid UTF-8
    assert json.loads(out) == message
    data = encode(message)
    header, _, body = data.partition(b"\r\n\r\n")
    assert header == b"Content-Length: %d" % len(body)
    assert b"\\u" in body and json.loads(body) == message


def test_to_json_keeps_its_fast_path_for_utf8_text(codec: str) -> None:
    # Valid text is written as is (not escaped): the fallback runs only for surrogates.
    assert to_json({"k": "é☃"}) == '{"k":"é☃"}'
    assert encode({"k": "é"}).endswith('{"k":"é"}'.encode())


def test_to_json_refuses_what_json_refuses(codec: str) -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        to_json({"x": object()})


@pytest.mark.parametrize("text", [
    '{"a":1}', ' {"a": [1, 2]} \n', '"s"', "[]", "1e308", '{"k":"é\\u00e9"}',
    '{"k":"\u00e9"}'.encode(), b'\t[1]',
])
def test_from_json_reads_what_json_loads_reads(codec: str, text: str | bytes) -> None:
    expected, got = json.loads(text), from_json(text)
    assert json.dumps(got) == json.dumps(expected)  # (NaN != NaN, its text is equal)


@pytest.mark.parametrize(("text", "words"), [
    ('{"a":1} x', "Extra data: line 1 column 9"),
    ('{"a":', "Expecting value: line 1 column 6"),
    ("", "Expecting value: line 1 column 1"),
    ('{"a" 1}', "Expecting ':' delimiter"),
    (b'{"a":"\xff"}', "can't decode byte 0xff"),
])
def test_from_json_errors_say_what_json_loads_says(codec: str, text: str | bytes,
                                                   words: str) -> None:
    with pytest.raises(ValueError, match=words):
        from_json(text)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_to_json_refuses_numbers_json_has_not(codec: str, value: float) -> None:
    """Found by the hardening fuzz (issue 11): `Infinity` was relayed to pydevd, which
    dropped its connection. Such a message cannot be sent: ValueError."""
    with pytest.raises(ValueError, match="Out of range float values"):
        to_json({"seq": 1, "type": "request", "command": "stackTrace",
                 "arguments": {"threadId": 1, "levels": value}})
    with pytest.raises(ValueError, match="Out of range float values"):
        encode({"x": [value]})


@pytest.mark.parametrize(("text", "words"), [
    ('{"levels": NaN}', "NaN is not a JSON value"),
    ('{"levels": Infinity}', "Infinity is not a JSON value"),
    ('[-Infinity]', "-Infinity is not a JSON value"),
    (' {"threadId": 1e400} ', "the number 1e400 is too large"),
    ('[-1.5e999]', "the number -1.5e999 is too large"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"a":' * 5000 + "1" + "}" * 5000, "nested too deeply"),
])
def test_from_json_refuses_what_is_not_json(codec: str, text: str, words: str) -> None:
    """Found by the hardening fuzz (issue 11): NaN/Infinity/1e400 were read (and relayed
    as `Infinity`), and deep nesting raised RecursionError past every ValueError path
    (the standalone lldb worker hung)."""
    with pytest.raises(ValueError, match=words):
        from_json(text)
    with pytest.raises(FramingError, match="not valid JSON"):
        FrameDecoder().feed(b"Content-Length: %d\r\n\r\n%b" % (len(text), text.encode()))


def test_encode_is_one_buffer_with_exact_length() -> None:
    data = encode({"seq": 1, "type": "event", "event": "output", "body": {"output": "é"}})
    header, _, body = data.partition(b"\r\n\r\n")
    assert header == b"Content-Length: %d" % len(body)
    assert "é".encode() in body


def test_decoder_handles_split_and_coalesced_frames() -> None:
    messages = [{"seq": i, "type": "event", "event": f"e{i}"} for i in range(1, 4)]
    stream = b"".join(encode(m) for m in messages)
    decoder = FrameDecoder()
    out: list[dict[str, Any]] = []
    for i in range(len(stream)):  # one byte at a time
        out.extend(decoder.feed(stream[i:i + 1]))
    assert out == messages
    assert FrameDecoder().feed(stream) == messages


def test_reads_that_end_anywhere_give_the_same_messages() -> None:
    messages = [{"seq": i, "type": "event", "event": "output", "body": {"output": "é" * i}}
                for i in range(1, 6)]
    stream = b"".join(encode(m) for m in messages)
    # Other header lines, in any case, around Content-Length (DAP allows them).
    body = b'{"seq":6,"type":"event","event":"x"}'
    stream += b"X-Other: 1\r\ncontent-length:  %d \r\n\r\n%b" % (len(body), body)
    expected = [*messages, {"seq": 6, "type": "event", "event": "x"}]
    for cut in range(len(stream) + 1):  # two reads, split at every byte
        decoder = FrameDecoder()
        assert decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) == expected, cut


@pytest.mark.parametrize(("data", "words"), [
    (b"Content-Length: x\r\n\r\n", "not a number"),
    (b"Nope\r\n\r\n", "malformed"),
    (b"X-Other: 1\r\n\r\n", "no Content-Length"),
    (b"Content-Length: 99999999999\r\n\r\n", "exceeds the limit"),
    (b"Content-Length: 3\r\n\r\n[1]", "JSON object"),
    (b"Content-Length: 2\r\n\r\n{]", "not valid JSON"),
    (b'Content-Length: 15\r\n\r\n{"type":"what"}', "'what'"),
    (b"A" * 5000, "4096 bytes"),
])
def test_decoder_rejects_malformed_input_with_a_reason(data: bytes, words: str) -> None:
    with pytest.raises(FramingError, match=words):
        FrameDecoder().feed(data)


# What a browser writes for a no-cors fetch() to the forward's port (cut short: the
# request line alone decides), with a cookie that must not show up in an error.
_BROWSER = (b"POST /x:y HTTP/1.1\r\nHost: 127.0.0.1:40123\r\nContent-Length: 2\r\n"
            b"Cookie: username-127-0-0-1-8888=\"2|SECRET-COOKIE\"\r\n"
            b"Content-Type: text/plain;charset=UTF-8\r\n\r\n{}")
_BODY = b'{"seq":1,"type":"request","command":"initialize"}'
_NOT_STRICT = [
    _BROWSER,
    b"content-length: %d\r\n\r\n%b" % (len(_BODY), _BODY),  # lower case
    b"Content-Length:  %d\r\n\r\n%b" % (len(_BODY), _BODY),  # two spaces
    b"Content-Length: %d \r\n\r\n%b" % (len(_BODY), _BODY),  # a trailing blank
    b"Content-Length: %d\r\nX-Other: 1\r\n\r\n%b" % (len(_BODY), _BODY),  # an extra line
    b"X-Other: 1\r\nContent-Length: %d\r\n\r\n%b" % (len(_BODY), _BODY),
    b"Content-Length: -%d\r\n\r\n%b" % (len(_BODY), _BODY),  # negative
    b"Content-Length: +%d\r\n\r\n%b" % (len(_BODY), _BODY),
    b"Content-Length: 99999999999999999999\r\n\r\n%b" % _BODY,  # huge (20 digits)
    b"Content-Length: 000000000%d\r\n\r\n%b" % (len(_BODY), _BODY),  # 11 digits
    b"Content-Length: \xd9\xa4\xd9\xa8\r\n\r\n%b" % _BODY,  # Arabic-Indic digits
    b"Content-Length: %d\n\n%b" % (len(_BODY), _BODY),  # bare line feeds
    b"Content-Length: \r\n\r\n%b" % _BODY,  # no digits
    b"\r\nContent-Length: %d\r\n\r\n%b" % (len(_BODY), _BODY),  # a leading blank line
    b"GET / HTTP/1.1\r\n\r\n",
]


def test_strict_decoder_takes_every_split_of_plain_dap() -> None:
    messages = [{"seq": i, "type": "request", "command": "c", "arguments": {"x": "é" * i}}
                for i in range(1, 5)]
    stream = b"".join(encode(m) for m in messages)
    for cut in range(len(stream) + 1):  # two reads, split at every byte
        decoder = FrameDecoder(strict=True)
        assert decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) == messages, cut
    # Ten digits is the most it takes (leading zeros included).
    ten = b'Content-Length: 00000000%d\r\n\r\n{"seq":1,"type":"event","event":"e"}' % 36
    assert FrameDecoder(strict=True).feed(ten) == [{"seq": 1, "type": "event", "event": "e"}]


@pytest.mark.parametrize("data", _NOT_STRICT)
def test_strict_decoder_refuses_at_every_split_before_a_body(data: bytes) -> None:
    for cut in range(len(data) + 1):
        decoder = FrameDecoder(strict=True)
        with pytest.raises(FramingError) as refused:
            assert decoder.feed_bodies(data[:cut]) == [], cut  # nothing before the refusal
            decoder.feed_bodies(data[cut:])
        assert b"SECRET" not in str(refused.value).encode(), refused.value
        assert "SECRET" not in repr(refused.value)


@pytest.mark.parametrize("data", [_NOT_STRICT[i] for i in (1, 2, 3, 4, 5, 7, 9)])
def test_the_worker_channel_stays_lenient(data: bytes) -> None:
    # What strict framing refuses but DAP's own framing allows (other header lines,
    # any case, blanks, a sign, leading zeros): the lenient default still takes it.
    assert FrameDecoder().feed(data) == [json.loads(_BODY)]


@pytest.mark.parametrize("data", [
    b"POST /x:y HTTP/1.1\r\nContent-Length: %d\r\n\r\n%b" % (len(_BODY), _BODY),
    b"GET /a:b HTTP/1.1\r\nHost: 127.0.0.1:4711\r\nContent-Length: %d\r\n\r\n%b"
    % (len(_BODY), _BODY),
    b"Content Length: %d\r\n\r\n%b" % (len(_BODY), _BODY),
])
def test_the_lenient_decoder_takes_no_http_request_line(data: bytes) -> None:
    # Found by the frame fuzzer on a worker's stdio: a request line has a colon (in its
    # path) and passed as a header; a field name is a token, without spaces or slashes.
    with pytest.raises(FramingError, match="malformed DAP header line"):
        FrameDecoder().feed(data)


@pytest.mark.parametrize(("start", "words"), [
    (b"P", "not exactly 'Content-Length: N'"),
    (b"POST /x:y HTTP/1.1\r\n", "nothing like an HTTP request"),
    (b"Content-length", "not exactly"),
    (b"Content-Length: 12345678901", "more than 10 digits"),
    (b"Content-Length: \r", "no digits"),
    (b"Content-Length: 12\r\n\r\n{}Content-Length: 1x", "not exactly"),
])
def test_strict_decoder_refuses_at_the_first_wrong_byte(start: bytes, words: str) -> None:
    # No need to wait for a header's end: a browser's request line is refused at once.
    with pytest.raises(FramingError, match=words):
        FrameDecoder(strict=True).feed_bodies(start)


def test_strict_decoder_keeps_the_size_limit() -> None:
    with pytest.raises(FramingError, match="exceeds the limit of 100 bytes"):
        FrameDecoder(100, strict=True).feed_bodies(b"Content-Length: 101\r\n\r\n")
    assert FrameDecoder(100, strict=True).feed_bodies(b"Content-Length: 0\r\n\r\n") == [b""]


async def _pair() -> tuple[DapChannel, DapChannel]:
    a, b = socket.socketpair()
    return (await DapChannel.from_socket(a, name="a"), await DapChannel.from_socket(b, name="b"))


def test_request_response_events_and_close() -> None:
    async def scenario() -> None:
        client, server = await _pair()
        seen: list[str] = []

        def on_request(message: dict[str, Any]) -> None:
            if message["command"] == "fail":
                server.send_response(message, success=False, message="no such thing")
            else:
                server.send_event("before", {})
                server.send_response(message, body={"echo": message["arguments"]})

        server.on_request = on_request
        client.on_event = lambda e: seen.append(e["event"])
        client.start()
        server.start()
        assert await client.request("echo", {"x": 1}) == {"echo": {"x": 1}}
        assert seen == ["before"]  # the event sent first arrived first
        with pytest.raises(DapRequestError, match="no such thing"):
            await client.request("fail")
        # The peer hangs up on receiving the request: the caller must not wait forever.
        server.on_request = lambda m: server.close("bye")
        with pytest.raises(ChannelClosed):
            await asyncio.wait_for(client.request("never"), 10)
        assert client.is_closed

    asyncio.run(scenario())


def test_an_answer_that_cannot_be_written_still_answers_the_requester() -> None:
    """Finding 4 of issue 11: a body that could not be encoded was swallowed, and the
    requester waited forever. Now: a lone surrogate is escaped, and a body that is not
    JSON at all (a bug) becomes an error response that says so."""
    async def scenario() -> None:
        client, server = await _pair()

        def on_request(message: dict[str, Any]) -> None:
            if message["command"] == "threads":
                server.send_response(message, body={"threads": [{"id": 1,
                                                                 "name": "main-\udc80"}]})
            else:
                server.send_response(message, body={"value": object()})

        server.on_request = on_request
        client.start()
        server.start()
        body = await asyncio.wait_for(client.request("threads"), 10)
        assert body == {"threads": [{"id": 1, "name": "main-\udc80"}]}
        with pytest.raises(DapRequestError, match="'evaluate' could not be encoded"):
            await asyncio.wait_for(client.request("evaluate"), 10)
        assert not client.is_closed and not server.is_closed

    asyncio.run(scenario())


def test_a_request_without_an_answer_times_out_and_the_channel_goes_on() -> None:
    async def scenario() -> None:
        client, server = await _pair()
        unanswered: list[dict[str, Any]] = []

        def on_request(message: dict[str, Any]) -> None:
            if message["command"] == "hang":
                unanswered.append(message)
            else:
                server.send_response(message, body={})

        server.on_request = on_request
        client.start()
        server.start()
        with pytest.raises(DapTimeout, match=r"did not answer 'hang' within 0\.2 s"):
            await client.request("hang", timeout=0.2)
        # A late answer is dropped; the next request is answered as usual.
        server.send_response(unanswered[0], body={"late": True})
        assert await asyncio.wait_for(client.request("next", timeout=10), 10) == {}
        assert not client.is_closed

    asyncio.run(scenario())


def test_garbage_from_the_peer_closes_the_channel_with_the_reason() -> None:
    async def scenario() -> None:
        a, b = socket.socketpair()
        channel = await DapChannel.from_socket(a, name="victim")
        channel.start()
        b.sendall(b"Content-Length: nope\r\n\r\n")
        why = await asyncio.wait_for(channel.wait_closed(), 10)
        assert "not a number" in why
        b.close()

    asyncio.run(scenario())
