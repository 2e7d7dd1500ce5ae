"""The gdb adapter's request registry (handlers register in the modules beside this)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..dispatch import Registry

if TYPE_CHECKING:
    from .adapter import GdbAdapter

BASE_CAPABILITIES: dict[str, Any] = {
    "supportsConfigurationDoneRequest": True,
    "supportsTerminateRequest": True,
    "supportTerminateDebuggee": True,
    "supportsHitConditionalBreakpoints": True,
    "supportsLogPoints": True,
}

REQUESTS: Registry[GdbAdapter] = Registry(BASE_CAPABILITIES)
request = REQUESTS.request
