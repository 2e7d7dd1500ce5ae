"""Python client of the debug API, used by the CLI, the magics and the MCP server.

    from jupyter_debug_server.client import connect
    client = connect()                      # --url/--token, environment, or runtime files
    model = client.create_session({"program": "app.py", "stop_on_entry": True})
    client.wait_settled(model["id"], 30)
    client.step(model["id"], "over")["stopped"]
"""

from __future__ import annotations

from .api import FINAL_STATES, DebugServerClient, Json
from .discovery import TOKEN_ENV, URL_ENV, ServerInfo, discover
from .errors import DebugServerClientError, ServerNotFound

__all__ = [
    "FINAL_STATES",
    "TOKEN_ENV",
    "URL_ENV",
    "DebugServerClient",
    "DebugServerClientError",
    "Json",
    "ServerInfo",
    "ServerNotFound",
    "connect",
    "discover",
]


def connect(url: str | None = None, token: str | None = None, *,
            timeout: float = 120) -> DebugServerClient:
    """A client of the server found by `discover` (explicit values first)."""
    info = discover(url, token)
    return DebugServerClient(info.url, info.token, timeout=timeout)
