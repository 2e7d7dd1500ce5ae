"""The server side's layout (DESIGN §7): no import circle, no module over 500 lines, no
function-level import without a comment saying why, and `dap/` importing nothing else
of ours.

Read from the source with `ast` (nothing is imported), so every import counts: at module
level, inside functions and under `if TYPE_CHECKING`. The area checked is the runner
(without its worker side, `runner/debuggers/`), `dap/`, `app.py` and the REST handlers
of sessions, control and tokens.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

PACKAGE = Path(__file__).resolve().parents[2] / "jupyter_debug_server"
NAME = "jupyter_debug_server"
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = [NAME, *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _in_area(module: str) -> bool:
    inner = module.removeprefix(f"{NAME}.")
    if inner.startswith("runner.debuggers"):
        return False
    return (inner.startswith(("runner", "dap")) or inner == "app"
            or inner in {"api.control", "api.sessions", "api.tokens", "api.base"})


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
AREA = sorted(m for m in MODULES if _in_area(m))


def _imports(module: str) -> list[tuple[ast.stmt, list[str]]]:
    """Each import statement of `module` with the package modules it names."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            # `from . import submodule` names the submodule; the package only for the
            # names that are not modules (its own attributes).
            subs = [f"{base}.{a.name}" for a in node.names]
            names = [s for s in subs if s in MODULES]
            if len(names) < len(subs):
                names.append(base)
        else:
            continue
        out.append((node, [n for n in names if n in MODULES and n != module]))
    return out


def _graph() -> dict[str, set[str]]:
    return {m: {d for _, deps in _imports(m) for d in deps} for m in MODULES}


def _cycle_through(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A shortest import cycle through `start`, or None."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for dep in sorted(graph[node]):
                if dep == start:
                    return [*paths[node], start]
                if dep not in paths:
                    paths[dep] = [*paths[node], dep]
                    nxt.append(dep)
        frontier = nxt
    return None


def test_the_area_is_what_the_layout_names() -> None:
    for module in ("runner.session", "runner.state", "runner.worker_process",
                   "runner.upstream", "runner.stops", "runner.startup",
                   "runner.debugger_requests", "runner.config", "runner.tokens",
                   "runner.breakpoints", "runner.paths", "dap.messages", "dap.arguments",
                   "dap.policy", "dap.shared_breakpoints", "dap.mux"):
        assert f"{NAME}.{module}" in AREA, module
    for gone in ("runner.tunnels", "runner.session_state", "runner.session_worker",
                 "runner.session_requests", "runner.requests", "dap.argument_types"):
        assert f"{NAME}.{gone}" not in MODULES, f"{gone} should have moved"


@pytest.mark.parametrize("module", AREA)
def test_no_import_circle(module: str) -> None:
    cycle = _cycle_through(module, _graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("module", AREA)
def test_no_module_over_500_lines(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES})"


@pytest.mark.parametrize("module", AREA)
def test_function_level_imports_say_why(module: str) -> None:
    source = MODULES[module].read_text().splitlines()
    tree = ast.parse("\n".join(source))
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                line = source[node.lineno - 1]
                assert "#" in line, (f"{module}:{node.lineno}: a function-level import "
                                     "needs a comment saying why")


@pytest.mark.parametrize("module", [m for m in AREA if m.startswith(f"{NAME}.dap")])
def test_dap_imports_nothing_else_of_ours(module: str) -> None:
    for node, deps in _imports(module):
        outside = [d for d in deps if not d.startswith(f"{NAME}.dap")]
        assert not outside, f"{module}:{node.lineno} imports {outside}"
