"""JupyterLab's own notebook kernel debugger (ipykernel + debugpy, `#jp-debugger-sidebar`),
driven as a user does: the notebook's bug button, a breakpoint in a cell's gutter, a run,
the stop in the sidebar, Continue.

Our extension binds a debugger sidebar of its own to our sessions (issue 16); this is the
check that the notebook's kernel debugger still stops in a cell next to it:
`debug_notebook_cell(page, server)` in any test with an opened JupyterLab page. The steps
are separate functions too, for tests that want to look at more than it checks.

Selectors (JupyterLab 4.6 / @jupyterlab/debugger 4.6, checked in the running page):
- the notebook's debugger toggle: `jp-button.jp-DebuggerBugButton` in the notebook's
  toolbar; `aria-disabled="true"` until the kernel said it can debug, then
  `aria-pressed` is its state. (A `jp-button` is a custom element: Playwright's
  `to_be_enabled` does not read its `aria-disabled`, hence the attribute checks.)
- a cell's breakpoint gutter: `.cm-gutter.cm-breakpoint-gutter`, one `.cm-gutterElement`
  per line after a hidden spacer element; a set breakpoint adds `.cm-breakpoint-icon`.
- the sidebar: `#jp-debugger-sidebar` (its tab: `li[data-id="jp-debugger-sidebar"]`);
  frames `.jp-DebuggerCallstackFrame` (`-name`, `-location`, e.g. `Cell [*]:2`),
  variables `.jp-DebuggerVariables jp-tree-item` (`.jp-DebuggerVariables-name`,
  `.jp-DebuggerVariables-detail`), Continue `[data-jp-item-name="continue"]
  jp-button[data-command="debugger:continue"]` in the toolbar of the Callstack section's
  title (its label is "Pause (F9)" while nothing is stopped, "Continue (F9)" at a stop).
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Locator, Page, expect
from ui_lab import ARTIFACTS, LabServer
from ui_page import show_right_panel

#: The cell the helper runs; it stops on BREAK_LINE, where `a` is 1 and `b` not yet set.
CELL_SOURCE = "a = 1\nb = a + 1\nprint(b)"
BREAK_LINE = 2
#: Starting a kernel (and its debugpy) may take a while on a loaded machine (ms).
KERNEL_TIMEOUT_MS = 60_000
SIDEBAR_ID = "jp-debugger-sidebar"


# -- the server side: Jupyter's own REST API (contents, sessions) ----------------------------


def _jupyter_api(server: LabServer, method: str, path: str, body: Any = None) -> Any:
    """Call /api/<path> of `server` with its token; the decoded JSON (None if empty)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{server.url}/api/{path}", data=data, method=method,
        headers={"Authorization": f"token {server.token}",
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def _contents_path(name: str) -> str:
    return "contents/" + urllib.parse.quote(name)


def put_notebook(server: LabServer, name: str, source: str | list[str] = CELL_SOURCE) -> None:
    """Write `name` (relative to the server's root) as a notebook of code cells (one per
    source), for the python3 kernel (so opening it starts that kernel without asking)."""
    sources = [source] if isinstance(source, str) else source
    notebook = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                    "language": "python"}},
        "cells": [{"cell_type": "code", "id": f"kernel-debug-cell-{i}", "metadata": {},
                   "source": text, "outputs": [], "execution_count": None}
                  for i, text in enumerate(sources)],
    }
    _jupyter_api(server, "PUT", _contents_path(name),
                 {"type": "notebook", "format": "json", "content": notebook})


def kernel_sessions(server: LabServer, name: str) -> list[dict[str, Any]]:
    """Jupyter's sessions (GET /api/sessions) of the notebook `name`."""
    return [s for s in _jupyter_api(server, "GET", "sessions") if s.get("path") == name]


def shut_down(server: LabServer, name: str) -> None:
    """End the kernel sessions of `name` (DELETE /api/sessions/<id> waits for the
    kernel's shutdown) and check that none is left."""
    for session in kernel_sessions(server, name):
        _jupyter_api(server, "DELETE", f"sessions/{session['id']}")
    left = kernel_sessions(server, name)
    assert not left, f"the kernel session of {name} is still there after its DELETE: {left}"


# -- the page --------------------------------------------------------------------------------


def open_notebook(page: Page, name: str) -> Locator:
    """Open `name` through "Open from Path…" (command palette; no need for the file
    browser to show its directory or to have refreshed), wait until its kernel is idle and
    its debugger toggle usable; the notebook panel."""
    page.keyboard.press("Control+Shift+C")
    palette = page.locator("#command-palette")
    search = palette.locator("input.lm-CommandPalette-input")
    expect(search, "the command palette did not open").to_be_focused()
    search.fill("Open from Path")
    palette.locator(".lm-CommandPalette-item", has_text="Open from Path").first.click()
    dialog = page.locator(".jp-Dialog", has_text="Open Path")
    expect(dialog, 'the "Open Path" dialog did not open').to_be_visible()
    dialog.locator("input").fill(name)
    dialog.get_by_role("button", name="Open", exact=True).click()
    expect(dialog, 'the "Open Path" dialog stayed open').to_have_count(0)

    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current",
                       has=page.locator(".lm-TabBar-tabLabel",
                                        has_text=re.compile(rf"^{re.escape(_basename(name))}$")))
    expect(tab, f"{name} did not open as the current tab").to_have_count(1)
    panel = page.locator(f'[id="{tab.get_attribute("data-id")}"]')
    expect(panel, f"{name}'s tab shows no notebook").to_have_class(re.compile(r"jp-NotebookPanel"))
    expect(panel.locator(".jp-Notebook-ExecutionIndicator"),
           f"{name}'s kernel did not become idle").to_have_attribute(
        "data-status", "idle", timeout=KERNEL_TIMEOUT_MS)
    expect(debugger_toggle(panel), f"{name}'s debugger toggle stayed disabled (the kernel "
           "does not say it supports debugging?)").to_have_attribute(
        "aria-disabled", "false", timeout=KERNEL_TIMEOUT_MS)
    return panel


def debugger_toggle(notebook: Locator) -> Locator:
    """The notebook toolbar's bug button (JupyterLab's kernel debugger on/off)."""
    return notebook.locator(".jp-NotebookPanel-toolbar jp-button.jp-DebuggerBugButton")


def set_debugger(notebook: Locator, enabled: bool) -> None:
    """Turn the notebook's kernel debugger on or off with its toolbar button."""
    toggle = debugger_toggle(notebook)
    wanted = "true" if enabled else "false"
    if toggle.get_attribute("aria-pressed") != wanted:
        toggle.click()
    expect(toggle, f"the notebook's debugger toggle is not {'on' if enabled else 'off'}"
           ).to_have_attribute("aria-pressed", wanted)
    # with the debugger on, each cell editor has a breakpoint gutter; off, none
    gutters = notebook.locator(".jp-CodeCell .cm-breakpoint-gutter")
    if enabled:
        expect(gutters.first, "no breakpoint gutter in the cells with the debugger on"
               ).to_be_visible()
    else:
        expect(gutters, "breakpoint gutters left with the debugger off").to_have_count(0)


def sidebar(page: Page) -> Locator:
    return page.locator(f"#{SIDEBAR_ID}")


def show_sidebar(page: Page) -> Locator:
    """Show JupyterLab's debugger sidebar (click its tab in the right area unless shown)."""
    return show_right_panel(page, SIDEBAR_ID, "JupyterLab's debugger sidebar did not show")


def code_cell(notebook: Locator, index: int = 0) -> Locator:
    return notebook.locator(".jp-Notebook .jp-CodeCell").nth(index)


def breakpoint_gutter_line(cell: Locator, line: int) -> Locator:
    """The breakpoint gutter's element of `line` (1-based) in `cell`'s editor (the
    gutter's first element is a hidden spacer: visible ones are the lines)."""
    return cell.locator(".cm-gutter.cm-breakpoint-gutter > .cm-gutterElement").filter(
        visible=True).nth(line - 1)


def set_breakpoint(cell: Locator, line: int) -> None:
    """Click the gutter of `line` and see the breakpoint marker there."""
    gutter = breakpoint_gutter_line(cell, line)
    gutter.click()
    expect(gutter.locator(".cm-breakpoint-icon"),
           f"no breakpoint marker on line {line} after clicking its gutter").to_be_visible()


def run_cell(notebook: Locator, index: int = 0) -> None:
    """Select code cell `index` and run it with the toolbar's run button (which is "run
    and advance": after the last cell it adds an empty one below, as it does for a user)."""
    cell = code_cell(notebook, index)
    cell.locator(".jp-InputPrompt").click()  # selects the cell, leaves its editor alone
    expect(cell, "the cell to run is not the active one").to_have_class(
        re.compile(r"\bjp-mod-active\b"))
    notebook.locator('.jp-NotebookPanel-toolbar [data-jp-item-name="run"] jp-button').click()


def frames(page: Page) -> Locator:
    return sidebar(page).locator(".jp-DebuggerCallstack .jp-DebuggerCallstackFrame")


def variable(page: Page, name: str) -> Locator:
    """The variables panel's (tree view) item of `name`."""
    name_span = page.locator(".jp-DebuggerVariables-name",
                             has_text=re.compile(rf"^{re.escape(name)}$"))
    return sidebar(page).locator(".jp-DebuggerVariables .jp-TreeView jp-tree-item").filter(
        has=name_span)


def continue_button(page: Page) -> Locator:
    """Continue in the Callstack section's toolbar (which sits in the section's title
    `h3`, not inside `.jp-DebuggerCallstack`)."""
    return sidebar(page).locator(
        '[data-jp-item-name="continue"] jp-button[data-command="debugger:continue"]')


def wait_stopped_in_cell(page: Page, line: int, variables: dict[str, str]) -> None:
    """Wait until the sidebar shows a stop on `line` of a cell: the call stack's top
    frame there, each of `variables` with its value, Continue usable."""
    expect(frames(page).first, "the debugger sidebar's call stack shows no frame: the "
           "kernel did not stop in the cell").to_be_visible(timeout=KERNEL_TIMEOUT_MS)
    expect(frames(page).first.locator(".jp-DebuggerCallstackFrame-location"),
           f"the top frame is not line {line} of a cell").to_have_text(
        re.compile(rf"^Cell \[[^\]]*\]:{line}$"))
    for name, value in variables.items():
        item = variable(page, name)
        expect(item, f"the variables panel does not list {name!r}").to_have_count(1)
        expect(item.locator(".jp-DebuggerVariables-detail"),
               f"the variables panel shows {name!r} with another value than {value!r}"
               ).to_have_text(value)
    expect(continue_button(page), "the sidebar's Continue button is not usable").to_have_attribute(
        "aria-disabled", "false")
    expect(continue_button(page)).to_have_attribute("aria-label", re.compile(r"^Continue"))


def save_and_close(page: Page, notebook: Locator) -> None:
    """Save the notebook (its outputs changed it), close its tab, see it gone with no
    dialog left open."""
    panel_id = notebook.get_attribute("id")
    tab = page.locator(f'#jp-main-dock-panel .lm-TabBar-tab[data-id="{panel_id}"]')
    notebook.locator('.jp-NotebookPanel-toolbar [data-jp-item-name="save"] jp-button').click()
    expect(tab, "the notebook is still unsaved after its save button").not_to_have_class(
        re.compile(r"\bjp-mod-dirty\b"))
    tab.locator(".lm-TabBar-tabCloseIcon").click()
    expect(notebook, "the notebook did not close").to_have_count(0)
    expect(page.locator(".jp-Dialog"), "a dialog is open after closing the notebook"
           ).to_have_count(0)


def debug_notebook_cell(page: Page, server: LabServer, name: str = "kernel_debug.ipynb",
                        on_stop: Callable[[], None] | None = None) -> None:
    """JupyterLab's kernel debugger stops in a notebook cell, with the values of the stop.

    In the opened JupyterLab `page`: write the notebook `name` (one cell, CELL_SOURCE) into
    `server`'s root, open it, wait for its kernel; turn its debugger on; set a breakpoint
    on line BREAK_LINE by the cell's gutter; run the cell; wait until `#jp-debugger-sidebar`
    shows the stop (top frame `Cell [n]:2`, variable `a` = `1`) and the cell has no output
    yet; call `on_stop()` (e.g. a screenshot); Continue; see the output `2`; turn the
    debugger off, save and close the notebook, shut its kernel down and delete the file.
    Fails with what was not seen. The sidebar stays shown (as a user's click leaves it).
    """
    put_notebook(server, name)
    try:
        notebook = open_notebook(page, name)
        set_debugger(notebook, True)
        show_sidebar(page)
        cell = code_cell(notebook)
        set_breakpoint(cell, BREAK_LINE)
        run_cell(notebook)
        wait_stopped_in_cell(page, BREAK_LINE, {"a": "1"})
        expect(variable(page, "b"), "`b` is set before line 2 ran").to_have_count(0)
        outputs = cell.locator(".jp-OutputArea-output")
        expect(outputs, "the cell printed before the stop let it go on").to_have_count(0)
        if on_stop is not None:
            on_stop()

        continue_button(page).click()
        expect(outputs, "the cell did not finish with the output 2 after Continue"
               ).to_have_text(["2"], timeout=KERNEL_TIMEOUT_MS)
        expect(cell.locator(".jp-InputPrompt"), "the cell shows no execution count"
               ).to_have_text(re.compile(r"\[\d+\]"))
        expect(frames(page), "the call stack still shows frames after the cell ended"
               ).to_have_count(0)
        expect(notebook.locator(".jp-Notebook-ExecutionIndicator"),
               "the kernel did not become idle after the cell").to_have_attribute(
            "data-status", "idle")

        set_debugger(notebook, False)
        save_and_close(page, notebook)
        shut_down(server, name)
    except BaseException:
        _release_kernel(page, server, name)
        raise
    _jupyter_api(server, "DELETE", _contents_path(name))


def _release_kernel(page: Page, server: LabServer, name: str) -> None:
    """After a failure: a screenshot of the page as it failed, then, best effort, the
    notebook's debugger off (debugpy lets a stopped cell go on when its client leaves)
    and its kernel shut down. A kernel shut down while stopped in a cell logs a
    traceback (its reply's socket is closed), which would fail a later test's gates."""
    shot = ARTIFACTS / "screenshots" / f"{_basename(name).removesuffix('.ipynb')}-failure.png"
    with contextlib.suppress(Exception):
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), timeout=10_000)
        print(f"screenshot of the kernel debugger's failure: {shot}")
    with contextlib.suppress(Exception):
        toggle = page.locator(
            ".jp-NotebookPanel-toolbar jp-button.jp-DebuggerBugButton[aria-pressed='true']")
        for button in toggle.all():
            button.click(timeout=5_000)
        expect(toggle).to_have_count(0, timeout=5_000)
        expect(page.locator('.jp-Notebook-ExecutionIndicator[data-status="busy"]')
               ).to_have_count(0, timeout=10_000)
    with contextlib.suppress(Exception):
        shut_down(server, name)
    with contextlib.suppress(Exception):
        _jupyter_api(server, "DELETE", _contents_path(name))


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]
