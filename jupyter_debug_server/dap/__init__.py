"""Debug Adapter Protocol plumbing: framing, messages, an asyncio channel and
the multiplexer that shares one channel among many clients.

This package depends on nothing else of ours, so the worker processes and the
server import the same code.
"""

from __future__ import annotations

from .channel import ChannelClosed, DapChannel, DapRequestError, DapTimeout
from .framing import DEFAULT_MAX_MESSAGE, FrameDecoder, FramingError, encode
from .mux import CONTROL, OBSERVE, ROLES, DapMux, MuxClient

__all__ = [
    "CONTROL",
    "DEFAULT_MAX_MESSAGE",
    "OBSERVE",
    "ROLES",
    "ChannelClosed",
    "DapChannel",
    "DapMux",
    "DapRequestError",
    "DapTimeout",
    "FrameDecoder",
    "FramingError",
    "MuxClient",
    "encode",
]
