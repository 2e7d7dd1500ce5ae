"""Fixtures of the session tests: the native targets compiled into the server's root_dir,
and the program a debugger's shared scenarios run."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..support.debuggers import Debuggee, debuggee
from ..support.native import compile_targets


@pytest.fixture
def native(jp_root_dir: Path) -> dict[str, Path]:
    """The native targets, built with -g -O0 into root_dir/native."""
    dest = jp_root_dir / "native"
    dest.mkdir()
    return compile_targets(dest)


@pytest.fixture
def program(debugger: str, jp_root_dir: Path, request: pytest.FixtureRequest) -> Debuggee:
    """The program `debugger`'s shared scenarios run, put in root_dir."""
    request.getfixturevalue("targets" if debugger == "debugpy" else "native")
    return debuggee(debugger, jp_root_dir)
