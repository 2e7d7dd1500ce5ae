"""`jupyter debug-server forward`: a local DAP endpoint for IDEs, relayed to a session's
DAP WebSocket tunnel (`GET /api/debug/sessions/{id}/dap`).

An IDE speaks DAP with Content-Length framing, either on the forward's stdin/stdout
(`forward_stdio`, for an IDE's "debug adapter executable") or on a loopback TCP port
(`PortForward`, for VS Code's `debugServer` or nvim-dap's `server` adapters). Each IDE
connection gets its own WebSocket, so it is one client of the session's DapMux. A TCP
connection is served only if its peer socket belongs to our own OS user.

Everything here runs on one asyncio loop (the CLI's `asyncio.run`); blocking REST calls
and /proc reads go to a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import pwd
import sys
from collections.abc import Callable
from typing import Any

from tornado.websocket import WebSocketClientConnection, WebSocketClosedError

from ..dap.channel import set_nodelay
from ..dap.framing import FrameDecoder, FramingError, encode
from ..websocket_write import write_text
from .api import FINAL_STATES, DebugServerClient, _sid
from .errors import DebugServerClientError
from .events import EventStream, open_websocket
from .peer_owner import socket_owner

log = logging.getLogger("jupyter_debug_server.forward")

Message = dict[str, Any]

_READ_CHUNK = 64 * 1024
# Bytes that may wait for an IDE that does not read before it is cut off.
_MAX_IDE_BACKLOG = 32 * 1024 * 1024
FrameHandler = Callable[[str | bytes | None], None]
# After the session ends, how long open IDE connections may take to disconnect on their
# own (they have been sent `terminated`) before the forward closes them and exits.
_END_GRACE = 5.0


class Tunnel:
    """One DAP WebSocket to a session: one DAP message per text frame.

    Frames are relayed as they are (the server checks what an IDE sends; what the server
    sends is DAP already): no JSON work on the stepping path. The server's frames go to
    `on_frame` straight from tornado's callback, without a queue and a task hop.
    """

    def __init__(self, connection: WebSocketClientConnection | None = None) -> None:
        self.connection = connection
        self._handler: FrameHandler | None = None
        self._early: list[str | bytes | None] = []  # frames before a handler was set

    @classmethod
    async def open(cls, client: DebugServerClient, session_id: str,
                   timeout: float = 30) -> Tunnel:
        """Join the session's DAP multiplexer; the server's refusal raises
        DebugServerClientError before any DAP byte flows."""
        route = f"/api/debug/sessions/{_sid(session_id)}/dap"
        tunnel = cls()
        tunnel.connection = await open_websocket(client, route, timeout,
                                                 on_message=tunnel._on_frame)
        return tunnel

    def _on_frame(self, raw: str | bytes | None) -> None:
        if self._handler is None:
            self._early.append(raw)
        else:
            self._handler(raw)

    def on_frame(self, handler: FrameHandler) -> None:
        """Deliver the server's frames (None once it closed the tunnel) to `handler`."""
        self._handler = handler
        early, self._early = self._early, []
        for raw in early:
            handler(raw)

    def send_text(self, text: str) -> Any:
        """Send one message's JSON text; the returned future resolves once it is written."""
        assert self.connection is not None
        return write_text(self.connection.protocol, text)

    @property
    def why_closed(self) -> str:
        """The server's close code and reason, as a phrase."""
        assert self.connection is not None
        code, reason = self.connection.close_code, self.connection.close_reason
        if reason:
            return f"{reason} (code {code})"
        return f"code {code}" if code is not None else "the connection was lost"

    def close(self) -> None:
        """Leave the session's multiplexer (never ends the session)."""
        if self.connection is not None:
            self.connection.close()


def _is_disconnect_response(text: str) -> bool:
    if '"disconnect"' not in text:  # cheap test first: almost every frame is something else
        return False
    with contextlib.suppress(ValueError):
        message = json.loads(text)
        return bool(message.get("type") == "response" and message.get("command") == "disconnect")
    return False


def _last_seq(text: str) -> int:
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        return int(json.loads(text).get("seq") or 0)
    return 0


class _ToIde:
    """tornado's callback for the server's frames: each is written to the IDE at once."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.last = ""  # the server's last frame: our closing events are numbered after it

    def end(self, why: str) -> None:
        if not self.ended.done():
            self.ended.set_result(why)

    def __call__(self, raw: str | bytes | None) -> None:
        if self.ended.done():
            return
        if raw is None:
            self.end("")  # the server closed the tunnel: relay() tells the IDE
            return
        if isinstance(raw, bytes):
            log.warning("ignoring a binary tunnel frame of %d bytes", len(raw))
            return
        body = raw.encode()
        try:
            self.writer.write(b"Content-Length: %d\r\n\r\n%b" % (len(body), body))
        except (ConnectionError, OSError, RuntimeError) as exc:
            self.end(f"the IDE connection failed: {exc}")
            return
        self.last = raw
        if _is_disconnect_response(raw):
            self.end("the IDE disconnected (the session carries on)")
        elif self.writer.transport.get_write_buffer_size() > _MAX_IDE_BACKLOG:
            self.end(f"the IDE stopped reading ({_MAX_IDE_BACKLOG} bytes waited for it)")


async def _from_ide(reader: asyncio.StreamReader, tunnel: Tunnel) -> str:
    """Send the IDE's messages to the tunnel until the IDE or the server stops; why."""
    decoder = FrameDecoder()
    while True:
        data = await reader.read(_READ_CHUNK)
        if not data:
            return "the IDE closed the connection"
        try:
            texts = [body.decode("utf-8") for body in decoder.feed_bodies(data)]
        except (FramingError, UnicodeDecodeError) as exc:
            return f"the IDE sent something that is not DAP: {exc}"
        written = None
        try:
            for text in texts:
                written = tunnel.send_text(text)
            if written is not None:
                await written  # back-pressure: the server reads as fast as we send
        except WebSocketClosedError:
            return f"the server closed the tunnel: {tunnel.why_closed}"


async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                tunnel: Tunnel) -> str:
    """Relay DAP between an IDE's byte stream and the tunnel until one side ends; why.

    Ends after the IDE's `disconnect` is answered (the IDE is done; the session carries
    on). When the server closes the tunnel first, the IDE is told why with an `output`
    event and `terminated`, so it shows the end instead of hanging. An IDE that stops
    reading is cut off once _MAX_IDE_BACKLOG bytes wait for it (bounded memory).
    """
    to_ide = _ToIde(writer)
    tunnel.on_frame(to_ide)
    reading = asyncio.ensure_future(_from_ide(reader, tunnel))
    try:
        await asyncio.wait([reading, to_ide.ended], return_when=asyncio.FIRST_COMPLETED)
        if not to_ide.ended.done():
            return reading.result()
        why = to_ide.ended.result()
        if not why:
            why = f"the server closed the tunnel: {tunnel.why_closed}"
            await _tell_ide_it_ended(writer, _last_seq(to_ide.last), why)
        await writer.drain()
        return why
    except (ConnectionError, OSError) as exc:
        return f"the IDE connection failed: {exc}"
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)


async def _tell_ide_it_ended(writer: asyncio.StreamWriter, last_seq: int, why: str) -> None:
    output: Message = {"type": "event", "event": "output", "seq": last_seq + 1,
                       "body": {"category": "console",
                                "output": f"jupyter-debug-server forward: {why}\n"}}
    ended: Message = {"type": "event", "event": "terminated", "seq": last_seq + 2}
    with contextlib.suppress(ConnectionError, OSError):
        writer.write(encode(output) + encode(ended))
        await writer.drain()


async def _finish(writer: asyncio.StreamWriter) -> None:
    """Flush what is buffered for the IDE and close its stream."""
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()


# -- stdio ---------------------------------------------------------------------------


async def _stdio_streams() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Non-blocking streams on duplicates of fds 0 and 1 (closing them leaves sys.stdout
    alone, so the interpreter's exit does not trip over a closed stdout)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_READ_CHUNK)
    stdin = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
        transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), stdout)
    except ValueError:
        stdin.close()
        stdout.close()
        raise DebugServerClientError(
            None, "bad-stdio", "forward --stdio needs stdin and stdout to be pipes (an "
            "IDE runs it as a debug adapter executable), not regular files") from None
    return reader, asyncio.StreamWriter(transport, protocol, None, loop)


async def forward_stdio(client: DebugServerClient, session_id: str) -> int:
    """Serve one IDE on stdin/stdout until it disconnects or the tunnel closes; exit 0."""
    tunnel = await Tunnel.open(client, session_id)
    reader, writer = await _stdio_streams()
    log.info("forwarding DAP on stdio to session %s", session_id)
    why = await relay(reader, writer, tunnel)
    tunnel.close()
    await _finish(writer)
    log.info("forward to session %s ended: %s", session_id, why)
    return 0


# -- a loopback port -----------------------------------------------------------------


def _user(uid: int) -> str:
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


def _host_port(address: Any) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class PortForward:
    """A TCP listener whose every accepted same-user connection is relayed to its own
    tunnel; runs until the session ends (or the credential stops working)."""

    def __init__(self, client: DebugServerClient, session_id: str, host: str,
                 port: int) -> None:
        self.client = client
        self.session_id = session_id
        self.host = host
        self.port = port
        self.uid = os.getuid()
        self._connections: set[asyncio.Task[Any]] = set()

    async def run(self) -> int:
        """Listen, print `listening on HOST:PORT`, serve; 0 once the session ended."""
        server = await asyncio.start_server(self._accept, self.host, self.port)
        bound = [sock.getsockname() for sock in server.sockets]
        for address in bound:
            if not ipaddress.ip_address(address[0].split("%", 1)[0]).is_loopback:
                log.warning("listening on %s, which is not a loopback address: other hosts "
                            "can connect; only connections from uid %d on this host are "
                            "served", _host_port(address), self.uid)
        print(f"listening on {_host_port(bound[0])}", flush=True)
        try:
            ended, why = await self._watch_session()
        finally:
            server.close()
        log.info("stopped listening: %s", why)
        if self._connections:
            _, late = await asyncio.wait(self._connections, timeout=_END_GRACE)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        return 0 if ended else 1

    async def _watch_session(self) -> tuple[bool, str]:
        """Wait for the session's end on its events WebSocket: (ended, why).

        `ended` is False when the forward cannot go on for another reason (the token was
        revoked, the server went away).
        """
        while True:
            try:
                stream = await EventStream.connect(self.client, self.session_id, only="end")
            except DebugServerClientError as exc:
                return False, exc.message
            try:
                while (frame := await stream.next()) is not None:
                    state = frame["session"]["state"] if frame.get("type") == "state" else None
                    if state in FINAL_STATES:
                        return True, f"session {self.session_id} is {state}"
            finally:
                stream.close()
            # Closed without an end (a token's revocation, a slow-reader cut-off, the
            # server stopping): the session's route says which.
            try:
                model = await asyncio.to_thread(self.client.session, self.session_id)
            except DebugServerClientError as exc:
                return False, exc.message
            if model["state"] in FINAL_STATES:
                return True, f"session {self.session_id} is {model['state']}"

    async def _accept(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        """Serve one IDE connection (a task of its own, tracked until it ends)."""
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except Exception:
            log.exception("serving an IDE connection failed")
        finally:
            self._connections.discard(task)
            await _finish(writer)

    async def _serve(self, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        set_nodelay(writer.get_extra_info("socket"))  # DAP is small request/response pairs
        peer: Any = writer.get_extra_info("peername")
        ours: Any = writer.get_extra_info("sockname")
        where = _host_port(peer)
        # Decide before reading a byte from it: nothing of the peer's reaches the session
        # unless the peer is our own user.
        owner = await asyncio.to_thread(socket_owner, peer[:2], ours[:2])
        if owner != self.uid:
            who = "an unknown user (no such socket on this host)" if owner is None else \
                _user(owner)
            log.warning("refused the connection from %s: it belongs to %s, and this forward "
                        "serves only %s", where, who, _user(self.uid))
            return
        try:
            tunnel = await Tunnel.open(self.client, self.session_id)
        except DebugServerClientError as exc:
            log.warning("closing the connection from %s: %s", where, exc.message)
            return
        log.info("connection from %s joined session %s", where, self.session_id)
        try:
            why = await relay(reader, writer, tunnel)
        finally:
            tunnel.close()
        log.info("connection from %s ended: %s", where, why)
