"""The MCP server: the tools of tools.py and two resources per session, on stdio only.

Built with the official SDK (`mcp` 2.x, `MCPServer`), which comes with the extra
`jupyter-debug-server[mcp]`: it is imported here, when the server is built, so the rest of
the package (and every other command) works without it, and its absence is one sentence
naming the extra. No network listener: the MCP client starts this process and talks on its
stdin and stdout.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from ..client import DebugServerClient
from .results import output_page

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

#: How to install what this module needs.
EXTRA_HINT = 'pip install "jupyter-debug-server[mcp]"'

#: Tools whose second call with the same arguments changes nothing more.
_IDEMPOTENT = frozenset({"set_breakpoints", "stop_session", "pause"})

#: Characters of output one read of the output resource gives.
RESOURCE_CHARS = 64_000

INSTRUCTIONS = """\
Debug programs on a Jupyter server: Python under debugpy, C/C++/Rust under gdb or lldb.
launch_session with breakpoints answers at the first stop with the location, the source
around it, the top frame's locals and the output so far. continue, step and pause answer
the same way at the next stop, or with pending: true while the program still runs (call
pause, or look again with get_session). stack, variables (paged) and evaluate inspect a
stopped program; output pages everything it printed; snapshots is its stop history.
Sessions are shared: people may watch or drive the same session from JupyterLab.
"""


class McpUnavailable(Exception):
    """The MCP SDK is not installed; the message says how to install it."""


def build_server(client: DebugServerClient, *, observe: bool = False,
                 launch_wait: float = 30) -> MCPServer:
    """The MCP server over `client`: every tool, or (`observe`) only those that read."""
    try:
        # The optional extra [mcp]: imported only when an MCP server is built.
        from mcp.server.mcpserver import MCPServer  # noqa: PLC0415 - the extra
        from mcp.server.mcpserver.exceptions import ResourceError  # noqa: PLC0415
        from mcp.types import ToolAnnotations  # noqa: PLC0415 - the extra
    except ImportError as exc:
        raise McpUnavailable(
            f"the MCP server needs the MCP SDK, which is not installed ({exc}); install "
            f"it with: {EXTRA_HINT}") from None
    # tools.py imports the SDK and pydantic (the same extra) at its top.
    from .tools import TOOL_MARK, DebugTools, Kind, ToolMark, refusals_as  # noqa: PLC0415

    server: MCPServer = MCPServer(
        name="jupyter-debug-server", instructions=INSTRUCTIONS, log_level="WARNING",
        version=_version())
    tools = DebugTools(client, launch_wait)
    for attribute in vars(DebugTools).values():
        mark: ToolMark | None = getattr(attribute, TOOL_MARK, None)
        if mark is None or (observe and not mark.observer):
            continue  # (an observer's token would be refused: it is not offered them)
        server.add_tool(getattr(tools, attribute.__name__), name=mark.name,
                        annotations=ToolAnnotations(
                            read_only_hint=mark.kind is Kind.READ,
                            destructive_hint=mark.kind is Kind.DESTRUCTIVE,
                            idempotent_hint=mark.name in _IDEMPOTENT or None,
                            open_world_hint=False))

    @server.resource("jupyter-debug-server://sessions/{session_id}/output{?since}",
                     name="session-output", mime_type="text/plain")
    @refusals_as(ResourceError)
    def session_output(session_id: str, since: int = 0) -> str:
        """What a session's program printed, from the start (or after chunk `since`)."""
        text = output_page(client.output(session_id, since, 1000), since, 1000,
                           RESOURCE_CHARS)
        more = (f"\n[more output: read ?since={text['next']}]" if text["more"] else "")
        return str(text["text"]) + more

    @server.resource("jupyter-debug-server://sessions/{session_id}/snapshots{?since}",
                     name="session-snapshots", mime_type="application/json")
    @refusals_as(ResourceError)
    def session_snapshots(session_id: str, since: int = 0) -> str:
        """A session's stop history (one snapshot per stop), 20 stops at a time."""
        return json.dumps(client.snapshots(session_id, since, 20))

    return server


def serve(client: DebugServerClient, *, observe: bool = False,
          launch_wait: float = 30) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin."""
    build_server(client, observe=observe, launch_wait=launch_wait).run("stdio")


def _version() -> str:
    try:
        return version("jupyter-debug-server")
    except PackageNotFoundError:
        return "0"
