"""Debug Adapter Protocol plumbing: framing, messages and an asyncio channel.

This package depends on nothing else of ours, so the worker processes and the
server import the same code.
"""

from __future__ import annotations

from .channel import ChannelClosed, DapChannel, DapRequestError
from .framing import DEFAULT_MAX_MESSAGE, FrameDecoder, FramingError, encode

__all__ = [
    "DEFAULT_MAX_MESSAGE",
    "ChannelClosed",
    "DapChannel",
    "DapRequestError",
    "FrameDecoder",
    "FramingError",
    "encode",
]
