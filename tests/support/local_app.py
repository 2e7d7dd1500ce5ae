"""A tornado Application served on a loopback port of the running event loop, for tests
of the WebSocket layer without a Jupyter server."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import tornado.web
from tornado.httpserver import HTTPServer


@contextlib.contextmanager
def serving(app: tornado.web.Application) -> Iterator[int]:
    """Serve `app` on 127.0.0.1 (yields its port); stopped on exit."""
    server = HTTPServer(app)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    server.add_sockets([listener])
    try:
        yield listener.getsockname()[1]
    finally:
        server.stop()
