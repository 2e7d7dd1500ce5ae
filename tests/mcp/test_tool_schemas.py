"""The tool list as an agent sees it, against a snapshot, so that every change to it is
deliberate: each tool's arguments (which are required), its hints, what an observer is
offered, and the resource templates.

After a deliberate change, regenerate the snapshot and review its diff:

    python -m tests.mcp.test_tool_schemas
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.client import DebugServerClient
from jupyter_debug_server.mcp import build_server

pytestmark = pytest.mark.timeout(60)

SNAPSHOT = Path(__file__).with_name("tool_schemas.json")


def current() -> dict[str, Any]:
    """The tool list of the server and of an observer's, and the resource templates."""
    # Listing builds nothing that talks to the server: no server is needed.
    client = DebugServerClient("http://127.0.0.1:9/", "")
    full = build_server(client)
    tools = asyncio.run(full.list_tools())
    observer = asyncio.run(build_server(client, observe=True).list_tools())
    templates = asyncio.run(full.list_resource_templates())
    return {
        "tools": {t.name: {
            "required": sorted(t.input_schema.get("required", [])),
            "optional": sorted(set(t.input_schema.get("properties", {}))
                               - set(t.input_schema.get("required", []))),
            "readOnlyHint": bool(t.annotations and t.annotations.read_only_hint),
            "destructiveHint": bool(t.annotations and t.annotations.destructive_hint),
        } for t in tools},
        "observer_tools": sorted(t.name for t in observer),
        "resource_templates": sorted(t.uri_template for t in templates),
    }


def test_the_tool_list_is_the_snapshot() -> None:
    assert current() == json.loads(SNAPSHOT.read_text()), (
        "the MCP tool list changed: if that is deliberate, run "
        "`python -m tests.mcp.test_tool_schemas` and review the diff")


def test_every_tool_is_described_for_an_agent() -> None:
    tools = asyncio.run(build_server(DebugServerClient("http://127.0.0.1:9/")).list_tools())
    for t in tools:
        assert t.description and len(t.description) > 40, t.name
        for name, schema in t.input_schema.get("properties", {}).items():
            assert schema.get("description"), f"{t.name}({name}) has no description"


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(current(), indent=2) + "\n")
    print(f"wrote {SNAPSHOT}")
