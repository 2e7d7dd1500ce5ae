"""A small HTTP CONNECT proxy on loopback, for tests of the client's proxy support.

It resolves host names itself (`hosts`: name → address), as a company proxy resolves names
a laptop cannot, so a test can name the server `debug-hub.test` and know that a connection
that reached it went through the proxy. It counts the tunnels it opened and can require
`Proxy-Authorization: Basic` credentials. Owned by the event loop that started it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib


class ConnectProxy:
    """`CONNECT host:port` → a byte pipe to `hosts[host]:port`; anything else → 405."""

    def __init__(self, hosts: dict[str, str], credential: str | None = None) -> None:
        self.hosts = hosts
        self.credential = credential  # "user:password", or None: no credentials asked
        self.tunnels: list[str] = []  # "host:port" of every tunnel opened
        self.refused: list[int] = []  # the status of every refusal
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ConnectProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._tunnel(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # (cancelled: the proxy is closing; asyncio would log a cancelled task)
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)).decode("latin-1")
        lines = head.split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {name.strip().lower(): value.strip() for name, _, value in
                   (line.partition(":") for line in lines[1:] if line)}
        host, _, port = target.rpartition(":")
        status = self._refusal(method, host, headers)
        if status is not None:
            self.refused.append(status)
            writer.write(f"HTTP/1.1 {status} Refused\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
            return
        up_reader, up_writer = await asyncio.open_connection(self.hosts[host.strip("[]")],
                                                             int(port))
        self.tunnels.append(target)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()

    def _refusal(self, method: str, host: str, headers: dict[str, str]) -> int | None:
        if method != "CONNECT":
            return 405
        if self.credential is not None:
            expected = "Basic " + base64.b64encode(self.credential.encode()).decode()
            if headers.get("proxy-authorization") != expected:
                return 407
        return None if host.strip("[]") in self.hosts else 502


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(256 * 1024):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.write_eof()
