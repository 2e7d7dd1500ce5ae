"""JupyterLab's own kernel debugger in a notebook: it stops in a cell (issue 16 keeps it
working next to our debugger sidebar; `ui_kernel.debug_notebook_cell` is the check)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from ui_kernel import debug_notebook_cell
from ui_lab import ARTIFACTS, LabServer

SCREENSHOTS = ARTIFACTS / "screenshots"


@pytest.mark.timeout(180)  # a kernel start, debugpy's start in it, a stop: ~10 s here
def test_notebook_kernel_debugger_stops_in_a_cell(page: Page, server: LabServer,
                                                  request: pytest.FixtureRequest) -> None:
    """Bug button on, a breakpoint on line 2 of a cell, run: the debugger sidebar shows
    the stop (frame on line 2, `a` = 1); Continue: the cell prints 2; then all closed."""
    shot = SCREENSHOTS / f"{request.node.name}-stopped.png"

    def screenshot_while_stopped() -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot))

    debug_notebook_cell(page, server, on_stop=screenshot_while_stopped)
    assert shot.is_file(), f"no screenshot of the stop at {shot}"
