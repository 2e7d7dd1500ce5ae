"""The standalone worker's DAP channel on stdin/stdout, whatever they are.

An IDE runs a worker as its debug adapter executable with pipes (or a socket) for stdin
and stdout: those take the channel's fast path, read and written from the event loop.
asyncio's pipe transports refuse regular files, so a file (a conversation prepared in
advance, answers captured to a file) is relayed through a pipe by a thread of its own.
Requests read from a file are handed to the adapter one at a time, as an IDE would send
them: a file cannot wait for answers or for `initialized`, the harness waits for it.
When stdin is a terminal, a person probably typed the command: stderr says what it is for.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import stat
import sys
import threading
from collections.abc import Callable

from ...dap import DapChannel
from ...dap.messages import Message

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_FLUSH_TIMEOUT = 10.0

USAGE = """\
{command}: {what}
This is a Debug Adapter Protocol adapter: it speaks DAP on stdin and stdout, it is not
for typing into. An IDE runs it as its debug adapter executable, e.g. nvim-dap with
  dap.adapters.jds = {{ type = 'executable', command = '{python}',
                       args = {{ '-m', '{module}' }} }}
or a VS Code extension whose "debuggers" entry names this command as its "program".
To debug a session of a Jupyter server from an IDE instead, run
`jupyter-debug-server forward SESSION --stdio` as the adapter executable, or
`jupyter-debug-server forward SESSION --port` (it prints the port it chose) and attach
the IDE to that port (VS Code launch.json: "debugServer": PORT).
Waiting for DAP on this terminal anyway; press Ctrl-C to quit.
"""


def pipelike(fd: int) -> bool:
    """Whether asyncio's pipe transports take `fd` (a pipe, socket or character device)."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


class _Pump(threading.Thread):
    """Copy bytes from one fd to another until the source ends (a blocking thread: the
    fallback for files, which the event loop cannot poll)."""

    def __init__(self, source: int, sink: int, name: str, *, owned: int | None) -> None:
        super().__init__(name=name, daemon=True)
        self.source = source
        self.sink = sink
        self.owned = owned  # a pipe end to close when done (never stdin or stdout)

    def run(self) -> None:
        try:
            while data := os.read(self.source, _CHUNK):
                view = memoryview(data)
                while view:
                    view = view[os.write(self.sink, view):]
        except OSError as exc:
            log.warning("%s stopped: %s", self.name, exc)
        finally:
            if self.owned is not None:
                os.close(self.owned)


class StdioChannel(DapChannel):
    """A channel on this process's stdin/stdout; `send` tells the sequencer what went out."""

    sequencer: _Sequencer | None = None

    def send(self, message: Message) -> int:
        seq = super().send(message)
        if self.sequencer is not None:
            self.sequencer.sent(message)
        return seq


class _Sequencer:
    """Hands the requests of a prepared file to the adapter one at a time: each once the
    one before it has been answered, or for `launch`/`attach` (which debugpy answers only
    after `configurationDone`) once `initialized` has been sent."""

    def __init__(self, channel: StdioChannel) -> None:
        self.channel = channel
        self.adapter_on_request: Callable[[Message], None] = _unbound
        self._waiting: collections.deque[Message] = collections.deque()
        self._busy: Message | None = None

    def on_request(self, message: Message) -> None:
        self._waiting.append(message)
        self._next()

    def sent(self, message: Message) -> None:
        busy = self._busy
        if busy is None:
            return
        answered = message["type"] == "response" and message.get("request_seq") == busy.get("seq")
        started = (message["type"] == "event" and message.get("event") == "initialized"
                   and busy.get("command") in ("launch", "attach"))
        if answered or started:
            self._busy = None
            # Not from inside the adapter's send: the next request starts afresh.
            asyncio.get_running_loop().call_soon(self._next)

    def _next(self) -> None:
        while self._busy is None and self._waiting and not self.channel.is_closed:
            self._busy = self._waiting.popleft()
            self.adapter_on_request(self._busy)


def _unbound(message: Message) -> None:
    raise RuntimeError("the sequencer has no adapter yet")


class Stdio:
    """The channel on stdin/stdout and the threads that relay files, if any."""

    def __init__(self) -> None:
        self.channel: StdioChannel | None = None
        self.from_file = False
        self._pumps: list[_Pump] = []

    async def open(self, name: str) -> StdioChannel:
        """Build the channel (see the module docstring)."""
        reading, writing = sys.stdin.fileno(), sys.stdout.fileno()
        self.from_file = not pipelike(reading)
        if self.from_file:
            reading = self._pump_from(reading)
        if not pipelike(writing):
            writing = self._pump_to(writing)
        # closefd=False for the real stdin/stdout: they stay ours until the process ends.
        owned = (reading != sys.stdin.fileno(), writing != sys.stdout.fileno())
        rfile = os.fdopen(reading, "rb", buffering=0, closefd=owned[0])
        wfile = os.fdopen(writing, "wb", buffering=0, closefd=owned[1])
        channel = await StdioChannel.from_pipes(rfile, wfile, name=name)
        assert isinstance(channel, StdioChannel)
        if self.from_file:
            channel.sequencer = _Sequencer(channel)
        self.channel = channel
        return channel

    def bind(self, on_request: Callable[[Message], None]) -> None:
        """Route requests to `on_request` (through the sequencer for a file)."""
        assert self.channel is not None
        sequencer = self.channel.sequencer
        if sequencer is None:
            self.channel.on_request = on_request
        else:
            sequencer.adapter_on_request = on_request
            self.channel.on_request = sequencer.on_request

    def _pump_from(self, fd: int) -> int:
        """Relay the file on `fd` into a pipe; the pipe's reading end.

        The writing end stays open at the file's end: the end of a prepared conversation
        is not the IDE going away, so the session runs until it ends by itself (the
        program exits, or a `disconnect` in the file) or the worker gets a signal.
        """
        ours, theirs = os.pipe()
        pump = _Pump(fd, theirs, "stdin-file", owned=None)
        self._pumps.append(pump)
        pump.start()
        return ours

    def _pump_to(self, fd: int) -> int:
        """Relay a pipe into the file on `fd`; the pipe's writing end."""
        theirs, ours = os.pipe()
        pump = _Pump(theirs, fd, "stdout-file", owned=theirs)
        self._pumps.append(pump)
        pump.start()
        return ours

    def flush(self) -> None:
        """Wait (bounded) until what the channel wrote has reached the output file.

        Blocking (the worker runs it in an executor), once the channel is closed.
        """
        for pump in self._pumps:
            if pump.name == "stdout-file":
                pump.join(_FLUSH_TIMEOUT)


def print_usage_if_terminal(module: str, what: str) -> None:
    """Say on stderr what this command is for when stdin is a terminal."""
    try:
        if not os.isatty(sys.stdin.fileno()):
            return
    except (OSError, ValueError):  # no stdin at all
        return
    sys.stderr.write(USAGE.format(command=f"python -m {module}", what=what,
                                  python=sys.executable, module=module))
    sys.stderr.flush()
