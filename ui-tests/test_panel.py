"""The Debug Sessions panel: opening it, the session list, a session's controls, its
output, the page reload, the keyboard and the stop timeline."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from ui_lab import LabServer
from ui_page import (
    COUNTER_BODY_LINE,
    COUNTER_FOR_LINE,
    COUNTER_PRINT_LINE,
    context_menu_item,
    control,
    detail,
    file_item,
    launch_counter,
    launch_dialog,
    location,
    open_lab,
    open_panel,
    open_panel_from_palette,
    panel,
    session_item,
    session_items,
    show_file_browser,
    sidebar_tab,
    wait_new_selection,
    wait_restored,
    wait_selected,
    wait_stopped_at,
    where,
)
from ui_rest import Rest


def test_panel_opens_from_its_tab_and_the_palette(page: Page) -> None:
    """The sidebar tab is titled "Debug Sessions"; the palette entry opens the panel."""
    tab = sidebar_tab(page)
    expect(tab).to_have_attribute("title", re.compile(r"^Debug Sessions"))
    open_panel_from_palette(page)
    expect(tab).to_have_attribute("aria-selected", "true")
    for label in ("Launch…", "Attach…", "Open Core…"):
        expect(panel(page).locator(f'[aria-label="{label}"]')).to_have_count(1)


def test_debug_with_from_the_file_browser(page: Page, rest: Rest, server: LabServer) -> None:
    """Issue acceptance: "Debug with…" on counter.py, a breakpoint, Launch; the session
    stops there, steps twice, shows its output while it runs, and stops."""
    show_file_browser(page)
    item = file_item(page, "counter.py")
    item.click(button="right")
    context_menu_item(page, "Debug with…").click()
    dialog = launch_dialog(page)
    form = dialog.locator(".jds-LaunchForm")
    expect(form.locator("input[name=program]")).to_have_value(re.compile(r"counter\.py$"))
    form.locator("textarea[name=breakpoints]").fill(str(COUNTER_BODY_LINE))
    before = {s["id"] for s in rest.sessions()}
    dialog.get_by_role("button", name="Launch", exact=True).click()
    expect(dialog).to_have_count(0)

    # the new session is selected, and it is the one the server started
    session_id = wait_new_selection(page, before)
    new = [s for s in rest.sessions() if s["id"] not in before]
    assert [s["id"] for s in new] == [session_id], (new, session_id)
    assert new[0]["spec"]["program"] == str(server.root_dir / "counter.py")

    wait_stopped_at(page, session_id, where(COUNTER_BODY_LINE))
    item = session_item(page, session_id)
    expect(item).to_have_attribute("data-state", "stopped")
    expect(item.locator(".jds-SessionItem-location")).to_have_text(where(COUNTER_BODY_LINE))
    expect(item.locator(".jds-SessionItem-debugger")).to_have_text("debugpy")
    link = location(page)
    expect(link).to_have_attribute("data-path", str(server.root_dir / "counter.py"))
    expect(link).to_have_attribute("data-line", str(COUNTER_BODY_LINE))
    expect(control(page, "Step Over")).to_be_enabled()

    control(page, "Step Over").click()
    expect(link).to_have_text(where(COUNTER_PRINT_LINE))
    control(page, "Step Over").click()
    expect(link).to_have_text(where(COUNTER_FOR_LINE))
    assert rest.session(session_id)["stopped"]["line"] == COUNTER_FOR_LINE

    # run on: the loop prints "step 0" and stops at the breakpoint again
    control(page, "Continue").click()
    expect(detail(page).locator(".jds-Output")).to_contain_text("step 0")
    # (the server cuts the pipe's output into chunks where reads end: join them)
    stdout = "".join(detail(page).locator(
        '.jds-Output .jds-OutputChunk[data-category="stdout"]').all_text_contents())
    assert stdout.startswith("start\nstep 0"), stdout
    expect(link).to_have_text(where(COUNTER_BODY_LINE))

    # the stop location opens the file in an editor at that line
    link.click()
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current",
                        has_text="counter.py")).to_be_visible()
    expect(page.locator("#jp-main-dock-panel .jp-FileEditor .cm-content")).to_contain_text(
        "total += i")
    # the status bar shows the cursor of the current editor
    expect(page.locator("#jp-main-statusbar")).to_contain_text(
        re.compile(rf"Ln {COUNTER_BODY_LINE}, Col \d+"))

    open_panel(page)
    control(page, "Stop").click()
    expect(detail(page)).to_have_attribute("data-state", "terminated")
    expect(session_item(page, session_id)).to_have_attribute("data-state", "terminated")
    expect(control(page, "Step Over")).to_be_disabled()
    assert rest.session(session_id)["state"] == "terminated"


def test_reload_keeps_the_session_selected(page: Page, rest: Rest, server: LabServer) -> None:
    """After a reload the panel shows the same session, selected, in the same state."""
    session_id = launch_counter(rest, server)
    open_panel(page)
    session_item(page, session_id).click()
    wait_stopped_at(page, session_id, where(COUNTER_BODY_LINE))
    control(page, "Step Over").click()
    expect(location(page)).to_have_text(where(COUNTER_PRINT_LINE))

    page.reload()
    wait_restored(page)
    open_panel(page)
    wait_stopped_at(page, session_id, where(COUNTER_PRINT_LINE))
    expect(session_items(page)).to_have_count(len(rest.sessions()))
    model = rest.session(session_id)
    assert (model["state"], model["stopped"]["line"]) == ("stopped", COUNTER_PRINT_LINE)


def test_session_list_matches_the_server(page: Page, rest: Rest, server: LabServer) -> None:
    """Newest first, each with its state, debugger, stop location and exit code."""
    stopped = launch_counter(rest, server)
    finished = str(rest.launch({"debugger": "debugpy",
                                "program": str(server.root_dir / "counter.py")})["id"])
    open_panel(page)
    expect(session_item(page, finished)).to_have_attribute("data-state", "exited")
    expect(session_item(page, stopped)).to_have_attribute("data-state", "stopped")
    expect(session_item(page, finished).locator(".jds-SessionItem-exit")).to_have_text(
        re.compile(r"(^|\D)0$"))
    expect(session_item(page, finished).locator(".jds-SessionItem-location")).to_have_text("")
    expect(session_item(page, stopped).locator(".jds-SessionItem-location")).to_have_text(
        where(COUNTER_BODY_LINE))
    ids = [s["id"] for s in sorted(rest.sessions(), key=lambda s: s["created"], reverse=True)]
    expect(session_items(page)).to_have_count(len(ids))
    shown = [li.get_attribute("data-session-id") for li in session_items(page).all()]
    assert shown == ids, "the list is not newest first"
    for li in session_items(page).all():
        model = rest.session(li.get_attribute("data-session-id") or "")
        expect(li).to_have_attribute("data-state", model["state"])
        expect(li.locator(".jds-SessionItem-name")).to_have_text(model["name"])
        expect(li.locator(".jds-SessionItem-state")).to_contain_text(model["state"])
    # clicking an item selects it
    session_item(page, finished).click()
    wait_selected(page, finished, "exited")
    expect(control(page, "Step Over")).to_be_disabled()
    expect(control(page, "Continue")).to_be_disabled()
    expect(detail(page).locator(".jds-Output")).to_contain_text("done 3")


def test_url_selects_the_session(page: Page, rest: Rest, server: LabServer) -> None:
    """/lab?debug-session=<id> opens the panel with that session selected."""
    session_id = launch_counter(rest, server)
    launch_counter(rest, server)  # a newer one, which the URL must not select
    open_lab(page, server, query=f"debug-session={session_id}")
    expect(panel(page)).to_be_visible()
    wait_stopped_at(page, session_id, where(COUNTER_BODY_LINE))


def test_keyboard_steps(page: Page, rest: Rest, server: LabServer) -> None:
    """With focus in the panel: F10 steps over, F5 continues, Shift+F5 stops."""
    session_id = launch_counter(rest, server)
    open_panel(page)
    session_item(page, session_id).click()
    wait_stopped_at(page, session_id, where(COUNTER_BODY_LINE))
    inside = page.evaluate(
        "() => !!document.activeElement?.closest('.jds-SessionsPanel')")
    assert inside, "clicking a session item leaves the keyboard focus outside the panel"

    page.keyboard.press("F10")
    expect(location(page)).to_have_text(where(COUNTER_PRINT_LINE))
    assert rest.session(session_id)["stopped"]["line"] == COUNTER_PRINT_LINE
    page.keyboard.press("F10")
    expect(location(page)).to_have_text(where(COUNTER_FOR_LINE))
    page.keyboard.press("F5")  # on to the breakpoint, the loop's next round
    expect(location(page)).to_have_text(where(COUNTER_BODY_LINE))
    expect(detail(page).locator(".jds-Output")).to_contain_text("step 0")
    page.keyboard.press("Shift+F5")
    expect(detail(page)).to_have_attribute("data-state", "terminated")
    assert rest.session(session_id)["state"] == "terminated"


def test_snapshot_timeline(page: Page, rest: Rest, server: LabServer) -> None:
    """One timeline entry per stop; clicking one shows that stop's variables."""
    session_id = launch_counter(rest, server)
    open_panel(page)
    session_item(page, session_id).click()
    wait_stopped_at(page, session_id, where(COUNTER_BODY_LINE))
    # stops: 4 (i=0), 5, 3, 4 (i=1), 5 (total=1)
    lines = [COUNTER_BODY_LINE, COUNTER_PRINT_LINE, COUNTER_FOR_LINE, COUNTER_BODY_LINE,
             COUNTER_PRINT_LINE]
    snapshots = detail(page).locator("ol.jds-Snapshots > li.jds-Snapshot")
    expect(snapshots).to_have_count(1)
    for action, line in zip(["Step Over", "Step Over", "Continue", "Step Over"], lines[1:],
                            strict=True):
        control(page, action).click()
        expect(location(page)).to_have_text(where(line))
    expect(snapshots).to_have_count(len(lines))
    by_seq = {int(li.get_attribute("data-seq") or 0): li for li in snapshots.all()}
    assert sorted(by_seq) == list(range(1, len(lines) + 1)), sorted(by_seq)
    for seq, line in enumerate(lines, start=1):
        expect(by_seq[seq]).to_contain_text(where(line))

    variables = detail(page).locator(".jds-SnapshotVariables")
    total = variables.locator(".jds-Variable").filter(
        has=page.locator(".jds-Variable-name", has_text=re.compile(r"^total$")))
    for seq, value in ((len(lines), "1"), (1, "0")):
        by_seq[seq].click()
        expect(total.first.locator(".jds-Variable-value")).to_have_text(value)

    control(page, "Stop").click()
    expect(detail(page)).to_have_attribute("data-state", "terminated")
    stored = rest.snapshots(session_id)
    assert [s["frames"][0]["line"] for s in stored] == lines
    expect(snapshots).to_have_count(len(stored))
