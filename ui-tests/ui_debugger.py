"""JupyterLab's debugger sidebar on our sessions (issue 16) as the tests see it: the
sidebar's sections, an editor's gutter and current line, the breakpoint dialog."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect
from ui_page import context_menu_item, file_item, show_file_browser, show_right_panel

SIDEBAR_ID = "jds-debugger-sidebar"

#: A struct to expand in the debugger's variables (issue 16).
SHAPES_C = """\
#include <stdio.h>

struct point {
    int x;
    int y;
};

int main(void) {
    struct point p = {3, 4};
    int area = p.x * p.y;
    printf("area %d\\n", area);
    return 0;
}
"""
SHAPES_PRINT_LINE = 11

#: A large list, and a call to select frames in (issue 16).
PAGING_PY = """\
def total_of(values):
    result = sum(values)
    return result


items = list(range(1000))
print(total_of(items))
"""
PAGING_RETURN_LINE = 3  # `    return result`
PAGING_CALL_LINE = 7  # `print(total_of(items))`


def sidebar(page: Page) -> Locator:
    return page.locator(f"#{SIDEBAR_ID}")


def open_sidebar(page: Page) -> Locator:
    """Show the session debugger's sidebar (click its tab on the right unless shown)."""
    return show_right_panel(page, SIDEBAR_ID, "the session debugger's sidebar did not show")


def variable_name(page: Page, name: str) -> Locator:
    """The variables tree's name cell of `name` (top level, or shown by an expansion)."""
    return sidebar(page).locator(".jp-DebuggerVariables-name",
                                 has_text=re.compile(rf"^{re.escape(name)}$"))


def variable(page: Page, name: str) -> Locator:
    """The value shown beside `name` in the variables tree."""
    return variable_name(page, name).locator(
        "xpath=following-sibling::span[contains(@class, 'jp-DebuggerVariables-detail')][1]")


def expand_variable(page: Page, name: str) -> None:
    """Open `name`'s children in the variables tree (click its row)."""
    variable_name(page, name).first.click()


def frames(page: Page) -> Locator:
    return sidebar(page).locator(".jp-DebuggerCallstack-body .jp-DebuggerCallstackFrame")


def breakpoint_rows(page: Page) -> Locator:
    return sidebar(page).locator(".jp-DebuggerBreakpoints-body .jp-DebuggerBreakpoint")


def sidebar_button(page: Page, title: str) -> Locator:
    """A toolbar button of the sidebar by its title ("Continue", "Step Over", ...)."""
    return sidebar(page).locator(f'.jp-Toolbar [title="{title}"]').first


def open_file(page: Page, name: str) -> Locator:
    """Open `name` (in the root) in a file editor by double-clicking it; the editor."""
    show_file_browser(page)
    file_item(page, name).dblclick()
    expect(editor(page).locator(".cm-content")).to_be_visible()
    return editor(page)


def editor(page: Page) -> Locator:
    """The file editor of the current main-area tab."""
    return page.locator(".jp-MainAreaWidget:not(.lm-mod-hidden) .jp-FileEditor")


#: A gutter's elements, one per line (the first element is a hidden spacer).
_LINES = ".cm-gutterElement:not([style*='visibility: hidden'])"


def gutter_line(page: Page, line: int) -> Locator:
    """The breakpoint gutter's element of `line` (1-based)."""
    return editor(page).locator(f".cm-gutter.cm-breakpoint-gutter {_LINES}").nth(line - 1)


def breakpoint_lines(page: Page) -> list[int]:
    """The lines of the current editor that show a breakpoint marker."""
    numbers = editor(page).locator(f".cm-lineNumbers {_LINES}")
    marks = editor(page).locator(f".cm-gutter.cm-breakpoint-gutter {_LINES}")
    lines = []
    for index in range(marks.count()):
        if marks.nth(index).locator(".cm-breakpoint-icon, .cm-selected-breakpoint-icon").count():
            lines.append(int(numbers.nth(index).inner_text()))
    return lines


def highlighted_line(page: Page) -> Locator:
    """The current editor's line that the debugger highlights (the current frame's)."""
    return editor(page).locator(".cm-line.jp-DebuggerEditor-highlight")


def debug_this_file(page: Page) -> None:
    """Right-click the editor, "Debug This File…"."""
    editor(page).locator(".cm-content").click(button="right")
    context_menu_item(page, "Debug This File…").click()


def breakpoint_dialog(page: Page) -> Locator:
    """The open breakpoint dialog (a gutter's right-click)."""
    dialog = page.locator(".jp-Dialog").filter(has=page.locator(".jds-BreakpointForm"))
    expect(dialog).to_be_visible()
    return dialog


def edit_breakpoint(page: Page, line: int, *, condition: str = "", hit_condition: str = "",
                    log_message: str = "") -> None:
    """Right-click the gutter at `line`, fill the breakpoint dialog, accept it."""
    gutter_line(page, line).click(button="right")
    dialog = breakpoint_dialog(page)
    expect(dialog.locator(".jp-Dialog-header")).to_contain_text(f":{line}")
    form = dialog.locator(".jds-BreakpointForm")
    form.locator("input[name=condition]").fill(condition)
    form.locator("input[name=hit_condition]").fill(hit_condition)
    form.locator("input[name=log_message]").fill(log_message)
    dialog.locator(".jp-Dialog-footer").get_by_role(
        "button", name=re.compile(r"^(Add|Save)$")).click()
    expect(dialog).to_have_count(0)


def console_prompt(page: Page) -> Locator:
    return sidebar(page).locator("input.jds-Console-prompt")


def console_outputs(page: Page) -> Locator:
    return sidebar(page).locator(".jds-Console-output")


def watch_value(page: Page, expression: str) -> Locator:
    return sidebar(page).locator(f'.jds-Watch[data-expression="{expression}"] .jds-Watch-value')
