"""The notebook widget of `%debug_session` in JupyterLab (issue 17): rendered in a cell's
output, its Step Over button steps the session, and it follows the session while another
cell keeps the kernel busy.

Selectors (jupyter_debug_server/kernel/widget.js, an anywidget view): the widget's root
`.jds-widget[data-view="session"]`; `.jds-w-location` ("counter.py:4 in <module>"),
`.jds-w-source .jds-w-current .jds-w-code` (the stopped line's text), `.jds-w-id`
("(<session id>)"), buttons `button[data-command="step-over"]` and the like.
"""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import Locator, Page, expect
from ui_kernel import (
    KERNEL_TIMEOUT_MS,
    code_cell,
    open_notebook,
    put_notebook,
    run_cell,
    save_and_close,
    shut_down,
)
from ui_lab import ARTIFACTS, REPO_ROOT, LabServer
from ui_page import COUNTER_BODY_LINE, COUNTER_FOR_LINE
from ui_rest import ENDED, Rest

SCREENSHOTS = ARTIFACTS / "screenshots"
#: docs/notebook.md shows these screenshots (refreshed by every run of this test)
DOCS_IMAGES = REPO_ROOT / "docs" / "images"
NOTEBOOK = "widget.ipynb"
LAUNCH_CELL = ("%load_ext jupyter_debug_server\n"
               f"%debug_session launch -b counter.py:{COUNTER_BODY_LINE} --name nb-widget "
               "counter.py")
#: keeps the kernel busy for a while; its output marks the end of the cell
BUSY_CELL = "import time\ntime.sleep(6)\nprint('slept')"
LIST_CELL = "%debug_session"


def session_widget(cell: Locator) -> Locator:
    return cell.locator(".jds-widget[data-view='session']")


def screenshot(cell: Locator, name: str) -> None:
    """A screenshot of `cell` in the test artifacts, copied to docs/images/ (which
    docs/notebook.md shows) when that folder is there."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{name}.png"
    cell.screenshot(path=str(shot))
    if DOCS_IMAGES.is_dir():
        shutil.copyfile(shot, DOCS_IMAGES / f"{name}.png")


def expect_location(widget: Locator, line: int, code: str, why: str) -> None:
    expect(widget.locator(".jds-w-location"), why).to_have_text(
        f"counter.py:{line} in <module>", timeout=KERNEL_TIMEOUT_MS)
    expect(widget.locator(".jds-w-source .jds-w-current .jds-w-code"),
           f"the widget's source context does not mark line {line}").to_have_text(code)


@pytest.mark.timeout(240)  # a kernel start, a launch, three steps: ~15 s here
def test_widget_renders_steps_and_follows_a_busy_kernel(
        page: Page, server: LabServer, rest: Rest) -> None:
    put_notebook(server, NOTEBOOK, [LAUNCH_CELL, BUSY_CELL, LIST_CELL])
    notebook = open_notebook(page, NOTEBOOK)
    try:
        run_cell(notebook, 0)
        widget = session_widget(code_cell(notebook, 0))
        expect(widget, "the launch cell shows no session widget").to_have_count(
            1, timeout=KERNEL_TIMEOUT_MS)
        expect_location(widget, COUNTER_BODY_LINE, "    total += i",
                        "the widget does not show the stop at the breakpoint")
        sid = (widget.locator(".jds-w-id").text_content() or "").strip("()")
        assert re.fullmatch(r"[0-9a-f]{8,}", sid), f"the widget shows no session id: {sid!r}"
        assert rest.session(sid)["state"] == "stopped"

        # the widget's own button steps the session (the kernel runs the command)
        step = widget.locator("button[data-command='step-over']")
        expect(step, "Step Over is not usable at a stop").to_be_enabled()
        step.click()
        expect_location(widget, COUNTER_BODY_LINE + 1, '    print("step", i, flush=True)',
                        "Step Over in the widget did not move the stop to the next line")
        assert rest.session(sid)["state"] == "stopped"
        assert rest.snapshots(sid)[-1]["frames"][0]["line"] == COUNTER_BODY_LINE + 1, \
            "the server's last stop is not where the widget shows it"

        # while another cell keeps the kernel busy, the widget follows a step made elsewhere
        run_cell(notebook, 1)
        busy = code_cell(notebook, 1)
        expect(busy.locator(".jp-InputPrompt"), "the busy cell did not start").to_have_text(
            re.compile(r"\[\*\]"))
        rest.step(sid)  # from the loop's last line back to its head
        expect_location(widget, COUNTER_FOR_LINE, "for i in range(3):",
                        "the widget did not follow a step made while a cell ran")
        outputs = busy.locator(".jp-OutputArea-output")
        # the update came while the cell still ran: it has printed nothing yet
        assert outputs.count() == 0, "the busy cell ended before the widget's update showed"
        screenshot(code_cell(notebook, 0), "notebook-widget")
        expect(outputs, "the busy cell did not finish").to_have_text(
            ["slept"], timeout=KERNEL_TIMEOUT_MS)

        # the list widget shows the session, and follows it as it ends
        run_cell(notebook, 2)
        listed = code_cell(notebook, 2).locator(
            f".jds-widget[data-view='sessions'] tr[data-session-id='{sid}']")
        expect(listed.locator(".jds-w-state"), "the session list widget does not show the "
               "stopped session").to_have_text("stopped", timeout=KERNEL_TIMEOUT_MS)
        expect(listed, "the list does not say where the session stopped").to_contain_text(
            f"counter.py:{COUNTER_FOR_LINE}")
        screenshot(code_cell(notebook, 2), "notebook-sessions")

        widget.locator("button[data-command='stop']").click()
        ended = re.compile("^(" + "|".join(ENDED) + ")$")
        expect(widget.locator(".jds-w-state"), "Stop in the widget did not end the session"
               ).to_have_text(ended, timeout=KERNEL_TIMEOUT_MS)
        expect(listed.locator(".jds-w-state"), "the session list widget did not follow the "
               "session's end").to_have_text(ended)
        save_and_close(page, notebook)
    finally:
        rest.stop_all()
        shut_down(server, NOTEBOOK)
