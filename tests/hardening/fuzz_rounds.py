"""Campaigns of hostile frames over one surface, in batches on few connections.

A connection takes batches of frames the receiver must survive without closing, each
followed by a sentinel (a `threads` request, or a ping on the events socket) whose answer
says the batch was handled; then, usually, one frame after which it must close. Nothing
generated is held back.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .fuzz_dap import ANSWER, CLOSE, OBSERVE_ALLOWED
from .fuzz_ws import Frames, RawWebSocket, answerable, fatal, frame

# Kinds whose text is one request with the connection's own, unique seq.
TRACKED = frozenset({"request", "typed-request", "duplicate-keys", "nesting", "float-for-int",
                     "big-int", "lone-surrogate", "cancel-shape", "initialize-shape",
                     "empty-fragments"})
#: The largest message a client may send on the events socket (it sends little: a ping,
#: a filter), as api/session_ws.py allows; a larger one is closed with 1009.
EVENTS_MAX_MESSAGE = 64 * 1024
_SENTINEL_WAIT = 60.0
_CLOSE_WAIT = 10.0
_ANSWER_WAIT = 30.0


def base_kind(kind: str) -> str:
    return kind.split("+", 1)[0]


@dataclass
class Tally:
    """What one campaign did and what went wrong."""

    frames: int = 0
    connections: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def problem(self, name: str, text: str) -> None:
        self.counts[name] += 1
        if len(self.problems) < 50:
            self.problems.append(text)


@dataclass
class WsPlan:
    """One WebSocket campaign: where, as whom, how many frames."""

    port: int
    path: str
    secrets: list[tuple[str, str]]  # (role, secret), used in turn
    budget: int
    dap: bool  # the tunnel (DAP checked, requests answered) or the events socket
    label: str


def command_of(text: str) -> str | None:
    """The command of the request in `text`, or None if it carries no request."""
    if '"request"' not in text:
        return None
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or message.get("type") != "request":
        return None
    return str(message.get("command"))


class _Conversation:
    """One connection's requests: which are pending, and what an observer got."""

    def __init__(self, ws: RawWebSocket, role: str, tally: Tally, label: str) -> None:
        self.ws, self.role, self.tally, self.label = ws, role, tally, label
        self.sent: dict[int, tuple[str, str]] = {}  # seq -> (kind, command)

    def track(self, frames: Frames, seq: int) -> None:
        kind = base_kind(frames.kind)
        if kind in TRACKED:
            self.sent[seq] = (kind, "")

    def note_command(self, seq: int, text: str) -> None:
        if seq in self.sent:
            self.sent[seq] = (self.sent[seq][0], str(command_of(text)))

    async def settle(self) -> None:
        """Every tracked request answered (bounded), and no observer allowed to act."""
        ws = self.ws
        await ws.until(lambda: all(s in ws.responses for s in self.sent), _ANSWER_WAIT)
        for seq, (kind, command) in self.sent.items():
            response = ws.responses.get(seq)
            if response is None:
                if not ws.closed.is_set():
                    self.tally.problem("unanswered_requests", f"{self.label}: {kind} request "
                                       f"seq {seq} ({command!r:.40}) got no response")
                continue
            if (self.role == "observe" and response.get("success") is True
                    and command not in OBSERVE_ALLOWED):
                self.tally.problem("observer_leaks", f"{self.label}: observer's {command!r} "
                                   f"succeeded: {json.dumps(response)[:300]}")
        self.sent.clear()


def _sentinel(rng: random.Random, dap: bool, seq: int) -> tuple[bytes, Callable[..., bool]]:
    if dap:
        text = b'{"type":"request","seq":%d,"command":"threads"}' % seq
        return frame(rng, 0x1, text), lambda ws: seq in ws.responses
    payload = b"sentinel-%d" % seq
    return frame(rng, 0x9, payload), lambda ws: payload in ws.pongs


async def ws_campaign(plan: WsPlan, rng: random.Random) -> Tally:
    """Send `plan.budget` hostile frames over as few connections as the attacks allow."""
    tally = Tally()
    seq = 1000
    while tally.frames < plan.budget:
        role, secret = plan.secrets[tally.connections % len(plan.secrets)]
        ws = await RawWebSocket.connect(plan.port, plan.path, secret,
                                        in_query=tally.connections % 2 == 1)
        tally.connections += 1
        talk = _Conversation(ws, role, tally, f"{plan.label} as {role}")
        try:
            seq = await _batches(plan, rng, ws, talk, tally, seq)
            if not ws.closed.is_set() and tally.frames < plan.budget:
                seq = await _last_frame(plan, rng, ws, talk, tally, seq)
        finally:
            await ws.abort()
    return tally


async def _batches(plan: WsPlan, rng: random.Random, ws: RawWebSocket, talk: _Conversation,
                   tally: Tally, seq: int) -> int:
    for _ in range(rng.randint(1, 8)):
        size = rng.randint(20, 250)
        chunks, count, kinds = [], 0, []
        while count < size and tally.frames + count < plan.budget:
            seq += 1
            frames = answerable(rng, talk.role, seq)
            while not plan.dap and len(frames.text.encode("utf-8", "surrogatepass")) > \
                    EVENTS_MAX_MESSAGE:  # not answerable there: the socket closes (1009)
                frames = answerable(rng, talk.role, seq)
            chunks.append(frames.data)
            count += frames.count
            kinds.append(frames.kind)
            tally.kinds[base_kind(frames.kind)] += frames.count
            talk.track(frames, seq)
            if seq in talk.sent:
                talk.note_command(seq, frames.text)
        seq += 1
        probe, answered = _sentinel(rng, plan.dap, seq)
        ws.write(b"".join(chunks) + probe)
        tally.frames += count
        if not await ws.until(lambda a=answered: a(ws), _SENTINEL_WAIT):
            what = (f"closed it ({ws.close_code} {ws.close_reason[:120]!r})"
                    if ws.closed.is_set() else "did not answer the sentinel")
            tally.problem("unexpected_close" if ws.closed.is_set() else "unanswered_sentinel",
                          f"{plan.label}: after a batch of {sorted(set(kinds))} the server "
                          f"{what}")
            return seq
        if plan.dap:
            await talk.settle()
        if tally.frames >= plan.budget:
            break
    return seq


async def _last_frame(plan: WsPlan, rng: random.Random, ws: RawWebSocket,
                      talk: _Conversation, tally: Tally, seq: int) -> int:
    """One frame after which the server must close (or may: EITHER)."""
    seq += 1
    frames = fatal(rng, seq, dap=plan.dap)
    tally.kinds[base_kind(frames.kind)] += frames.count
    tally.frames += frames.count
    if frames.outcome == ANSWER:  # e.g. a binary frame on the events socket: ignored
        ws.write(frames.data)
        return seq
    seq += 1
    probe, answered = _sentinel(rng, plan.dap, seq)
    ws.write(frames.data + (b"" if frames.outcome == CLOSE else probe))
    if frames.outcome == CLOSE:
        if not await ws.wait_closed(_CLOSE_WAIT):
            tally.problem("not_closed", f"{plan.label}: the server kept the connection "
                          f"open after a {frames.kind!r} frame")
    elif not await ws.until(lambda: answered(ws), _SENTINEL_WAIT) and not ws.closed.is_set():
        tally.problem("unanswered_sentinel", f"{plan.label}: after a {frames.kind!r} frame "
                      "the server neither answered nor closed")
    return seq


def summary(tally: Tally) -> dict[str, Any]:
    return {"frames": tally.frames, "connections": tally.connections,
            "kinds": dict(tally.kinds), **tally.counts}
