"""Set TCP_NODELAY on every TCP socket this Python process creates.

The benchmark's ``nodelay`` mode puts this directory on ``PYTHONPATH`` for the stock
debugpy adapter and (through inheritance) its launcher and the debuggee, so that pydevd's
and the adapter's loopback sockets stop waiting on Nagle + delayed ACK. Nothing else about
debugpy changes. Accepted sockets are built through ``socket.socket(..., fileno=fd)``, so
patching ``__init__`` covers them as well as sockets made with ``socket()`` or
``create_connection()``; ``connect`` is wrapped too in case a socket's type changes.
"""

from __future__ import annotations

import os
import socket
from typing import Any

_original_init = socket.socket.__init__
_original_connect = socket.socket.connect


def _set_nodelay(sock: socket.socket) -> None:
    try:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def _init(self: socket.socket, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    _set_nodelay(self)


def _connect(self: socket.socket, address: Any) -> None:
    _set_nodelay(self)
    _original_connect(self, address)


socket.socket.__init__ = _init  # type: ignore[method-assign]
socket.socket.connect = _connect  # type: ignore[method-assign,assignment]

_trace = os.environ.get("BENCH_NODELAY_TRACE")
if _trace:
    # Debug aid: BENCH_NODELAY_TRACE=/some/file appends one line per Python process.
    import sys

    with open(_trace, "a") as _file:
        _file.write(f"nodelay sitecustomize active in pid {os.getpid()}: {sys.argv[:2]}\n")
