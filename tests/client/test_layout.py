"""The front doors' layout (issue 13): `cli/` and `client/` have no import circle, counting
function-level and TYPE_CHECKING imports, no module over 500 lines, and no function-level
import without a comment that says why."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import jupyter_debug_server

pytestmark = pytest.mark.timeout(30)

PACKAGE = Path(jupyter_debug_server.__file__).parent
AREAS = ("cli", "client")
MAX_LINES = 500
#: Over the limit today, split by another part of issue 13 (the WebSocket layer owns it);
#: the test fails once it is split, so that this entry goes too.
KNOWN_LONG: set[str] = set()


def _modules() -> dict[str, Path]:
    """Dotted name (relative to the package) → file, for every module of the areas."""
    out = {}
    for area in AREAS:
        for path in sorted((PACKAGE / area).rglob("*.py")):
            parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of the areas that `name` imports, wherever the import statement is."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            prefix = "jupyter_debug_server."
            targets = [a.name.removeprefix(prefix) for a in node.names
                       if a.name.startswith(prefix)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                base_parts = here[:len(here) - node.level + 1]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            elif (node.module or "").startswith("jupyter_debug_server."):
                base = (node.module or "").removeprefix("jupyter_debug_server.")
            else:
                continue
            subs = [f"{base}.{a.name}" for a in node.names]
            # `from pkg import mod` imports mod; other names make it an import of pkg.
            targets = [s for s in subs if s in known]
            if len(targets) < len(subs):
                targets.append(base)
        for written in targets:
            target = written
            while target and target not in known:
                target = target.rpartition(".")[0]  # a name inside a module
            if target and target != name:
                found.add(target)
    return found


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            component.append(v)
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_in_cli_and_client() -> None:
    known = _modules()
    graph = {name: _imports(name, path, known) for name, path in known.items()}
    assert graph["client.api"] >= {"client.events", "client.transport"}  # the graph works
    assert _circles(graph) == []


def test_the_circle_finder_finds_one() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_over_500_lines() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines())
             for p in _modules().values()}
    assert {m for m, n in sizes.items() if n > MAX_LINES} == KNOWN_LONG


def test_every_function_level_import_says_why() -> None:
    """An import inside a function needs a comment on its line or just above it."""
    bare = []
    for path in _modules().values():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    here = lines[inner.lineno - 1]
                    above = lines[inner.lineno - 2].strip()
                    if "#" not in here and not above.startswith("#"):
                        bare.append(f"{path.relative_to(PACKAGE)}:{inner.lineno}")
    assert bare == []
