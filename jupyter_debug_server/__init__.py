"""jupyter-debug-server: debug programs outside the kernel from Jupyter, over DAP."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import DebugServerApp

    return [{"module": "jupyter_debug_server", "app": DebugServerApp}]
