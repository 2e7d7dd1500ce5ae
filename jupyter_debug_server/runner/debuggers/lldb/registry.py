"""The lldb adapter's request registry (handlers register in the modules beside this).

Commands without a handler here go to lldb-dap unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..dispatch import Registry

if TYPE_CHECKING:
    from .adapter import LldbAdapter

REQUESTS: Registry[LldbAdapter] = Registry({"supportsTerminateRequest": True})
request = REQUESTS.request
