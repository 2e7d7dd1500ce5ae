"""c.DebugServerApp.gdb_path and lldb_dap_path: the configured executable is the one used."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psutil
import pytest

from ..support.native import compile_targets

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def jp_server_config(tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("debugger_paths")
    paths = dict(marker.kwargs) if marker else {}
    if paths.get("gdb_path") == "LINK":
        real = shutil.which("gdb")
        assert real, "gdb is installed by scripts/setup.sh"
        link = tmp_path / "bin" / "my-gdb"
        link.parent.mkdir()
        link.symlink_to(real)
        paths["gdb_path"] = str(link)
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_debug_server": True,
                                              "jupyter_server_terminals": False},
                      "allow_unauthenticated_access": False},
        "DebugServerApp": {"db_path": str(tmp_path / "state" / "debug.db"),
                           "shutdown_timeout": 3.0, **paths},
    }


@pytest.mark.debugger_paths(gdb_path="LINK")
async def test_configured_gdb_is_probed_and_used_by_sessions(
        api: Any, manager: Any, jp_root_dir: Path, tmp_path: Path) -> None:
    link = str(tmp_path / "bin" / "my-gdb")
    status, debuggers = await api("GET", "debuggers")
    gdb = {d["name"]: d for d in debuggers}["gdb"]
    assert gdb["available"] and gdb["path"] == link
    native = jp_root_dir / "native"
    native.mkdir()
    compile_targets(native)
    status, model = await api("POST", "sessions", {"debugger": "gdb", "program": "native/points",
                                                   "stop_on_entry": True})
    assert status == 201 and model["state"] == "stopped", model
    worker = psutil.Process(manager.get(model["id"]).worker.pid)
    cmdline = worker.cmdline()
    assert cmdline[cmdline.index("--gdb") + 1] == link
    gdbs = [p for p in worker.children() if p.cmdline()[:1] == [link]]
    assert len(gdbs) == 1  # the worker ran the configured gdb
    await api("DELETE", f"sessions/{model['id']}")


@pytest.mark.debugger_paths(gdb_path="/nowhere/gdb", lldb_dap_path="no-such-lldb-dap")
async def test_a_wrong_configured_path_is_reported_with_the_setting(api: Any) -> None:
    status, debuggers = await api("GET", "debuggers")
    probes = {d["name"]: d for d in debuggers}
    assert not probes["gdb"]["available"]
    assert "c.DebugServerApp.gdb_path is '/nowhere/gdb'" in probes["gdb"]["reason"]
    assert "c.DebugServerApp.lldb_dap_path is 'no-such-lldb-dap'" in probes["lldb"]["reason"]
    status, error = await api("POST", "sessions", {"debugger": "gdb", "program": "x"})
    assert status == 400 and error["reason"] == "debugger-unavailable"
    assert "gdb_path" in error["message"]
