"""pyproject.toml declares what the package imports at run time, and nothing else
(issue 13): psutil and pyyaml, which only the tests use, are in the test extra. What only
the kernel side (`kernel/`, loaded by `%load_ext` in a notebook) imports is in the
`notebook` extra (issue 17), what only the MCP server (`mcp/`) imports in the `mcp` extra
(issue 18)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
import tomllib

import jupyter_debug_server

pytestmark = pytest.mark.timeout(30)

PACKAGE = Path(jupyter_debug_server.__file__).parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"
#: debugpy's vendored pydevd, imported inside the debuggee with debugpy's path.
VENDORED_BY_DEBUGPY = {"pydevd", "_pydevd_bundle", "attach_script"}
#: Declared but never imported, each for a reason written next to it in pyproject.toml.
NOT_IMPORTED = {"jupyter-events"}
#: The folders whose imports may come from an extra: the kernel side (`notebook`) and
#: the MCP server (`mcp`).
KERNEL_SIDE = PACKAGE / "kernel"
MCP_SIDE = PACKAGE / "mcp"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_distributions(folder: Path | None = None) -> set[str]:
    """What the package imports outside the extras' folders, or inside `folder`."""
    owners = importlib.metadata.packages_distributions()
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if folder is None:
            if path.is_relative_to(KERNEL_SIDE) or path.is_relative_to(MCP_SIDE):
                continue
        elif not path.is_relative_to(folder):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "jupyter_debug_server":
                    continue
                if top in VENDORED_BY_DEBUGPY:
                    found.add("debugpy")
                    continue
                assert top in owners, f"{path.name} imports {top}, which nothing installed provides"
                found.update(_normal(d) for d in owners[top])
    return found


def _declared(extra: str | None = None) -> set[str]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    items = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return {_normal(re.split(r"[\s<>=!~;\[]", item, maxsplit=1)[0]) for item in items}


@pytest.mark.skipif(not PYPROJECT.is_file(), reason="not a source checkout (no pyproject.toml)")
def test_dependencies_are_what_the_package_imports() -> None:
    assert _declared() - NOT_IMPORTED == _imported_distributions()
    assert {"psutil", "pyyaml"} <= _declared("test")
    assert _imported_distributions(KERNEL_SIDE) - _declared() <= _declared("notebook")
    assert "ipython" in _imported_distributions(KERNEL_SIDE)
    assert _imported_distributions(MCP_SIDE) - _declared() == {"mcp", "pydantic"}
    assert _declared("mcp") == {"mcp", "pydantic"}
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    assert "jupyter-debug-server[mcp]" in extras["test"]  # tests/mcp/
