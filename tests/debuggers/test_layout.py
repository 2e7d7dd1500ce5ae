"""runner/debuggers/ is the worker side only (DESIGN.md §7): it imports nothing of ours
but dap/ and itself, has no import circle (function-level and TYPE_CHECKING imports
count), no module over 500 lines, and its entry points are where the commands name them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_debug_server
from jupyter_debug_server.runner.debuggers.debugpy import launch
from jupyter_debug_server.runner.debuggers.native import launch as native_launch

pytestmark = pytest.mark.timeout(60)

PACKAGE = Path(jupyter_debug_server.__file__).parent
DEBUGGERS = PACKAGE / "runner" / "debuggers"
WORKER_SIDE = "jupyter_debug_server.runner.debuggers"
ALLOWED = (WORKER_SIDE, "jupyter_debug_server.dap")
MAX_LINES = 500
ENTRY_POINTS = ("debugpy_adapter", "gdb_adapter", "lldb_adapter")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, ast.stmt]]:
    """Every module of ours `path` imports, anywhere in it, with the statement."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (".".join([*package[:len(package) - node.level + 1], node.module or ""])
                    .rstrip(".") if node.level else node.module or "")
            found.append((base, node))
            found += [(f"{base}.{alias.name}", node) for alias in node.names]
    return [(target, node) for target, node in found
            if target.startswith("jupyter_debug_server")]


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in DEBUGGERS.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for imported, _ in _imports(path):
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]  # `from .gdb import mi` names a module
            if target and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for peer in graph[node]:
            if peer not in index:
                visit(peer)
                low[node] = min(low[node], low[peer])
            elif peer in stack:
                low[node] = min(low[node], index[peer])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return circles


def test_the_worker_side_has_no_import_circle() -> None:
    assert _circles(_graph()) == []


def test_the_worker_side_imports_only_dap_and_itself() -> None:
    outside = sorted(
        f"{_module_name(path)} imports {target}"
        for path in DEBUGGERS.rglob("*.py") for target, _ in _imports(path)
        if not target.startswith(ALLOWED)
        and target not in ("jupyter_debug_server", "jupyter_debug_server.runner"))
    assert outside == []


def test_every_folder_of_the_worker_side_is_a_package() -> None:
    folders = {p.parent for p in DEBUGGERS.rglob("*.py")}
    assert sorted(str(f) for f in folders if not (f / "__init__.py").is_file()) == []


def test_no_module_of_the_worker_side_is_over_500_lines() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in DEBUGGERS.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_function_level_imports_of_ours_are_none() -> None:
    """Function-level imports hide circles; ours have none (pydevd_boot.py imports
    only the standard library and debugpy, inside the debuggee)."""
    nested = []
    for path in DEBUGGERS.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                nested += [f"{path.name}:{node.lineno}" for node in ast.walk(function)
                           if isinstance(node, ast.ImportFrom) and (
                               node.level or (node.module or "").startswith(PACKAGE.name))]
    assert nested == []


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_each_entry_point_runs_as_the_commands_name_it(entry: str) -> None:
    done = subprocess.run([sys.executable, "-I", "-m", f"{WORKER_SIDE}.{entry}", "--help"],
                          capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode == 0, done.stderr
    assert "--channel-fd" in done.stdout and "--session" in done.stdout


def test_the_scripts_that_run_in_the_debuggee_are_found_by_path() -> None:
    assert Path(launch.BOOT).is_file() and Path(native_launch.STUB).is_file()
