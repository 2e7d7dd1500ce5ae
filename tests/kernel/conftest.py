"""A server process with the Python targets, and a kernel that finds it (per module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..support.server_process import ServerProcess, python_targets_server
from .kernels import Kernel, started_kernel


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with python_targets_server(tmp_path_factory.mktemp("kernel")) as srv:
        yield srv
    assert "Traceback" not in "".join(srv.log)


@pytest.fixture(scope="module")
def kernel(server: ServerProcess) -> Iterator[Kernel]:
    with started_kernel(server) as kernel:
        yield kernel
