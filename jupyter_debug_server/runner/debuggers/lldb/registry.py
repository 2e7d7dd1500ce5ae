"""The lldb adapter's request registry (handlers register in the modules beside this).

Commands without a handler here go to lldb-dap unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..dispatch import Registry

if TYPE_CHECKING:
    from .adapter import LldbAdapter

REQUESTS: Registry[LldbAdapter] = Registry({"supportsTerminateRequest": True})
request = REQUESTS.request

#: Checks that run before a request goes to lldb-dap unchanged, synchronously: stepping
#: requests pass here, and a task per step would cost every step a loop turn. A check
#: raises AdapterError to refuse the request.
CHECKS: dict[str, Callable[[LldbAdapter, dict[str, Any]], None]] = {}
