"""The adapters' request registry and dispatch (runner/debuggers/registry.py, base.py) on
in-memory sockets: arguments arrive as keyword parameters, the return value is the
response body, and deferred answers are declared rather than sent by hand."""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from jupyter_debug_server.dap import DapChannel
from jupyter_debug_server.dap.framing import FrameDecoder, encode
from jupyter_debug_server.runner.debuggers.base import AdapterBase
from jupyter_debug_server.runner.debuggers.registry import (
    AdapterError,
    Answer,
    Registry,
    request,
)

pytestmark = pytest.mark.timeout(30)

Message = dict[str, Any]
_DEADLINE = 10.0


class Probe(AdapterBase):
    """An adapter with this module's handlers and a switch the tests pull."""

    def __init__(self, client: DapChannel) -> None:
        super().__init__(client, argparse.Namespace(), REQUESTS)
        self.release = asyncio.get_running_loop().create_future()
        self.fail_start_after_release = False


@request("echo", capability="supportsEcho")
async def echo(adapter: Probe, *, threadId: int,
               granularity: str = "statement") -> dict[str, Any]:
    return {"threadId": threadId, "granularity": granularity}


@request("everything")
async def everything(adapter: Probe, **arguments: Any) -> dict[str, Any]:
    return {"seen": sorted(arguments)}


@request("start", answered_by="configurationDone")
async def start(adapter: Probe, *, refuse: bool = False) -> None:
    if refuse:
        raise AdapterError("this start is refused")
    await adapter.release
    if adapter.fail_start_after_release:
        raise AdapterError("the start failed after its answer")


@request("configurationDone")
async def configuration_done(adapter: Probe, *, fail: bool = False) -> Answer:
    if not adapter.awaits("configurationDone"):
        raise AdapterError("'configurationDone' is only valid after 'start'")
    if fail:
        raise AdapterError("the configuration failed")
    return Answer(after=lambda: adapter.client.send_event("afterConfiguration"))


@request("step", events_after_response=True)
async def step(adapter: Probe) -> None:
    adapter.send_event("stopped", {"reason": "step"})  # caused by the step: after it


REQUESTS: Registry[Probe] = Registry({"supportsBase": True}, [sys.modules[__name__]])


class RawClient:
    """A DAP client that keeps every message it receives, in order."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.messages: list[Message] = []
        self._decoder = FrameDecoder()
        self._seq = 0

    def send(self, command: str, arguments: Any = None) -> int:
        self._seq += 1
        message: Message = {"seq": self._seq, "type": "request", "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        self.sock.sendall(encode(message))
        return self._seq

    async def until(self, done: Callable[[list[Message]], bool]) -> list[Message]:
        """Read until `done(messages)` holds (or fail at the deadline)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _DEADLINE
        while not done(self.messages):
            remaining = deadline - loop.time()
            assert remaining > 0, f"timed out; received {self.messages}"
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), remaining)
            assert data, f"the adapter closed the channel; received {self.messages}"
            self.messages.extend(self._decoder.feed(data))
        return self.messages

    def responses(self, seq: int) -> list[Message]:
        return [m for m in self.messages
                if m["type"] == "response" and m["request_seq"] == seq]


def run(scenario: Callable[[RawClient, Probe], Awaitable[None]]) -> None:
    async def main() -> None:
        ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        channel = await DapChannel.from_socket(ours, name="adapter")
        adapter = Probe(channel)
        channel.on_request = adapter.on_request
        channel.start()
        try:
            await scenario(RawClient(theirs), adapter)
        finally:
            channel.close()
            theirs.close()

    asyncio.run(main())


def answered(*seqs: int) -> Callable[[list[Message]], bool]:
    return lambda messages: all(
        any(m["type"] == "response" and m["request_seq"] == s for m in messages)
        for s in seqs)


def test_arguments_arrive_as_keywords_and_the_return_value_is_the_body() -> None:
    async def scenario(client: RawClient, adapter: Probe) -> None:
        plain = client.send("echo", {"threadId": 7})
        extra = client.send("echo", {"threadId": 8, "granularity": "instruction",
                                     "someExtension": [1, 2]})
        everything = client.send("everything", {"a": 1, "b": None})
        await client.until(answered(plain, extra, everything))
        assert client.responses(plain)[0]["body"] == {"threadId": 7,
                                                      "granularity": "statement"}
        # An argument the handler does not name is ignored, not an error.
        response = client.responses(extra)[0]
        assert response["success"], response
        assert response["body"] == {"threadId": 8, "granularity": "instruction"}
        assert client.responses(everything)[0]["body"] == {"seen": ["a", "b"]}

    run(scenario)


def test_a_missing_required_argument_is_answered_with_its_name() -> None:
    async def scenario(client: RawClient, adapter: Probe) -> None:
        missing = client.send("echo", {"granularity": "line"})
        null = client.send("echo", {"threadId": None})
        await client.until(answered(missing, null))
        for seq in (missing, null):
            response = client.responses(seq)[0]
            assert not response["success"]
            assert response["message"] == "'echo' needs the argument 'threadId'"

    run(scenario)


def test_capabilities_come_with_their_handlers() -> None:
    assert REQUESTS.capabilities == {"supportsBase": True, "supportsEcho": True}
    with pytest.raises(ValueError, match="two handlers for DAP command 'echo'"):
        Registry({}, [sys.modules[__name__], sys.modules[__name__]])


def test_a_handler_taking_arguments_by_position_is_refused_at_declaration() -> None:
    async def wrong(adapter: Probe, threadId: int) -> None:
        del adapter, threadId

    with pytest.raises(TypeError, match=r"the handler of 'next' takes \['threadId'\]"):
        request("next")(wrong)


def test_a_start_is_answered_right_after_configuration_done_with_its_outcome() -> None:
    """debugpy's rule, declared: `launch`/`attach` are answered once `configurationDone`
    is, even while the start's handler still runs."""
    async def scenario(client: RawClient, adapter: Probe) -> None:
        begun = client.send("start")
        done = client.send("configurationDone")
        await client.until(answered(begun, done))
        kinds = [m.get("request_seq", m.get("event")) for m in client.messages]
        assert kinds == [done, begun, "afterConfiguration"], client.messages
        assert client.responses(begun)[0]["success"]
        assert not adapter.release.done()  # the start's handler is still at work
        adapter.release.set_result(None)

    run(scenario)


def test_a_failed_configuration_fails_the_start_too() -> None:
    async def scenario(client: RawClient, adapter: Probe) -> None:
        begun = client.send("start")
        done = client.send("configurationDone", {"fail": True})
        await client.until(answered(begun, done))
        for seq in (done, begun):
            response = client.responses(seq)[0]
            assert not response["success"]
            assert response["message"] == "the configuration failed"
        adapter.release.set_result(None)

    run(scenario)


def test_a_start_that_fails_before_configuration_is_answered_alone() -> None:
    async def scenario(client: RawClient, adapter: Probe) -> None:
        begun = client.send("start", {"refuse": True})
        await client.until(answered(begun))
        assert client.responses(begun)[0]["message"] == "this start is refused"
        done = client.send("configurationDone")
        await client.until(answered(done))
        assert client.responses(done)[0]["message"] == (
            "'configurationDone' is only valid after 'start'")
        assert len(client.responses(begun)) == 1

    run(scenario)


def test_a_start_answered_by_configuration_done_is_never_answered_twice() -> None:
    """Before the registry declared it, debugpy's `launch` whose handshake failed after
    `configurationDone` had answered it got a second (error) response."""
    async def scenario(client: RawClient, adapter: Probe) -> None:
        adapter.fail_start_after_release = True
        begun = client.send("start")
        done = client.send("configurationDone")
        await client.until(answered(begun, done))
        adapter.release.set_result(None)
        await asyncio.wait_for(asyncio.gather(*adapter.requests), _DEADLINE)
        marker = client.send("echo", {"threadId": 1})  # everything before it has arrived
        await client.until(answered(marker))
        assert len(client.responses(begun)) == 1, client.messages
        assert client.responses(begun)[0]["success"]

    run(scenario)


def test_events_declared_after_the_response_follow_it() -> None:
    async def scenario(client: RawClient, adapter: Probe) -> None:
        stepped = client.send("step")
        await client.until(lambda ms: any(m.get("event") == "stopped" for m in ms))
        kinds = [m.get("request_seq", m.get("event")) for m in client.messages]
        assert kinds == [stepped, "stopped"], client.messages

    run(scenario)


def test_a_command_without_a_handler_is_refused_by_name() -> None:
    async def scenario(client: RawClient, adapter: Probe) -> None:
        unknown = client.send("noSuchCommand")
        await client.until(answered(unknown))
        assert client.responses(unknown)[0]["message"] == (
            "'noSuchCommand' is not supported by this adapter")

    run(scenario)
