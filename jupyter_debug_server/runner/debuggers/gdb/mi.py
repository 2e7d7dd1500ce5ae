"""GDB/MI transport: gdb's machine interface over its stdin/stdout, read asynchronously.

One `MIConnection` is owned by one event loop. A reader task reads gdb's stdout line by
line (no polling, no threads), parses each line with pygdbmi's parser, hands async and
stream records to `on_record` in gdb's order, and resolves the command awaiting a result
record by its MI token. pygdbmi's own I/O controller is not used: it polls.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import re
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pygdbmi.gdbmiparser import parse_response

from ..processes import die_with_parent, kill_group
from ..registry import DebuggerRefusal

log = logging.getLogger(__name__)

LINE_LIMIT = 16 * 1024 * 1024
"""Longest MI line accepted, in bytes; a longer line is dropped (and its command failed)."""

SETUP_COMMANDS = (
    "-gdb-set mi-async on",  # MI3's name for target-async: run commands return at once
    "-gdb-set startup-with-shell off",  # exec the program directly: no shell quoting surprises
    "-gdb-set auto-load off",  # no .gdbinit or Python scripts from the debuggee's directories
    "-gdb-set confirm off",
    "-gdb-set pagination off",
    "-gdb-set width 0",
    "-gdb-set height 0",
    "-gdb-set print pretty off",
)
"""Run in order by `MIConnection.start`; pretty printers stay off (auto-load is off)."""

_KINDS = {"*": "exec", "=": "notify", "+": "status", "~": "console", "@": "target",
          "&": "log", "^": "result"}
_PREFIX = re.compile(r"(\d*)([\^*=+~@&])")
_PROMPT = re.compile(r"\(gdb\)\s*")
_RESULT_HEAD = re.compile(rb"(\d+)\^")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class MIError(DebuggerRefusal):
    """gdb answered a command with ^error."""

    debugger = "gdb"

    def __init__(self, message: str, *, command: str, code: str | None = None) -> None:
        super().__init__(message)  # `message`: gdb's own msg, fit to show a user
        self.args = (f"gdb command {command!r} failed: {message}",)
        self.command = command
        self.code = code  # e.g. "undefined-command"; None when gdb gave no code


class GdbExited(ConnectionError):
    """gdb went away while a command was pending, or before it was sent."""


@dataclass
class MIRecord:
    """One async or stream record, as delivered to `on_record`."""

    kind: str  # "exec" (*), "notify" (=), "status" (+), "console" (~), "target" (@), "log" (&)
    name: str | None  # async class, e.g. "stopped"; None for stream records
    payload: Any  # dict for async records, str for stream records and non-MI text
    token: int | None = None  # the token an async record carried, rarely present


@dataclass
class MIResult:
    """One result record (^done, ^running, ^connected, ^error, ^exit)."""

    token: int | None
    result_class: str
    payload: dict[str, Any]


def quote(s: str) -> str:
    """Quote `s` as an MI c-string argument (paths with spaces, quotes, backslashes)."""
    out = []
    for c in s:
        if c in _C_ESCAPES:
            out.append(_C_ESCAPES[c])
        elif ord(c) < 0x20 or c == "\x7f":
            out.append(f"\\{ord(c):03o}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def parse_line(line: str) -> MIRecord | MIResult | None:
    """Turn one line of gdb's output (without its newline) into a record; None for "(gdb)"."""
    if _PROMPT.fullmatch(line):
        return None
    m = _PREFIX.match(line)
    if m is None:
        return MIRecord("target", None, line)  # not MI: e.g. the debuggee's own output
    sigil = m.group(2)
    # pygdbmi does not know status (+) records; they have the syntax of notify records.
    text = line if sigil != "+" else f"{line[: m.start(2)]}={line[m.end(2) :]}"
    try:
        parsed = parse_response(text)
    except Exception:  # a malformed line is data we pass on, not a reason to stop reading
        log.debug("Could not parse gdb output line %r", line, exc_info=True)
        return MIRecord("target", None, line)
    kind = _KINDS[sigil]
    ptype = parsed["type"]
    if ptype == "output" or (ptype in ("console", "log", "target") and m.group(1)):
        return MIRecord("target", None, line)
    payload = parsed.get("payload")
    if ptype == "result":
        return MIResult(parsed.get("token"), parsed["message"], payload or {})
    if ptype == "notify":
        return MIRecord(kind, parsed["message"], payload or {}, parsed.get("token"))
    return MIRecord(kind, None, payload if isinstance(payload, str) else "")


@dataclass
class _Pending:
    command: str
    future: asyncio.Future[dict[str, Any]]
    streams: list[str] | None = field(default=None)  # console() collects text here


class _GdbProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The stream protocol of asyncio's Process, also telling when gdb itself has exited."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self._gdb_transport: asyncio.SubprocessTransport | None = None  # base clears its own
        self.exit_code: asyncio.Future[int] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._gdb_transport = transport

    def process_exited(self) -> None:
        assert self._gdb_transport is not None
        code = self._gdb_transport.get_returncode()
        if not self.exit_code.done():
            self.exit_code.set_result(code if code is not None else -1)
        super().process_exited()


class MIConnection:
    """gdb's MI over its stdin/stdout. Owned by one event loop; no polling, no threads."""

    def __init__(self, process: asyncio.subprocess.Process, protocol: _GdbProtocol,
                 on_record: Callable[[MIRecord], None] | None, line_limit: int) -> None:
        """Wrap a spawned gdb; use `start()` rather than calling this."""
        loop = asyncio.get_running_loop()
        self._process = process
        self._protocol = protocol
        self._on_record = on_record
        self._line_limit = line_limit
        self._tokens = itertools.count(1)
        # In the order the commands were written: gdb answers them in that order, so
        # stream output belongs to the oldest command still without a result.
        self._pending: dict[int, _Pending] = {}
        self._eof = False
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._close_task: asyncio.Task[None] | None = None
        self.exited: asyncio.Future[int] = loop.create_future()
        self._stderr_task = loop.create_task(self._read_stderr())
        self._reader_task = loop.create_task(self._read_stdout())
        self._exit_task = loop.create_task(self._watch_exit())

    @classmethod
    async def start(cls, gdb_path: str = "gdb", *, extra_args: Sequence[str] = (),
                    env: dict[str, str] | None = None, cwd: str | None = None,
                    on_record: Callable[[MIRecord], None] | None = None,
                    line_limit: int = LINE_LIMIT) -> MIConnection:
        """Spawn gdb in MI3 mode in its own session and run `SETUP_COMMANDS`."""
        argv = [gdb_path, "--nx", "--quiet", "--interpreter=mi3", *extra_args]
        loop = asyncio.get_running_loop()
        protocol = _GdbProtocol(line_limit, loop)
        pipe = asyncio.subprocess.PIPE
        try:
            transport, _ = await loop.subprocess_exec(
                lambda: protocol, *argv, stdin=pipe, stdout=pipe, stderr=pipe, env=env,
                cwd=cwd, start_new_session=True, preexec_fn=die_with_parent)
        except OSError as exc:
            raise OSError(exc.errno, f"could not start gdb {gdb_path!r}: {exc.strerror}; "
                          "install gdb or configure the path of its executable") from exc
        process = asyncio.subprocess.Process(transport, protocol, loop)
        conn = cls(process, protocol, on_record, line_limit)
        try:
            for command in SETUP_COMMANDS:
                await conn.command(command, timeout=30)
        except BaseException:
            await conn.close(timeout=2)
            raise
        return conn

    @property
    def pid(self) -> int:
        """gdb's process id, which is also its process group and session id."""
        return self._process.pid

    @property
    def closing(self) -> bool:
        """Whether `close()` was called: gdb's exit from then on is expected."""
        return self._close_task is not None

    @staticmethod
    def quote(s: str) -> str:
        """Quote `s` as an MI c-string argument."""
        return quote(s)

    async def command(self, command: str, *, timeout: float | None = None) -> dict[str, Any]:
        """Send one MI command and return the payload of its result record."""
        return await self._run(command, None, timeout)

    async def console(self, text: str, *, timeout: float | None = None) -> str:
        """Run a CLI command and return the console and log text gdb printed for it.

        That text is the command's answer: it is not passed to `on_record` as well.
        """
        streams: list[str] = []
        await self._run(f"-interpreter-exec console {quote(text)}", streams, timeout)
        return "".join(streams)

    async def _run(self, command: str, streams: list[str] | None,
                   timeout: float | None) -> dict[str, Any]:
        if "\n" in command or "\r" in command:
            raise ValueError(f"MI command {command!r} contains a line break; quote its "
                             "arguments with MIConnection.quote()")
        stdin = self._process.stdin
        if self._eof or stdin is None or stdin.is_closing():
            raise GdbExited(f"gdb (pid {self.pid}) has exited; cannot send {command!r}")
        token = next(self._tokens)
        try:
            # surrogateescape gives back the bytes of a file name that was not UTF-8; any
            # other lone surrogate (e.g. "\ud800" in a client's expression) has no bytes.
            line = f"{token}{command}\n".encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            raise MIError(f"the text contains {exc.object[exc.start:exc.end]!a}, a lone "
                          "surrogate that has no UTF-8 bytes", command=command) from None
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[token] = _Pending(command, future, streams)
        stdin.write(line)
        with contextlib.suppress(ConnectionError):
            await stdin.drain()  # a broken pipe is reported through the reader's EOF
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimeoutError(f"gdb did not answer {command!r} within {timeout} s") from None

    async def close(self, timeout: float = 1.5) -> None:
        """Ask gdb to exit, then SIGCONT+SIGTERM and SIGKILL its process group; idempotent.

        `timeout` per step: the whole ladder must end well inside the server's
        shutdown_timeout (5 s by default), or the server kills the worker first."""
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._close(timeout))
        await asyncio.shield(self._close_task)

    async def _close(self, timeout: float) -> None:
        if not self._eof:
            with contextlib.suppress(MIError, ConnectionError, TimeoutError):
                await self.command("-gdb-exit", timeout=timeout)
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig == signal.SIGTERM:
                kill_group(self.pid, signal.SIGCONT)  # a stopped gdb cannot act on SIGTERM
            if sig is not None and not kill_group(self.pid, sig):
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.exited), timeout)
                break
        kill_group(self.pid, signal.SIGKILL)  # what gdb left behind, see _watch_exit
        if self._process.stdin is not None:
            self._process.stdin.close()
        tasks = {self._reader_task, self._stderr_task, self._exit_task}
        await asyncio.wait(tasks, timeout=timeout)
        for task in tasks:  # a process that escaped the group may still hold the pipes
            task.cancel()
        await asyncio.wait(tasks)

    async def _watch_exit(self) -> None:
        """Resolve `exited` and fail pending commands once gdb's process has ended."""
        # Not Process.wait(): it also waits for the pipes, which gdb's children may hold.
        code = await self._protocol.exit_code
        # A debuggee gdb started stays in gdb's process group (gdb has no terminal for job
        # control). Without gdb it would run on untraced, and it holds gdb's stdout open,
        # so the reader would never see EOF.
        kill_group(self.pid, signal.SIGKILL)
        _, reading = await asyncio.wait({self._reader_task}, timeout=2)
        if reading:
            log.warning("gdb (pid %d) exited, but a process it started keeps its stdout "
                        "open; stopped reading it", self.pid)
            self._reader_task.cancel()
            await asyncio.wait(reading)
        self._eof = True
        self._fail_pending()
        self.exited.set_result(code)

    async def _read_stdout(self) -> None:
        """Read and dispatch gdb's stdout until EOF; owned by the connection's loop."""
        reader = self._process.stdout
        assert reader is not None
        try:
            while True:
                try:
                    raw = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        self._dispatch(exc.partial)
                    break
                except asyncio.LimitOverrunError as exc:
                    await self._skip_long_line(reader, exc.consumed)
                    continue
                self._dispatch(raw)
        except asyncio.CancelledError:  # the loop is being torn down, or gdb is gone
            self._eof = True
            self._fail_pending()
            raise
        except Exception:
            log.exception("Reading gdb's output failed; treating gdb (pid %d) as gone",
                          self.pid)
        self._eof = True
        await asyncio.wait({self._stderr_task}, timeout=1)  # for its last words
        self._fail_pending()

    async def _skip_long_line(self, reader: asyncio.StreamReader, consumed: int) -> None:
        head = await reader.read(consumed)
        size = len(head)
        while True:
            try:
                size += len(await reader.readuntil(b"\n"))
                break
            except asyncio.LimitOverrunError as exc:
                size += len(await reader.read(exc.consumed))
            except asyncio.IncompleteReadError as exc:
                size += len(exc.partial)
                break
        log.warning("gdb printed an MI line of %d bytes, more than the limit of %d; "
                    "dropped it: %r...", size, self._line_limit, head[:80])
        m = _RESULT_HEAD.match(head)
        entry = self._pending.pop(int(m.group(1)), None) if m else None
        if entry is not None and not entry.future.done():
            entry.future.set_exception(MIError(
                f"the reply was {size} bytes, more than the MI line limit of "
                f"{self._line_limit} bytes; ask for less data or raise line_limit",
                command=entry.command, code="reply-too-long"))

    def _dispatch(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        record = parse_line(line)
        if record is None:
            return
        if isinstance(record, MIResult):
            self._resolve(record)
            return
        if record.kind in ("console", "log") and self._pending:
            oldest = next(iter(self._pending.values()))
            if oldest.streams is not None:
                oldest.streams.append(record.payload)
                return  # the command's answer: the caller shows it, not on_record
        if self._on_record is not None:
            try:
                self._on_record(record)
            except Exception:
                log.exception("on_record failed for gdb record %r", record)

    def _resolve(self, result: MIResult) -> None:
        entry = self._pending.pop(result.token, None) if result.token is not None else None
        if entry is None:
            log.debug("Dropping gdb result record with no pending token: %r", result)
            return
        if entry.future.done():  # its caller gave up waiting (timeout or cancellation)
            log.debug("Dropping late gdb result for %r: %r", entry.command, result)
            return
        if result.result_class == "error":
            msg = result.payload.get("msg", "gdb gave no message")
            entry.future.set_exception(
                MIError(str(msg), command=entry.command, code=result.payload.get("code")))
        else:  # done, running, connected, exit
            entry.future.set_result(result.payload)

    def _fail_pending(self) -> None:
        said = "; its stderr said: " + " | ".join(self._stderr_tail) if self._stderr_tail else ""
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            if not entry.future.done():
                entry.future.set_exception(GdbExited(
                    f"gdb (pid {self.pid}) exited while {entry.command!r} was pending{said}"))

    async def _read_stderr(self) -> None:
        """Log what gdb writes to stderr (MI itself goes to stdout)."""
        reader = self._process.stderr
        assert reader is not None
        with contextlib.suppress(ValueError, ConnectionError):  # ValueError: over-long line
            while line := await reader.readline():
                text = line.decode("utf-8", "replace").rstrip()
                self._stderr_tail.append(text)
                log.warning("gdb (pid %d) stderr: %s", self.pid, text)
