"""`jupyter-debug-server mcp`: an MCP server through which AI agents debug, on the same
sessions people watch in JupyterLab, with the same authentication.

- `server.py`: builds the SDK's MCPServer (stdio only) with the tools and resources;
  the SDK comes with the extra `jupyter-debug-server[mcp]` and is imported only there;
- `tools.py`: the tools, typed thin wrappers over the client library;
- `stops.py`: what control tools answer: the next stop (location, source, locals, new
  output), the end, or `pending: true`;
- `results.py`: results capped by size and depth, with a note on how to page.
"""

from __future__ import annotations

from .server import EXTRA_HINT, McpUnavailable, build_server, serve

__all__ = ["EXTRA_HINT", "McpUnavailable", "build_server", "serve"]
