"""`jupyter debug-server` / `jupyter-debug-server`: the command line.

- `parser.py`: the argument parser and `main`, the console entry point;
- `serve.py`: `serve [--demo]`, a Jupyter server with the extension;
- `sessions.py`: launch, attach, list, show, stop, logs, break, continue, step, pause,
  stack, vars, eval; `tokens.py`: token, tokens, revoke; `forward.py`: forward;
  `history.py`: history, watch; `mcp.py`: mcp, the MCP server for AI agents;
- `context.py`: what those commands share (options, client, output, session prefixes).

Every command but `serve` is a thin wrapper over the client library
(`jupyter_debug_server.client`).
"""

from __future__ import annotations

from .parser import COMMAND_GROUPS, build_parser, main

__all__ = ["COMMAND_GROUPS", "build_parser", "main"]
