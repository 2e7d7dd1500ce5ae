"""The IPython extension: `%load_ext jupyter_debug_server` registers the `%debug_session`
line and cell magics (magics.py), whose results display through display.py."""

from __future__ import annotations

from typing import Any

from .magics import DebugSessionMagics

__all__ = ["DebugSessionMagics", "load_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """Register `%debug_session` on `ipython` (one magics object, so one client and one
    current session, per shell)."""
    ipython.register_magics(DebugSessionMagics(ipython))
