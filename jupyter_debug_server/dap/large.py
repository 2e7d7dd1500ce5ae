"""Large DAP messages from clients: their whole-message JSON work, off the event loop.

A client's message of at least LARGE_MESSAGE bytes reaches the server as chunks of bytes
(websocket/large.py). Parsing it, and encoding it again for the worker's channel, are
single calls of the json module over all of it (for 64 MiB about 70 ms and 250 ms here),
during which the server's event loop serves no other session. A thread would not help:
json's C decoder holds the GIL. So that work runs in a small helper process,
`python -m jupyter_debug_server.dap.large`, started on first use and reused (10 nicer
than the server, which serves every session), fed through a pipe a chunk at a time
(asyncio streams, each written once the helper took the last). It does what the
small path does, with the same sentences, and reports what routing needs:

- the checks: UTF-8, `from_json` (bad JSON, NaN, overflowing numbers, nesting too deep),
  `check_message` (an object; type, seq, command), and `argument_error` (arguments.py) for
  arguments the server does not see. Nesting is bounded at MAX_DEPTH levels whatever the
  interpreter's recursion limit, so the worker, which parses the same text, never fails
  on it; a command name over MAX_COMMAND characters is not read;
- the envelope (`type`, `seq`, `command`) and the arguments when their JSON is at most
  SMALL_ARGUMENTS bytes; larger ones as where they lie in the client's bytes
  (`RawArguments`), with their scalar fields in the envelope (all the mux and the session
  read of a request they answer or watch: `disconnect`'s terminateDebuggee, `cancel`'s
  requestId, `stackTrace`'s threadId, ...).

Large arguments then go to the worker as the client's own bytes inside a new envelope
(channel.py `send_raw_request`): nothing is parsed or encoded on the event loop. This
module is both ends: `LargeMessages` (the server's) and `main` (the helper's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .arguments import argument_error
from .framing import TOO_DEEP, check_message, from_json
from .messages import LARGE_MESSAGE, Data, Message, RawArguments

#: Arguments up to this many bytes of JSON come back parsed (the envelope's size bound).
SMALL_ARGUMENTS = 64 * 1024
#: Deepest nesting of a large message read (a stack-independent bound; see above).
MAX_DEPTH = 512
#: Longest command name of a large request read (DAP's longest has 25 characters).
MAX_COMMAND = 1024
_SCALAR_BUDGET = 16 * 1024  # characters of scalar fields kept in the envelope
_LONGEST_SCALAR = 1024  # characters of one scalar (key or string value) kept
_BATCH = 1024 * 1024  # bytes written to the helper in one step of the event loop
_LINE_LIMIT = 8 * 1024 * 1024  # longest answer line read from the helper
_CLOSE_TIMEOUT = 5.0
_NICE = 10  # added to the server's niceness for the helper
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace
_DECODER = json.JSONDecoder()  # the text is valid JSON already when it is used
_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))

__all__ = ["LARGE_MESSAGE", "MAX_COMMAND", "MAX_DEPTH", "SMALL_ARGUMENTS", "HelperFailed",
           "Inspection", "LargeMessages", "RawArguments", "inspect", "main", "pieces"]


class HelperFailed(RuntimeError):
    """The helper process could not answer (it is restarted for the next message)."""


@dataclass(frozen=True)
class Inspection:
    """What the helper found in one large message."""

    #: The envelope (type, seq, command; arguments when small, else their scalar fields).
    message: Message | None = None
    #: Large arguments, not in `message`.
    raw: RawArguments | None = None
    #: Why it is not a DAP message, in the small path's words (from_json, check_message).
    refused: str | None = None
    #: Why it is a DAP message this server does not read.
    unreadable: str | None = None
    #: Whether the text is not UTF-8.
    not_utf8: bool = False


# -- the helper's side -------------------------------------------------------------------

def inspect(data: bytes) -> dict[str, Any]:
    """The helper's answer for one message's bytes (JSON-ready; see Inspection)."""
    try:
        text = str(data, "utf-8")
    except UnicodeDecodeError:
        return {"not_utf8": True}
    try:
        message = from_json(text)
        check_message(message)
    except ValueError as exc:  # (FramingError is one)
        return {"refused": str(exc)}
    if _deeper_than(message, MAX_DEPTH):
        return {"refused": TOO_DEEP}
    envelope = {"type": message["type"]}
    if "seq" in message:
        envelope["seq"] = message["seq"]
    if message["type"] != "request":
        return {"message": envelope}
    command = message["command"]
    if len(command) > MAX_COMMAND:
        return {"unreadable": f"its command name has {len(command)} characters (at most "
                              f"{MAX_COMMAND} are read)"}
    envelope["command"] = command
    arguments = message.get("arguments")
    if arguments is None:
        return {"message": envelope}
    start, end = _value_span(text, "arguments")
    if not text.isascii():
        start, end = len(text[:start].encode()), len(text[:end].encode())
    if end - start <= SMALL_ARGUMENTS:
        envelope["arguments"] = arguments
        return {"message": envelope}
    if isinstance(arguments, dict):
        envelope["arguments"] = _scalars(arguments)
    return {"message": envelope, "raw": [start, end],
            "wrong": argument_error(command, arguments)}


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests containers more than `limit` levels deep (no recursion)."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below = []
        for item in level:
            for child in item.values() if isinstance(item, dict) else item:
                if isinstance(child, (dict, list)):
                    below.append(child)
        level = below
    return False


def _value_span(text: str, name: str) -> tuple[int, int]:
    """Where the value of the top-level member `name` lies in the JSON object `text`
    (valid JSON already; the last such member, as the parser keeps it)."""
    at = _skip(text, _skip(text, 0) + 1)  # past "{"
    span = (0, 0)
    while text[at] != "}":
        key, at = _DECODER.raw_decode(text, at)
        at = _skip(text, _skip(text, at) + 1)  # past ":"
        _value, end = _DECODER.raw_decode(text, at)
        if key == name:
            span = (at, end)
        at = _skip(text, end)
        if text[at] == ",":
            at = _skip(text, at + 1)
    return span


def _skip(text: str, at: int) -> int:
    """Where the whitespace from `at` on ends."""
    blanks = _SPACE.match(text, at)
    assert blanks is not None  # (it matches the empty string)
    return blanks.end()


def _scalars(arguments: dict[str, Any]) -> dict[str, Any]:
    """The short scalar fields of `arguments`, within a budget (see the module's text)."""
    kept: dict[str, Any] = {}
    budget = _SCALAR_BUDGET
    for key, value in arguments.items():
        if isinstance(value, str):
            cost = len(value)
        elif value is None or isinstance(value, (bool, int, float)):
            cost = 24 if not isinstance(value, int) else len(str(value))
        else:
            continue
        if cost > _LONGEST_SCALAR or len(key) > _LONGEST_SCALAR:
            continue
        budget -= cost + len(key)
        if budget < 0:
            break
        kept[key] = value
    return kept


def main() -> None:
    """The helper: `<size>\\n` and that many bytes in, one JSON line out, until EOF."""
    read, write = sys.stdin.buffer, sys.stdout.buffer
    while True:
        line = read.readline(64)
        if not line:
            return
        size = int(line)
        data = read.read(size)
        if len(data) != size:
            return
        try:
            result = inspect(data)
        except Exception as exc:  # a bug of ours, or MemoryError: say so, serve the next
            result = {"bug": type(exc).__name__}
        del data
        write.write(_ENCODER.encode(result).encode() + b"\n")
        write.flush()


# -- the server's side -------------------------------------------------------------------

class LargeMessages:
    """The server's end of the helper: one message at a time, the process kept between
    messages and started again if it died. Owned by the server's event loop.

    `command` gives the helper's command line (`python -I -m
    jupyter_debug_server.dap.large`, as the server starts its workers); `cwd` and
    `environment` are its working directory and environment.
    """

    def __init__(self, command: Callable[[], Awaitable[Sequence[str]]], *,
                 cwd: str | None = None,
                 environment: Callable[[], Mapping[str, str]] | None = None) -> None:
        self._command = command
        self._cwd = cwd
        self._environment = environment
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The helper's pid while it runs."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def inspect(self, chunks: Sequence[Data], size: int) -> Inspection:
        """What is in the message of `size` bytes made of `chunks`. HelperFailed if the
        helper cannot tell."""
        async with self._lock:
            process = await self._running()
            try:
                line = await self._ask(process, chunks, size)
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                self._drop(process)
                raise HelperFailed("the large-message helper stopped answering "
                                   f"({type(exc).__name__})") from None
        answer = from_json(line)
        if "bug" in answer:
            raise HelperFailed(f"the large-message helper failed ({answer['bug']})")
        if "message" not in answer:
            return Inspection(refused=answer.get("refused"),
                              unreadable=answer.get("unreadable"),
                              not_utf8=bool(answer.get("not_utf8")))
        raw = None
        if "raw" in answer:
            start, end = answer["raw"]
            raw = RawArguments(pieces(chunks, start, end), end - start, answer["wrong"])
        return Inspection(message=answer["message"], raw=raw)

    async def _running(self) -> asyncio.subprocess.Process:
        if self._closed:
            raise HelperFailed("the server is shutting down")
        process = self._process
        if process is None or process.returncode is not None:
            argv = await self._command()
            process = self._process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                cwd=self._cwd, limit=_LINE_LIMIT, start_new_session=True,
                env=None if self._environment is None else dict(self._environment()))
            # Background work: on a busy machine the server, which serves every session,
            # goes first (set from here, so that the helper's start-up is nice too).
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, process.pid,
                               min(os.getpriority(os.PRIO_PROCESS, 0) + _NICE, 19))
        return process

    @staticmethod
    async def _ask(process: asyncio.subprocess.Process, chunks: Sequence[Data],
                   size: int) -> bytes:
        stdin, stdout = process.stdin, process.stdout
        assert stdin is not None and stdout is not None
        if process.returncode is not None or stdin.is_closing():
            raise BrokenPipeError()
        stdin.write(b"%d\n" % size)
        batch = 0
        for chunk in chunks:
            stdin.write(chunk)
            batch += len(chunk)
            if batch >= _BATCH:  # at most this much before the loop serves others
                batch = 0
                await asyncio.sleep(0)
            # Then only once the helper took it: the pipe transport's buffer, which a
            # write may copy whole, stays small.
            await stdin.drain()
        line = await stdout.readline()
        if not line.endswith(b"\n"):
            raise asyncio.IncompleteReadError(line, None)
        return line

    def _drop(self, process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            process.kill()
        if self._process is process:
            self._process = None

    async def close(self) -> None:
        """Stop the helper (it leaves on EOF; killed if it has not within 5 s)."""
        self._closed = True
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), _CLOSE_TIMEOUT)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()


def pieces(chunks: Sequence[Data], start: int, end: int) -> list[Data]:
    """Bytes start..end of the concatenation of `chunks`, as pieces of them (only the
    first and last are cut; the others are the chunks themselves)."""
    out: list[Data] = []
    at = 0
    for chunk in chunks:
        size = len(chunk)
        low, high = max(start - at, 0), min(end - at, size)
        if low < high:
            out.append(chunk if low == 0 and high == size else chunk[low:high])
        at += size
        if at >= end:
            break
    return out


if __name__ == "__main__":
    main()
