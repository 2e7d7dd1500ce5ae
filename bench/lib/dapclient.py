"""A minimal blocking Debug Adapter Protocol client for the benchmarks.

It talks over any pair of file descriptors (a subprocess's stdin/stdout pipes, or one end
of a socketpair) with ``Content-Length`` framing, uses ``select`` so that every wait has a
deadline, and keeps every message it has not been asked for yet in a backlog: debugpy
answers ``launch`` only after ``configurationDone``, so events and late responses must not
be lost while the client waits for something else.

Reading happens on the calling thread (no reader thread, no queue hop), so a timing taken
around ``send`` / ``wait_for`` measures the adapter and nothing of ours but a ``select``.
"""

from __future__ import annotations

import json
import os
import select
import time
from collections.abc import Callable
from typing import Any

Message = dict[str, Any]

_HEADER_END = b"\r\n\r\n"
_MAX_HEADER = 4096


class DapError(Exception):
    """The adapter failed a request, closed the stream, sent garbage, or timed out."""


class DapClient:
    """Blocking DAP client over a read fd and a write fd (they may be the same fd)."""

    def __init__(self, read_fd: int, write_fd: int, name: str = "dap") -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.name = name
        self._buf = bytearray()
        self._seq = 0
        self.backlog: list[Message] = []
        self.closed = False

    # -- sending -------------------------------------------------------------------------

    def send(self, message: Message) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        data = b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.write_fd, view)
            except (BrokenPipeError, ConnectionError) as exc:
                self.closed = True
                raise DapError(f"{self.name}: write failed: {exc}") from exc
            view = view[written:]

    def number_from(self, first: int) -> None:
        """Number the next request `first` (nvim-dap starts at 0); before any request."""
        self._seq = first - 1

    def request(self, command: str, arguments: dict[str, Any] | None = None) -> int:
        """Send a request and return its ``seq`` (does not wait)."""
        self._seq += 1
        message: Message = {"seq": self._seq, "type": "request", "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        self.send(message)
        return self._seq

    # -- receiving -----------------------------------------------------------------------

    def _read_some(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([self.read_fd], [], [], remaining)
        if not ready:
            raise TimeoutError
        try:
            chunk = os.read(self.read_fd, 65536)
        except ConnectionError as exc:
            chunk = b""
            reason = str(exc)
        else:
            reason = "end of stream"
        if not chunk:
            self.closed = True
            raise DapError(f"{self.name}: connection closed by the adapter ({reason})")
        self._buf += chunk

    def _parse_one(self) -> Message | None:
        end = self._buf.find(_HEADER_END)
        if end < 0:
            if len(self._buf) > _MAX_HEADER:
                raise DapError(f"{self.name}: no DAP header in {bytes(self._buf[:80])!r}")
            return None
        length = -1
        for line in bytes(self._buf[:end]).split(b"\r\n"):
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"content-length":
                length = int(value.strip())
        if length < 0:
            raise DapError(
                f"{self.name}: header without Content-Length: {bytes(self._buf[:end])!r}"
            )
        start = end + len(_HEADER_END)
        if len(self._buf) < start + length:
            return None
        body = bytes(self._buf[start : start + length])
        del self._buf[: start + length]
        message = json.loads(body)
        if not isinstance(message, dict):
            raise DapError(f"{self.name}: DAP message is not an object: {body[:80]!r}")
        return message

    def read_message(self, deadline: float) -> Message:
        """Read the next message from the stream (bypasses the backlog)."""
        while True:
            message = self._parse_one()
            if message is not None:
                if message.get("type") == "request":
                    self._refuse_reverse_request(message)
                    continue
                return message
            self._read_some(deadline)

    def _refuse_reverse_request(self, message: Message) -> None:
        # The benchmark launches with an internal console, so no reverse request
        # (runInTerminal, startDebugging) is expected; answer rather than hang the adapter.
        self._seq += 1
        self.send(
            {
                "seq": self._seq,
                "type": "response",
                "request_seq": message.get("seq"),
                "command": message.get("command"),
                "success": False,
                "message": "the benchmark client does not support reverse requests",
            }
        )

    def wait_for(self, match: Callable[[Message], bool], timeout: float, what: str) -> Message:
        """Return (and remove) the first message matching ``match``: backlog first."""
        for index, message in enumerate(self.backlog):
            if match(message):
                del self.backlog[index]
                return message
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.read_message(deadline)
            except TimeoutError:
                raise DapError(
                    f"{self.name}: timed out after {timeout:g} s waiting for {what}"
                ) from None
            if match(message):
                return message
            self.backlog.append(message)

    def response(self, seq: int, timeout: float, *, check: bool = True) -> Message:
        message = self.wait_for(
            lambda m: m.get("type") == "response" and m.get("request_seq") == seq,
            timeout,
            f"the response to request {seq}",
        )
        if check and not message.get("success"):
            raise DapError(
                f"{self.name}: {message.get('command')} failed: "
                f"{message.get('message')} {message.get('body') or ''}".rstrip()
            )
        return message

    def event(self, name: str, timeout: float) -> Message:
        return self.wait_for(
            lambda m: m.get("type") == "event" and m.get("event") == name,
            timeout,
            f"the {name!r} event",
        )

    def call(
        self, command: str, arguments: dict[str, Any] | None = None, timeout: float = 10.0
    ) -> Message:
        """Send a request and wait for its (successful) response."""
        return self.response(self.request(command, arguments), timeout)

    def drain(self, timeout: float) -> None:
        """Discard whatever the adapter still sends until it closes the stream (bounded)."""
        deadline = time.monotonic() + timeout
        self.backlog.clear()
        while not self.closed:
            try:
                self._read_some(deadline)
            except (TimeoutError, DapError):
                return
            self._buf.clear()

    def drop_events(self) -> None:
        """Forget queued events (responses are kept: someone may still wait for them)."""
        self.backlog = [m for m in self.backlog if m.get("type") != "event"]
