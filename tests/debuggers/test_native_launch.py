"""The stub that parks a native program before exec: argv verbatim, pipes, release/abort."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from jupyter_debug_server.runner.debuggers.native.launch import NativeLaunch

pytestmark = pytest.mark.timeout(60)

ARGS_C = r"""
#include <stdio.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) printf("[%s]\n", argv[i]);
    fprintf(stderr, "cwd-check\n");
    return argc;
}
"""
NASTY = ["$(id)", "a;b", "*", "it's", '"q"', "two words", "", "`uname`", "|&<>"]


@pytest.fixture
def args_program(tmp_path: Path) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed; scripts/setup.sh installs it")
    (tmp_path / "args.c").write_text(ARGS_C)
    subprocess.run(["gcc", "-g", "-O0", "-o", str(tmp_path / "args"), str(tmp_path / "args.c")],
                   check=True)
    return tmp_path / "args"


def test_released_program_gets_argv_verbatim_and_its_output_is_captured(
        args_program: Path) -> None:
    async def scenario() -> None:
        out: dict[str, str] = {"stdout": "", "stderr": ""}

        async def sink(category: str, text: str) -> None:
            out[category] += text

        launch = await NativeLaunch.start([str(args_program), *NASTY], cwd=str(
            args_program.parent), env=dict(os.environ), sink=sink, ptracer=None)
        # Parked: the stub is alive and has not exec'd yet.
        assert os.readlink(f"/proc/{launch.pid}/exe") != str(args_program)
        launch.release()
        assert await asyncio.wait_for(launch.target.wait(), 30) == len(NASTY) + 1
        assert out["stdout"] == "".join(f"[{a}]\n" for a in NASTY)
        assert out["stderr"] == "cwd-check\n"

    asyncio.run(scenario())


def test_aborted_launch_never_runs_the_program(args_program: Path) -> None:
    async def scenario() -> None:
        out: list[str] = []

        async def sink(category: str, text: str) -> None:
            out.append(text)

        launch = await NativeLaunch.start([str(args_program), "x"], cwd=None,
                                          env=dict(os.environ), sink=sink, ptracer=None)
        launch.abort()
        assert await asyncio.wait_for(launch.target.wait(), 30) == 0
        assert out == []

    asyncio.run(scenario())


def test_program_that_cannot_execute_is_reported(tmp_path: Path) -> None:
    async def scenario() -> None:
        err: list[str] = []

        async def sink(category: str, text: str) -> None:
            err.append(text)

        not_exec = tmp_path / "data.txt"
        not_exec.write_text("hello")
        launch = await NativeLaunch.start([str(not_exec)], cwd=None, env=dict(os.environ),
                                          sink=sink, ptracer=None)
        launch.release()
        assert await asyncio.wait_for(launch.target.wait(), 30) == 127
        assert "Permission denied" in "".join(err)

    asyncio.run(scenario())
