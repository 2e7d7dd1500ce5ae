"""Find the lldb-dap (or older lldb-vscode) executable."""

from __future__ import annotations

import os
import shutil

_CANDIDATES = ("lldb-dap", *(f"lldb-dap-{n}" for n in range(30, 13, -1)), "lldb-vscode",
               *(f"lldb-vscode-{n}" for n in range(17, 9, -1)))


def find_lldb_dap(configured: str | None = None) -> str | None:
    """The lldb-dap (or lldb-vscode) executable: the configured one, else the newest on PATH."""
    if configured:
        return shutil.which(configured) or (configured if os.access(configured, os.X_OK)
                                             else None)
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None
