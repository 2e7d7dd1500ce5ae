"""JupyterLab and the Debug Sessions panel as the tests see them: locators of the DOM
contract, and the few steps several tests take (open the panel, the launch dialog, ...)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import ConsoleMessage, Error, Locator, Page, expect
from ui_lab import LabServer
from ui_rest import Rest

COUNTER_PY = """\
print("start", flush=True)
total = 0
for i in range(3):
    total += i
    print("step", i, flush=True)
print("done", total, flush=True)
"""
#: Lines of counter.py the tests refer to.
COUNTER_FOR_LINE = 3  # `for i in range(3):`
COUNTER_BODY_LINE = 4  # `    total += i`
COUNTER_PRINT_LINE = 5  # `    print("step", i, flush=True)`

PANEL_ID = "jds-sessions-panel"
#: How long JupyterLab may take to load and restore (ms; the first load compiles a lot).
LOAD_TIMEOUT_MS = 60_000


#: Records the text of every error notification JupyterLab shows (a toast may close on
#: its own before a test looks): window.__jdsErrorToasts.
_TOAST_RECORDER = """
window.__jdsErrorToasts = [];
new MutationObserver(() => {
  for (const toast of document.querySelectorAll('.Toastify__toast--error:not([data-jds-seen])')) {
    toast.setAttribute('data-jds-seen', '');
    window.__jdsErrorToasts.push(toast.innerText);
  }
}).observe(document, {childList: true, subtree: true});
"""


class ConsoleLog:
    """The page's `error`-level console messages, uncaught errors and error
    notifications (toasts)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []
        page.on("console", self._on_console)
        page.on("pageerror", self._on_pageerror)
        page.add_init_script(_TOAST_RECORDER)

    def collect_toasts(self) -> None:
        """Add the error notifications shown so far (call while the page is open)."""
        try:
            toasts = self.page.evaluate("() => window.__jdsErrorToasts || []")
        except Error:
            return  # (the page is gone)
        self.errors.extend(f"error notification: {text}" for text in toasts)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.errors.append(f"console.error: {message.text} ({where})")

    def _on_pageerror(self, error: Error) -> None:
        self.errors.append(f"pageerror: {error.message}\n{error.stack or ''}")

    def expect(self, pattern: str) -> None:
        """Let console errors and error notifications matching the regular expression
        `pattern` pass."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


def open_lab(page: Page, server: LabServer, query: str = "",
             workspace: str | None = None) -> None:
    """Log in to JupyterLab (token in the URL) and wait until its shell is restored.

    `workspace` names a workspace of its own (`/lab/workspaces/<name>`, empty at first:
    the server is shared by several tests); None opens `/lab`, the default workspace.
    """
    path = "/lab" if workspace is None else f"/lab/workspaces/{workspace}"
    params = [p for p in (query, f"token={server.token}") if p]
    page.goto(f"{server.url}{path}?{'&'.join(params)}", timeout=LOAD_TIMEOUT_MS)
    wait_restored(page)


def wait_restored(page: Page) -> None:
    """Wait until JupyterLab has removed its splash screen (it has restored its layout)."""
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=LOAD_TIMEOUT_MS)


# -- the panel -----------------------------------------------------------------------------


def sidebar_tab(page: Page) -> Locator:
    return page.locator(f'li[data-id="{PANEL_ID}"]')


def panel(page: Page) -> Locator:
    return page.locator(".jds-SessionsPanel")


def open_panel(page: Page) -> Locator:
    """Show the Debug Sessions panel (click its sidebar tab unless it is shown)."""
    root = panel(page)
    if not root.is_visible():
        sidebar_tab(page).click()
    expect(root).to_be_visible()
    return root


def open_panel_from_palette(page: Page) -> Locator:
    """Show the panel through the command palette entry "Debug Sessions"."""
    page.keyboard.press("Control+Shift+C")
    palette = page.locator("#command-palette")
    search = palette.locator("input.lm-CommandPalette-input")
    expect(search).to_be_focused()
    search.fill("Debug Sessions")
    palette.locator(".lm-CommandPalette-item", has_text="Debug Sessions").first.click()
    expect(panel(page)).to_be_visible()
    return panel(page)


def toolbar_button(page: Page, label: str) -> Locator:
    """A button of the panel's toolbar by its aria-label ("Launch…", "Share…", ...)."""
    return panel(page).locator(f'[aria-label="{label}"]').first


def session_items(page: Page) -> Locator:
    return page.locator("ul.jds-SessionList > li.jds-SessionItem")


def session_item(page: Page, session_id: str) -> Locator:
    return page.locator(f'li.jds-SessionItem[data-session-id="{session_id}"]')


def detail(page: Page) -> Locator:
    return page.locator(".jds-SessionDetail")


def control(page: Page, name: str) -> Locator:
    """A control of the selected session ("Continue", "Step Over", "Stop", ...)."""
    return detail(page).get_by_role("button", name=name, exact=True)


def location(page: Page) -> Locator:
    return detail(page).locator("a.jds-Location")


def output_chunks(page: Page) -> Locator:
    return detail(page).locator(".jds-Output .jds-OutputChunk")


def wait_selected(page: Page, session_id: str, state: str | None = None) -> Locator:
    """Wait until `session_id` is the selected session (and in `state`); its detail."""
    expect(session_item(page, session_id)).to_have_attribute("aria-selected", "true")
    box = detail(page)
    expect(box).to_have_attribute("data-session-id", session_id)
    if state is not None:
        expect(box).to_have_attribute("data-state", state)
    return box


def wait_stopped_at(page: Page, session_id: str, where: str) -> None:
    """Wait until the selected session `session_id` is stopped at `where` (`file:line`)."""
    wait_selected(page, session_id, "stopped")
    expect(location(page)).to_have_text(where)


# -- dialogs, menus, notifications -----------------------------------------------------------


def launch_dialog(page: Page) -> Locator:
    """The open launch dialog (a JupyterLab dialog holding `.jds-LaunchForm`)."""
    dialog = page.locator(".jp-Dialog").filter(has=page.locator(".jds-LaunchForm"))
    expect(dialog).to_be_visible()
    return dialog


def open_launch_dialog(page: Page) -> Locator:
    """Open the launch dialog from the panel's toolbar ("Launch…")."""
    open_panel(page)
    toolbar_button(page, "Launch…").click()
    return launch_dialog(page)


def accept_launch(dialog: Locator) -> None:
    dialog.get_by_role("button", name="Launch", exact=True).click()


def file_item(page: Page, name: str) -> Locator:
    """The file browser's row of `name` (in the directory it shows)."""
    text = page.locator(".jp-DirListing-itemText", has_text=re.compile(rf"^{re.escape(name)}$"))
    return page.locator(".jp-DirListing-content .jp-DirListing-item").filter(has=text)


def show_file_browser(page: Page) -> None:
    """Show the file browser in the left sidebar."""
    browser = page.locator("#filebrowser")
    if not browser.is_visible():
        page.locator('li[data-id="filebrowser"]').click()
    expect(browser).to_be_visible()


def show_right_panel(page: Page, panel_id: str, missing: str) -> Locator:
    """Show the right sidebar's panel `panel_id` (click its tab unless it is shown);
    `missing`: the failure message."""
    box = page.locator(f"#{panel_id}")
    if not box.is_visible():
        page.locator(f'li[data-id="{panel_id}"]').click()
    expect(box, missing).to_be_visible()
    return box


def context_menu_item(page: Page, label: str) -> Locator:
    return page.locator(".lm-Menu").get_by_role("menuitem", name=label)


def notifications(page: Page, text: str) -> Locator:
    """JupyterLab toasts (Notification) whose text contains `text`."""
    return page.locator(".Toastify__toast", has_text=text)


def wait_new_selection(page: Page, before: set[str]) -> str:
    """Wait until a session not in `before` is selected in the list; its id."""
    others = "".join(f':not([data-session-id="{sid}"])' for sid in sorted(before))
    selected = page.locator(f'li.jds-SessionItem[aria-selected="true"]{others}')
    expect(selected).to_have_count(1)
    return selected.get_attribute("data-session-id") or ""


def launch_counter(rest: Rest, server: LabServer, line: int = COUNTER_BODY_LINE,
                   **extra: Any) -> str:
    """Launch counter.py through REST with a breakpoint on `line`; its session id."""
    program = str(server.root_dir / "counter.py")
    spec = {"debugger": "debugpy", "program": program,
            "breakpoints": [{"path": program, "line": line}], **extra}
    return str(rest.launch(spec)["id"])


def where(line: int, name: str = "counter.py") -> str:
    """The `basename:line` text the panel shows for a stop."""
    return f"{name}:{line}"
