"""The layout shows the architecture (DESIGN.md §7): no import circle anywhere in the
package (function-level and TYPE_CHECKING imports count), no module over 500 lines, a
function-level import only with a comment saying why, `dap/` imports nothing else of ours
and the worker side (`runner/debuggers/`) only `dap/` and itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import jupyter_debug_server

pytestmark = pytest.mark.timeout(60)

PACKAGE = Path(jupyter_debug_server.__file__).parent
NAME = PACKAGE.name
MAX_LINES = 500


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "node_modules" not in p.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


_MODULES: set[str] = set()


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
            # `from .pkg import mod` imports the module; `from .mod import name`, the module
            # (a package's own `from . import mod` is no edge to the package itself)
            found += [(f"{base}.{alias.name}" if f"{base}.{alias.name}" in _MODULES else base,
                       node) for alias in node.names]
    return [(target, node) for target, node in found
            if target.startswith("jupyter_debug_server")]


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in _sources()}
    _MODULES.update(modules)
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


def test_no_import_circle_in_the_package() -> None:
    graph = _graph()
    assert graph[f"{NAME}.client.api"] >= {f"{NAME}.client.transport"}  # the graph works
    assert _circles(graph) == []


def test_the_circle_finder_finds_one() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_over_500_lines() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
             for p in _sources()}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


def test_function_level_imports_say_why() -> None:
    """Only where a comment (on the line or just above) says why: an optional dependency,
    a cost paid only by one command, code that runs inside the debuggee."""
    silent = []
    for path in _sources():
        lines = path.read_text(encoding="utf-8").splitlines()
        for function in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    near = lines[max(0, node.lineno - 3):node.lineno]
                    if not any("#" in line for line in near):
                        silent.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert silent == []


def _outside(prefix: str, allowed: tuple[str, ...]) -> list[str]:
    _graph()  # (knows the modules)
    return sorted(f"{_module_name(path)} imports {target}"
                  for path in _sources() if _module_name(path).startswith(prefix)
                  for target, _ in _imports(path)
                  if target != NAME and not target.startswith(allowed))


def test_dap_imports_nothing_else_of_ours() -> None:
    assert _outside(f"{NAME}.dap", (f"{NAME}.dap",)) == []


def test_the_worker_side_imports_only_dap_and_itself() -> None:
    worker = f"{NAME}.runner.debuggers"
    assert _outside(worker, (worker, f"{NAME}.dap")) == []


def test_every_folder_is_a_package() -> None:
    # (examples/ holds the programs the demo debugs, run as scripts, not imported)
    folders = {p.parent for p in _sources()} - {PACKAGE / "examples"}
    assert sorted(str(f.relative_to(PACKAGE)) for f in folders
                  if not (f / "__init__.py").is_file()) == []
