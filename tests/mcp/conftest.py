"""One Jupyter server (its own process, the targets compiled) for every MCP test.

Its step_timeout is short, so that a `continue` into a program that never stops answers
`pending` within the tests' time; launch and attach wait the MCP server's `--wait`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support.native import targets_server
from ..support.server_process import ServerProcess

#: The Jupyter server's step_timeout in these tests, in seconds.
STEP_TIMEOUT = 4


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with targets_server(tmp_path_factory.mktemp("mcp"),
                        [f"--DebugServerApp.step_timeout={STEP_TIMEOUT}"]) as srv:
        yield srv


@pytest.fixture
def stderr(tmp_path: Path) -> Iterator[Path]:
    """Where the MCP server's stderr goes; a traceback in it fails the test."""
    path = tmp_path / "mcp-stderr.log"
    path.touch()
    yield path
    text = path.read_text()
    assert "Traceback" not in text, text
