"""DapMux on in-memory streams: renumbering, routing, local lifecycle, roles, replay.

The upstream is a real DapChannel over a socketpair to a tiny DAP peer that answers
every request with its own command and arguments, so tests see what crossed the mux.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from jupyter_debug_server.dap import DapChannel, DapMux, MuxClient
from jupyter_debug_server.dap.mux import BadMessage

pytestmark = pytest.mark.timeout(30)

Message = dict[str, Any]
CAPABILITIES = {"supportsConfigurationDoneRequest": True}


class Peer:
    """The debugger's side: echoes requests; `hold` keeps answers back until released."""

    def __init__(self, channel: DapChannel) -> None:
        self.channel = channel
        self.requests: list[Message] = []
        self.held: list[Message] = []
        self.hold = False
        self.arrived = asyncio.Event()
        channel.on_request = self.on_request
        channel.start()

    def on_request(self, request: Message) -> None:
        self.requests.append(request)
        self.arrived.set()
        if self.hold:
            self.held.append(request)
        else:
            self.answer(request)

    def answer(self, request: Message) -> None:
        self.channel.send_response(request, body={"seq": request["seq"],
                                                  "command": request["command"],
                                                  "arguments": request.get("arguments")})


class Client:
    """A client's received messages, with a way to await them."""

    def __init__(self, mux: DapMux, role: str = "control") -> None:
        self.received: list[Message] = []
        self.changed = asyncio.Event()
        self.mux_client: MuxClient = mux.connect(self._got, role=role, name=f"test-{role}")

    def _got(self, message: Message) -> None:
        self.received.append(message)
        self.changed.set()

    def send(self, seq: int, command: str, arguments: Any = None) -> None:
        message: Message = {"type": "request", "seq": seq, "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        self.mux_client.receive(message)

    async def response(self, request_seq: int) -> Message:
        async def scan() -> Message:
            while True:
                for m in self.received:
                    if m["type"] == "response" and m["request_seq"] == request_seq:
                        return m
                self.changed.clear()
                await self.changed.wait()
        return await asyncio.wait_for(scan(), 10)

    def events(self, name: str | None = None) -> list[Message]:
        return [m for m in self.received if m["type"] == "event"
                and (name is None or m["event"] == name)]


async def _mux() -> tuple[DapMux, Peer]:
    ours, theirs = socket.socketpair()
    upstream = await DapChannel.from_socket(ours, name="upstream")
    upstream.start()
    peer = Peer(await DapChannel.from_socket(theirs, name="peer"))
    mux = DapMux("s1", capabilities=lambda: CAPABILITIES)
    mux.upstream = upstream
    upstream.on_event = mux.broadcast  # as the session feeds it
    return mux, peer


def test_requests_are_renumbered_and_answers_routed_to_their_client() -> None:
    async def run() -> None:
        mux, peer = await _mux()
        a, b = Client(mux), Client(mux)
        peer.hold = True
        a.send(7, "threads")
        b.send(7, "stackTrace", {"threadId": 1})
        while len(peer.requests) < 2:
            peer.arrived.clear()
            await asyncio.wait_for(peer.arrived.wait(), 10)
        assert [r["seq"] for r in peer.requests] == [1, 2]  # fresh upstream numbers
        for request in reversed(peer.held):  # answer out of order
            peer.answer(request)
        reply_a, reply_b = await a.response(7), await b.response(7)
        assert reply_a["body"]["command"] == "threads" and reply_a["seq"] == 1
        assert reply_b["body"]["command"] == "stackTrace" and reply_b["seq"] == 1
        assert reply_b["body"]["arguments"] == {"threadId": 1}
        assert len(a.received) == len(b.received) == 1

        # Events reach everyone, each numbered from the client's own counter.
        peer.channel.send_event("output", {"output": "hi"})
        peer.channel.send_event("initialized")  # the owner's, not the clients'
        peer.channel.send_event("stopped", {"threadId": 1, "reason": "step",
                                            "allThreadsStopped": True})
        while len(b.events()) < 2:
            b.changed.clear()
            await asyncio.wait_for(b.changed.wait(), 10)
        for client in (a, b):
            assert [e["event"] for e in client.events()] == ["output", "stopped"]
            assert [m["seq"] for m in client.received] == [1, 2, 3]
        assert mux.stopped is not None and mux.stopped["body"]["reason"] == "step"
    asyncio.run(run())


def test_a_late_joiner_learns_the_process_before_the_stop() -> None:
    """LLVM's dap_server.py waits for `process` after attaching: it is replayed too."""
    async def run() -> None:
        mux, _peer = await _mux()
        process = {"name": "/t/a.out", "systemProcessId": 4242, "isLocalProcess": True,
                   "startMethod": "launch"}
        mux.broadcast({"type": "event", "seq": 7, "event": "process", "body": process})
        mux.broadcast({"type": "event", "seq": 8, "event": "stopped",
                       "body": {"threadId": 1, "reason": "step"}})
        late = Client(mux)
        late.send(1, "initialize", {"adapterID": "x"})
        late.send(2, "attach", {})
        late.send(3, "configurationDone")
        await late.response(3)
        assert [m["event"] for m in late.events()] == ["initialized", "process", "stopped"]
        assert late.events("process")[0]["body"] == process
        mux.broadcast({"type": "event", "event": "exited", "body": {"exitCode": 0}})
        ended = Client(mux)
        ended.send(1, "threads")
        await ended.response(1)
        assert [m["event"] for m in ended.events()] == ["exited"]  # the end, nothing stale

    asyncio.run(run())


def test_lifecycle_is_local_and_a_late_joiner_gets_the_state() -> None:
    async def run() -> None:
        mux, peer = await _mux()
        mux.broadcast({"type": "event", "seq": 40, "event": "stopped",
                       "body": {"threadId": 3, "reason": "breakpoint",
                                "allThreadsStopped": False}})
        late = Client(mux)
        late.send(1, "initialize", {"adapterID": "x", "linesStartAt1": True})
        late.send(2, "attach", {})
        assert late.events("stopped") == []
        late.send(3, "configurationDone")
        late.send(4, "disconnect", {"terminateDebuggee": False})
        assert (await late.response(1))["body"] == CAPABILITIES | {
            "supportsTerminateRequest": True, "supportTerminateDebuggee": True}
        attached = await late.response(2)
        assert attached["success"] and "message" not in attached  # DAP: failures only
        assert (await late.response(4))["success"]
        assert [m.get("event") or m["command"] for m in late.received] == [
            "initialize", "initialized", "attach", "configurationDone", "stopped",
            "disconnect"]
        stop = late.events("stopped")[0]
        assert stop["body"] == {"threadId": 3, "reason": "breakpoint",
                                "allThreadsStopped": False}
        assert peer.requests == []  # none of it reached the debugger

        mux.broadcast({"type": "event", "event": "continued", "body": {"threadId": 3}})
        mux.broadcast({"type": "event", "event": "exited", "body": {"exitCode": 4}})
        mux.broadcast({"type": "event", "event": "terminated"})
        after = Client(mux)
        after.send(1, "threads")  # skipped the configuration: the state comes first
        await after.response(1)
        assert [m.get("event") for m in after.received[:2]] == ["exited", "terminated"]
    asyncio.run(run())


def test_observer_is_refused_everything_outside_the_allow_list() -> None:
    async def run() -> None:
        mux, peer = await _mux()
        watcher = Client(mux, role="observe")
        for seq, command in enumerate(["next", "evaluate", "setVariable", "completions",
                                       "terminate", "setBreakpoints", "pause", "goto"], 1):
            watcher.send(seq, command, {})
            reply = await watcher.response(seq)
            assert not reply["success"]
            assert f"this client observes session s1; {command!r}" in reply["message"]
        watcher.send(20, "variables", {"variablesReference": 5})
        assert (await watcher.response(20))["success"]
        assert [r["command"] for r in peer.requests] == ["variables"]
        with pytest.raises(ValueError, match="role 'admin'"):
            mux.connect(lambda m: None, role="admin", name="x")
    asyncio.run(run())


def test_answers_for_a_gone_client_are_dropped_and_cancel_is_renumbered() -> None:
    async def run() -> None:
        mux, peer = await _mux()
        a, b = Client(mux), Client(mux)
        peer.hold = True
        a.send(1, "next", {"threadId": 1})
        b.send(5, "evaluate", {"expression": "slow()"})
        b.send(6, "cancel", {"requestId": 5})
        b.send(7, "cancel", {"requestId": 99})
        assert not (await b.response(7))["success"]
        while len(peer.requests) < 3:
            peer.arrived.clear()
            await asyncio.wait_for(peer.arrived.wait(), 10)
        assert peer.requests[2]["command"] == "cancel"
        assert peer.requests[2]["arguments"] == {"requestId": peer.requests[1]["seq"]}
        a.mux_client.close()
        assert a.mux_client not in mux.clients
        for request in peer.held:
            peer.answer(request)
        await b.response(6)
        assert a.received == []

        mux.upstream.close("worker exited")
        b.send(8, "threads")
        reply = await b.response(8)
        assert not reply["success"] and "has ended" in reply["message"]
    asyncio.run(run())


def test_requests_with_arguments_of_the_wrong_shape_are_answered_not_raised() -> None:
    async def run() -> None:
        mux, peer = await _mux()
        client = Client(mux)
        observer = Client(mux, role="observe")
        bad = [
            (client, "initialize", [1], "the arguments of 'initialize' must be a JSON "
             "object, not an array ([1])"),
            (observer, "initialize", [1], "must be a JSON object"),
            (client, "initialize", {"linesStartAt1": "yes"},
             "initialize: argument 'linesStartAt1' must be a boolean, not a string ('yes')"),
            (client, "cancel", "x", "the arguments of 'cancel' must be a JSON object, not a "
             "string ('x')"),
            (client, "cancel", {"requestId": []}, "cancel: argument 'requestId' must be an "
             "integer, not an array ([])"),
            (client, "cancel", {"requestId": True}, "must be an integer, not a boolean"),
            (client, "cancel", {"requestId": 2**80}, "is not the seq of a request"),
            (client, "cancel", {"progressId": 7}, "'progressId' must be a string"),
            (client, "setBreakpoints", {"source": [1]}, "setBreakpoints: argument 'source' "
             "must be an object"),
            (client, "setBreakpoints", {"source": {"path": 3}},
             "setBreakpoints: source field 'path' must be a string, not a number (3)"),
            (client, "setBreakpoints", {"source": {"path": "a.py"}, "breakpoints": "x"},
             "'breakpoints' must be an array of objects"),
            (client, "setBreakpoints", {"source": {"path": "a.py"}, "breakpoints": [{}]},
             "breakpoints[0] must be an object with an integer 'line', not {}"),
            (client, "setBreakpoints", {"source": {"path": "a.py"}, "lines": ["1"]},
             "'lines' must be an array of integers"),
            (client, "stackTrace", {"threadId": {}}, "'threadId' must be an integer"),
            (client, "threads", 5, "the arguments of 'threads' must be a JSON object"),
        ]
        for seq, (who, command, arguments, message) in enumerate(bad, 1):
            who.send(seq, command, arguments)
            reply = await who.response(seq)
            assert not reply["success"] and message in reply["message"], (command, reply)
        assert peer.requests == []  # none of it reached the debugger
        client.send(100, "threads")
        assert (await client.response(100))["success"]
    asyncio.run(run())


def test_an_unusable_seq_is_a_bad_message_and_an_unencodable_request_an_error() -> None:
    async def run() -> None:
        mux, peer = await _mux()
        client = Client(mux)
        for seq in (True, -1, 2**53, 10**40):
            with pytest.raises(BadMessage, match="is not an integer from 0 to"):
                client.mux_client.receive({"type": "request", "seq": seq, "command": "threads"})
        nested: Any = []
        for _ in range(100_000):  # deeper than any JSON encoder recurses
            nested = [nested]
        client.send(1, "evaluate", {"expression": "x", "nested": nested})
        reply = await client.response(1)
        assert not reply["success"], reply
        assert reply["message"] == ("'evaluate' cannot be passed to the debugger of session "
                                    "s1: its arguments cannot be encoded as JSON "
                                    "(RecursionError)")
        client.send(2, "threads")  # the channel is intact
        assert (await client.response(2))["success"]
        assert [r["command"] for r in peer.requests] == ["threads"]
    asyncio.run(run())


class MovingPeer(Peer):
    """A debugger that answers setBreakpoints as debugpy can: new ids on every call, and
    a breakpoint on an even line moved to the next line."""

    def __init__(self, channel: DapChannel) -> None:
        super().__init__(channel)
        self.next_id = 100

    def answer(self, request: Message) -> None:
        if request["command"] != "setBreakpoints":
            super().answer(request)
            return
        answers = []
        for bp in request["arguments"]["breakpoints"]:
            self.next_id += 1
            line = bp["line"] + 1 if bp["line"] % 2 == 0 else bp["line"]
            answers.append({"id": self.next_id, "verified": True, "line": line})
        self.channel.send_response(request, body={"breakpoints": answers})


async def _moving_mux() -> tuple[DapMux, MovingPeer]:
    ours, theirs = socket.socketpair()
    upstream = await DapChannel.from_socket(ours, name="upstream")
    upstream.start()
    peer = MovingPeer(await DapChannel.from_socket(theirs, name="peer"))
    mux = DapMux("s1", capabilities=lambda: CAPABILITIES)
    mux.upstream = upstream
    upstream.on_event = mux.broadcast
    return mux, peer


def test_breakpoints_are_kept_per_client_and_mapped_by_request_order() -> None:
    async def run() -> None:
        mux, peer = await _moving_mux()
        a, b = Client(mux), Client(mux)
        source = {"path": "/w/app.py"}

        a.send(1, "setBreakpoints", {"source": source,
                                     "breakpoints": [{"line": 9}, {"line": 4}]})
        mine_a = (await a.response(1))["body"]["breakpoints"]
        assert [(bp["line"], bp["verified"]) for bp in mine_a] == [(9, True), (5, True)]
        b.send(1, "setBreakpoints", {"source": source, "lines": [4, 20]})  # (old form)
        mine_b = (await b.response(1))["body"]["breakpoints"]
        assert [bp["line"] for bp in mine_b] == [5, 21]  # B's own, in B's order
        # The debugger got the union, line 4 once (the same breakpoint for both).
        assert [bp["line"] for bp in peer.requests[-1]["arguments"]["breakpoints"]] == [
            9, 4, 20]
        ids_a = [bp["id"] for bp in mine_a]
        assert len(set(ids_a + [bp["id"] for bp in mine_b])) == 4

        # A is told of B's new ones, B of nothing of its own; A's ids stay A's although
        # the debugger renumbered everything.
        told = [(e["body"]["reason"], e["body"]["breakpoint"]["line"])
                for e in a.events("breakpoint")]
        assert told == [("new", 5), ("new", 21)]
        assert [e["body"]["breakpoint"]["id"] for e in b.events("breakpoint")] == ids_a
        a.send(2, "setBreakpoints", {"source": source,
                                     "breakpoints": [{"line": 9, "condition": "x"}]})
        again = (await a.response(2))["body"]["breakpoints"]
        assert [bp["id"] for bp in again] == ids_a[:1]  # same line: same id
        removed = b.events("breakpoint")[-1]["body"]
        assert (removed["reason"], removed["breakpoint"]["id"]) == ("removed", ids_a[1])

        # A stop on the debugger's id of line 9 (as it numbers it now) and one of B's.
        union = peer.requests[-1]["arguments"]["breakpoints"]
        assert [bp["line"] for bp in union] == [9, 4, 20]
        upstream_ids = {bp["line"]: peer.next_id - 2 + i for i, bp in enumerate(union)}
        mux.broadcast({"type": "event", "event": "stopped", "body": {
            "threadId": 1, "reason": "breakpoint",
            "hitBreakpointIds": [upstream_ids[9], upstream_ids[20]]}})
        assert a.events("stopped")[-1]["body"]["hitBreakpointIds"] == ids_a[:1]
        assert b.events("stopped")[-1]["body"]["hitBreakpointIds"] == [mine_b[1]["id"]]
        late = Client(mux)
        late.send(1, "threads")  # replayed first: none of the hits are its own
        await late.response(1)
        assert "hitBreakpointIds" not in late.events("stopped")[0]["body"]

        # The debugger moves one of B's: everyone hears it, in the mux's id.
        mux.broadcast({"type": "event", "event": "breakpoint", "body": {
            "reason": "changed", "breakpoint": {"id": upstream_ids[20], "verified": False,
                                                "line": 22}}})
        for client in (a, b):
            change = client.events("breakpoint")[-1]["body"]
            assert change["breakpoint"]["id"] == mine_b[1]["id"], change
            assert (change["reason"], change["breakpoint"]["line"]) == ("changed", 22)

        # B leaves: its breakpoints leave the debugger, and A is told.
        b.mux_client.close()
        def last_union() -> list[int]:
            last = [r for r in peer.requests if r["command"] == "setBreakpoints"][-1]
            return [bp["line"] for bp in last["arguments"]["breakpoints"]]

        while last_union() != [9]:
            peer.arrived.clear()
            await asyncio.wait_for(peer.arrived.wait(), 10)
        while len([e for e in a.events("breakpoint")
                   if e["body"]["reason"] == "removed"]) < 2:
            a.changed.clear()
            await asyncio.wait_for(a.changed.wait(), 10)
        gone = {e["body"]["breakpoint"]["id"] for e in a.events("breakpoint")
                if e["body"]["reason"] == "removed"}
        assert gone == {bp["id"] for bp in mine_b}
    asyncio.run(run())


def test_the_mux_forgets_only_the_stop_a_resuming_request_resumed_from() -> None:
    """The mux's side of a forgotten stop, deterministically: the debugger reports the
    new stop before it answers `next`; the answer must not erase that stop."""
    async def run() -> None:
        mux, peer = await _mux()
        mux.broadcast({"type": "event", "seq": 1, "event": "stopped", "body": {
            "threadId": 1, "reason": "breakpoint", "allThreadsStopped": True}})
        client = Client(mux)
        peer.hold = True
        client.send(1, "next", {"threadId": 1})
        await asyncio.wait_for(peer.arrived.wait(), 10)
        step = {"threadId": 1, "reason": "step", "allThreadsStopped": True}
        peer.channel.send_event("stopped", step)
        while not client.events("stopped"):
            client.changed.clear()
            await asyncio.wait_for(client.changed.wait(), 10)
        peer.answer(peer.held.pop())
        assert (await client.response(1))["success"]
        assert [e["body"] for e in mux.current_state()] == [step]  # a late joiner's view

        peer.hold = False  # a resume with no newer stop still forgets the one it left
        client.send(2, "continue", {"threadId": 1})
        assert (await client.response(2))["success"]
        assert mux.current_state() == []
    asyncio.run(run())
