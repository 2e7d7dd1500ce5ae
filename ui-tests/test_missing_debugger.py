"""The launch dialog on a server whose gdb is missing: the server's install hint shows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from ui_lab import LabServer
from ui_page import open_launch_dialog
from ui_rest import Rest


@pytest.fixture(scope="module")
def no_gdb_lab(lab_factory: Callable[..., LabServer]) -> LabServer:
    """A server whose gdb setting names no executable: gdb is unavailable, with a reason."""
    return lab_factory("nogdb", "--DebugServerApp.gdb_path=/nonexistent/gdb")


@pytest.fixture
def server(no_gdb_lab: LabServer) -> LabServer:
    return no_gdb_lab


def test_missing_debugger_shows_its_install_hint(page: Page, rest: Rest) -> None:
    """The dialog lists every debugger and shows the server's reason for a missing one."""
    debuggers = rest.debuggers()
    assert debuggers["gdb"]["available"] is False
    reason = debuggers["gdb"]["reason"]
    assert "/nonexistent/gdb" in reason

    form = open_launch_dialog(page).locator(".jds-LaunchForm")
    options = form.locator("select[name=debugger] option")
    expect(options).to_have_count(len(debuggers))
    values = sorted(o.get_attribute("value") or "" for o in options.all())
    assert values == sorted(debuggers), values
    expect(form.locator('.jds-DebuggerStatus[data-debugger="gdb"]')).to_contain_text(reason)
    for name, info in debuggers.items():
        status = form.locator(f'.jds-DebuggerStatus[data-debugger="{name}"]')
        expect(status).to_have_count(1)
        if info["available"]:
            expect(status).to_contain_text("available")
