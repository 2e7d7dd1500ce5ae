"""`jupyter debug-server forward`: a local DAP endpoint for IDEs, relayed to a session's
DAP WebSocket tunnel (`GET /api/debug/sessions/{id}/dap`).

An IDE speaks DAP with Content-Length framing, either on the forward's stdin/stdout
(`forward_stdio`, for an IDE's "debug adapter executable") or on a loopback TCP port
(`PortForward`, for VS Code's `debugServer` or nvim-dap's `server` adapters). Each IDE
connection gets its own WebSocket, so it is one client of the session's DapMux. A TCP
connection is served only if its peer socket belongs to our own OS user.

Anything of our own user can reach a loopback port, the user's browser included (a page's
no-cors `fetch()` or form POST), so what an IDE sends is taken only in strict DAP framing
(`FrameDecoder(strict=True)`: nothing like HTTP gets past its first bytes), and its first
message must be an `initialize` request. The tunnel is opened only after that first
message checked out: a refused connection never joins the session and gets no byte back.

Everything here runs on one asyncio loop (the CLI's `asyncio.run`); blocking REST calls
and /proc reads go to a thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import pwd
import stat
import sys
from typing import Any

from ..dap.channel import set_nodelay
from .api import FINAL_STATES, DebugServerClient
from .errors import DebugServerClientError
from .events import EventStream
from .peer_owner import socket_owner
from .relay import END_GRACE, IdeSide, Relay, finish
from .transport import quote_segment as _sid
from .websocket_client import WebSocketClient, connect_websocket

log = logging.getLogger("jupyter_debug_server.forward")


# An IDE sends `initialize` as soon as it has connected; a TCP connection that has not
# sent a whole first message by then is closed (it holds a socket and a task, no tunnel).
_GREETING_TIMEOUT = 30.0


async def open_tunnel(client: DebugServerClient, session_id: str,
                      timeout: float = 30) -> WebSocketClient:
    """Join the session's DAP multiplexer (one DAP message per text frame); the server's
    refusal raises DebugServerClientError before any DAP byte flows."""
    route = f"/api/debug/sessions/{_sid(session_id)}/dap"
    return await connect_websocket(client.transport, route, timeout)


# -- stdio ---------------------------------------------------------------------------


def _loop_name() -> str:
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"


def _check_stdio() -> None:
    """Refuse stdin/stdout that are not pipes, sockets or terminals, before the loop sees
    them: uvloop (libuv) aborts the process on a descriptor that epoll cannot watch,
    such as a regular file or /dev/null."""
    for fd in (sys.stdin.fileno(), sys.stdout.fileno()):
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)):
            raise _not_pipes()


def _not_pipes() -> DebugServerClientError:
    return DebugServerClientError(
        None, "bad-stdio", "forward --stdio needs stdin and stdout to be pipes or sockets "
        "(an IDE runs it as a debug adapter executable), not regular files or devices")


async def _connect_stdio(relay: Relay) -> tuple[IdeSide, IdeSide]:
    """Relay on non-blocking transports of duplicates of fds 0 and 1 (closing them leaves
    sys.stdout alone, so the interpreter's exit does not trip over a closed stdout)."""
    loop = asyncio.get_running_loop()
    stdin = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    reading, writing = IdeSide(relay), IdeSide(relay)
    try:
        ide_in, _ = await loop.connect_read_pipe(lambda: reading, stdin)
        ide_out, _ = await loop.connect_write_pipe(lambda: writing, stdout)
    except (ValueError, OSError):
        if reading.transport is not None:
            reading.transport.close()
        stdin.close()
        stdout.close()
        raise _not_pipes() from None
    relay.attach(ide_in, ide_out)
    return reading, writing


async def forward_stdio(client: DebugServerClient, session_id: str) -> int:
    """Serve one IDE on stdin/stdout until it disconnects or the tunnel closes: exit 0;
    1 when its first bytes are not a DAP `initialize` request (nothing was relayed)."""
    _check_stdio()
    relay = Relay()
    sides = await _connect_stdio(relay)
    log.info("forwarding DAP on stdio to session %s (%s event loop)", session_id,
             _loop_name())
    await relay.first_message()
    if relay.ended.done():
        await finish(None, *sides)
        if relay.refused is not None:
            log.warning("refused the IDE on stdin: %s; nothing was relayed", relay.refused)
            return 1
        log.info("forward to session %s ended: %s", session_id, relay.ended.result())
        return 0
    try:
        tunnel = await open_tunnel(client, session_id)
    except DebugServerClientError:
        await finish(None, *sides)
        raise
    relay.join(tunnel)
    why = await relay.run()
    await finish(tunnel, *sides)
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


class _IdeConnection(IdeSide):
    """An accepted TCP connection: not read from until its owner is known to be our user
    and its tunnel is open (then it is a relay's IDE side)."""

    def __init__(self, forward: PortForward) -> None:
        super().__init__()
        self.forward = forward

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.early = b""
        self.transport.pause_reading()
        set_nodelay(transport.get_extra_info("socket"))  # DAP is small request/response pairs
        self.forward.serve(self)

    def data_received(self, data: bytes) -> None:
        if self.relay is None:
            # uvloop starts reading after connection_made whatever it asked for: keep
            # what came (nothing of it goes anywhere before the peer is known) and stop.
            self.early += data
            self.transport.pause_reading()
        else:
            self.relay.from_ide(data)

    def start(self, relay: Relay) -> None:
        """Hand what the IDE sends to `relay` from now on, beginning with what was read
        before."""
        self.relay = relay
        relay.attach(self.transport, self.transport)
        # Resume first: the early bytes may complete the first message, and the relay
        # then pauses reading again until its tunnel is open.
        self.transport.resume_reading()
        early, self.early = self.early, b""
        if early:
            relay.from_ide(early)


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
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _IdeConnection(self), self.host, self.port)
        bound = [sock.getsockname() for sock in server.sockets]
        for address in bound:
            if not ipaddress.ip_address(address[0].split("%", 1)[0]).is_loopback:
                log.warning("listening on %s, which is not a loopback address: other hosts "
                            "can connect; only connections from uid %d on this host are "
                            "served", _host_port(address), self.uid)
        print(f"listening on {_host_port(bound[0])}", flush=True)
        log.info("forwarding DAP on %s to session %s (%s event loop)", _host_port(bound[0]),
                 self.session_id, _loop_name())
        try:
            ended, why = await self._watch_session()
        finally:
            server.close()
        log.info("stopped listening: %s", why)
        if self._connections:
            _, late = await asyncio.wait(self._connections, timeout=END_GRACE)
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

    def serve(self, ide: _IdeConnection) -> None:
        """Serve one IDE connection in a task of its own, tracked until it ends."""
        task = asyncio.ensure_future(self._serve(ide))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve(self, ide: _IdeConnection) -> None:
        transport = ide.transport
        where = _host_port(transport.get_extra_info("peername"))
        tunnel: WebSocketClient | None = None
        try:
            if not await self._is_ours(ide, where):
                return
            relay = Relay()
            ide.start(relay)
            if not await self._greeted(relay, where):
                return
            tunnel = await self._open(where)
            if tunnel is not None:
                relay.join(tunnel)
                why = await relay.run()
                log.info("connection from %s ended: %s", where, why)
        except Exception:
            log.exception("serving an IDE connection failed")
        finally:
            if tunnel is None:
                transport.close()
                await ide.lost
            else:
                await finish(tunnel, ide)

    async def _is_ours(self, ide: _IdeConnection, where: str) -> bool:
        """Whether the peer is our own user (a refusal is logged)."""
        transport = ide.transport
        peer: Any = transport.get_extra_info("peername")
        ours: Any = transport.get_extra_info("sockname")
        # Decide before reading a byte from it: nothing of the peer's is even parsed
        # unless the peer is our own user.
        owner = await asyncio.to_thread(socket_owner, peer[:2], ours[:2])
        if owner == self.uid:
            return True
        who = "an unknown user (no such socket on this host)" if owner is None else \
            _user(owner)
        log.warning("refused the connection from %s: it belongs to %s, and this forward "
                    "serves only %s", where, who, _user(self.uid))
        return False

    @staticmethod
    async def _greeted(relay: Relay, where: str) -> bool:
        """Wait for the connection's first message; whether it is an `initialize` request
        in strict DAP framing (anything else is logged, without its bytes, and the
        connection is to be closed unanswered)."""
        await relay.first_message(_GREETING_TIMEOUT)
        if relay.refused is not None:
            # One line, no bytes: a browser's request carries the user's cookies.
            log.warning("refused the connection from %s: %s; it was closed unanswered "
                        "and nothing was relayed", where, relay.refused)
            return False
        if relay.ended.done():
            log.info("connection from %s ended before its first message: %s", where,
                     relay.ended.result())
            return False
        if not relay.greeted.done():
            log.warning("closed the connection from %s: no DAP message within %g s",
                        where, _GREETING_TIMEOUT)
            return False
        return True

    async def _open(self, where: str) -> WebSocketClient | None:
        """The connection's tunnel, or None when the server refuses it (logged)."""
        try:
            tunnel = await open_tunnel(self.client, self.session_id)
        except DebugServerClientError as exc:
            log.warning("closing the connection from %s: %s", where, exc.message)
            return None
        log.info("connection from %s joined session %s", where, self.session_id)
        return tunnel
