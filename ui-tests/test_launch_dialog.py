"""The launch dialog: every field reaches the launch spec, and a refused launch shows the
server's sentence."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from ui_lab import LabServer
from ui_page import (
    COUNTER_BODY_LINE,
    ConsoleLog,
    notifications,
    open_launch_dialog,
    wait_new_selection,
    wait_stopped_at,
    where,
)
from ui_rest import Rest

#: JupyterLab cuts a notification's message after this many characters.
NOTIFICATION_CHARS = 140


def test_refused_launch_shows_the_server_sentence(
        page: Page, rest: Rest, console: ConsoleLog) -> None:
    """A program outside the root: the server's 400 sentence shows as a notification, and
    whole above the form, which opens again as it was filled in."""
    spec = {"debugger": "debugpy", "program": "/etc/hostname"}
    status, body = rest.call("POST", "sessions", spec)
    assert status == 400, body
    message = body["message"]
    before = rest.sessions()

    console.expect(r"the server responded with a status of 400")  # Chromium logs the 400
    console.expect(r"^error notification: program '/etc/hostname' resolves to")
    dialog = open_launch_dialog(page)
    form = dialog.locator(".jds-LaunchForm")
    form.locator("select[name=debugger]").select_option("debugpy")
    form.locator("input[name=target][value=program]").check()
    form.locator("input[name=program]").fill("/etc/hostname")
    dialog.get_by_role("button", name="Launch", exact=True).click()
    # (a message longer than JupyterLab shows is compared on the part it shows)
    shown = message if len(message) <= NOTIFICATION_CHARS else message[:NOTIFICATION_CHARS - 20]
    toast = notifications(page, shown)
    expect(toast).to_have_count(1)
    expect(toast).to_have_class(re.compile(r"Toastify__toast--error"))
    expect(toast).to_be_in_viewport(ratio=1)  # (slid in: for the screenshot)
    again = page.locator(".jp-Dialog .jds-LaunchForm")
    expect(page.locator(".jp-Dialog .jds-FormError")).to_have_text(message)
    expect(again.locator("input[name=program]")).to_have_value("/etc/hostname")
    assert rest.sessions() == before, "a refused launch left a session"


def test_launch_form_fields_reach_the_spec(page: Page, rest: Rest, server: LabServer) -> None:
    """Program, args, cwd, env, breakpoints (bare line and FILE:LINE:CONDITION), watches
    and exception filters typed into the form are what the server launches."""
    program = str(server.root_dir / "counter.py")
    before = {s["id"] for s in rest.sessions()}
    dialog = open_launch_dialog(page)
    form = dialog.locator(".jds-LaunchForm")
    form.locator("select[name=debugger]").select_option("debugpy")
    form.locator("input[name=target][value=program]").check()
    form.locator("input[name=program]").fill(program)
    form.locator("textarea[name=args]").fill("one\ntwo words")
    form.locator("input[name=cwd]").fill(str(server.root_dir))
    form.locator("textarea[name=env]").fill("JDS_UI=1")
    form.locator("textarea[name=breakpoints]").fill(
        f"{COUNTER_BODY_LINE}:i == 1\n{program}:6")
    form.locator("textarea[name=watches]").fill("total * 10")
    filters = form.locator("input[name=exception_filter]")
    expect(filters.first).to_be_attached()
    for box in filters.all():
        box.uncheck()
    form.locator('input[name=exception_filter][value="raised"]').check()
    dialog.get_by_role("button", name="Launch", exact=True).click()
    expect(dialog).to_have_count(0)

    session_id = wait_new_selection(page, before)
    # the condition i == 1 skips the first round
    wait_stopped_at(page, session_id, where(COUNTER_BODY_LINE))
    spec = rest.session(session_id)["spec"]
    assert spec["program"] == program
    assert spec["args"] == ["one", "two words"]
    assert spec["cwd"] == str(server.root_dir)
    assert spec["env_keys"] == ["JDS_UI"]
    assert {(b["path"], b["line"], b.get("condition")) for b in spec["breakpoints"]} == {
        (program, COUNTER_BODY_LINE, "i == 1"), (program, 6, None)}
    assert spec["watches"] == ["total * 10"]
    assert spec["exception_breakpoints"] == ["raised"]
    evaluated = rest.expect(200, "POST", f"sessions/{session_id}/evaluate",
                            {"expression": "i"})
    assert evaluated["result"] == "1", evaluated
