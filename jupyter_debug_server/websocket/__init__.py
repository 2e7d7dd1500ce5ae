"""The server's WebSockets after tornado's authenticated handshake.

Why it exists: tornado reads a WebSocket through its IOStream, a coroutine awaiting a future
per read, so every frame a stepping IDE sends costs a Task wake-up, a failed `recv()` and a
dozen Python calls; its frame code masks in Python when its C speedup is missing and checks
less than RFC 6455 asks. Here tornado still does what it is good at (routing, Jupyter's
authentication and authorization in the handler's `prepare`/`get`, the `101`), and then
the connection is taken over: its socket moves to an asyncio transport of ours (seam.py,
wire.py), and its frames are parsed, unmasked, UTF-8-checked and close-coded by the
`websockets` library's Sans-I/O protocol (connection.py). The gain of the take-over is
measured by bench/tunnel_latency.py (bench/README.md has the numbers).

Large messages (large.py): for a handler that asks (`large_message_threshold`, the DAP
tunnel), the payload of a frame of at least that size is split off the byte stream as it
arrives, a read at a time, and the message is handed over as chunks of bytes
(`on_large_message(LargeMessage)`): websockets would take a 64 MiB payload whole, and copy,
unmask and decode it in single calls of tens of milliseconds each on the event loop.

Which tornado: the take-over uses only public tornado names (`RequestHandler.detach`,
`IOStream.read_bytes`/`write`/`socket`, `IOLoop.remove_handler`) and is checked against
tornado 6.6 (`seam.TORNADO_CHECKED`, the range pyproject.toml pins);
tests/websocket/test_take_over.py fails on any other tornado, and when a plain connection
is not taken over. TLS connections stay on tornado's SSLIOStream (their TLS state lives
there), with the same frame handling.

Layering: imports tornado and websockets, nothing else of ours; api/ builds on it.
"""

from __future__ import annotations

from .connection import NOT_UTF8, ServerConnection, send_text
from .large import LargeMessage
from .seam import TORNADO_CHECKED, TakeOverError, check_tornado

__all__ = ["NOT_UTF8", "TORNADO_CHECKED", "LargeMessage", "ServerConnection",
           "TakeOverError", "check_tornado", "send_text"]
