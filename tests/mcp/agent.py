"""An agent's side of `jupyter-debug-server mcp`: the SDK's own stdio client, which starts
the command as an MCP client in an editor would, and helpers to call its tools."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

from jupyter_debug_server.client import TOKEN_ENV, URL_ENV

from ..support.server_process import ServerProcess

Json = dict[str, Any]


@contextlib.asynccontextmanager
async def mcp_session(server: ServerProcess, *args: str, stderr: Path,
                      token: str | None = None) -> AsyncIterator[ClientSession]:
    """An initialized MCP session with `jupyter-debug-server mcp ARGS…`, which finds the
    server through the environment (as an mcp.json's `env` sets it); its stderr goes to
    `stderr` (checked for tracebacks by the caller)."""
    env = {URL_ENV: f"http://127.0.0.1:{server.port}/",
           TOKEN_ENV: server.token if token is None else token,
           # nothing else to find: an empty runtime dir
           "JUPYTER_RUNTIME_DIR": str(stderr.parent / "no-runtime")}
    if "VIRTUAL_ENV" in os.environ:
        env["VIRTUAL_ENV"] = os.environ["VIRTUAL_ENV"]
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "jupyter_debug_server.cli", "mcp", *args],
        env=env)
    with stderr.open("a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            yield session


def text_of(result: CallToolResult) -> str:
    """The text content of a tool result."""
    return "".join(c.text for c in result.content if isinstance(c, TextContent))


async def call(session: ClientSession, name: str, **arguments: Any) -> Json:
    """Call a tool that must succeed; its structured result."""
    result = await session.call_tool(name, arguments)
    assert not result.is_error, (name, arguments, text_of(result))
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


async def refused(session: ClientSession, name: str, **arguments: Any) -> str:
    """Call a tool that must fail; the text of its error."""
    result = await session.call_tool(name, arguments)
    assert result.is_error, (name, arguments, result.structured_content)
    return text_of(result)
