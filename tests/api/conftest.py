"""Fixtures of the API tests: hand-built requests against the in-process server."""

from __future__ import annotations

from typing import Any

import pytest

from ..support.jp_server import Server


@pytest.fixture
def server(jp_serverapp: Any, jp_http_port: int, jp_base_url: str) -> Server:
    """Requests built by hand against the test server, with its token at hand."""
    return Server(jp_http_port, jp_base_url, jp_serverapp.identity_provider.token)
