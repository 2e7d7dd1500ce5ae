"""The share dialog: issue an observe token, see how to forward, revoke the token."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from ui_lab import LabServer
from ui_page import (
    COUNTER_BODY_LINE,
    launch_counter,
    open_panel,
    session_item,
    toolbar_button,
    wait_stopped_at,
    where,
)
from ui_rest import Rest


def test_share_issues_and_revokes_an_observe_token(
        page: Page, rest: Rest, server: LabServer) -> None:
    session_id = launch_counter(rest, server)
    open_panel(page)
    session_item(page, session_id).click()
    wait_stopped_at(page, session_id, where(COUNTER_BODY_LINE))

    toolbar_button(page, "Share…").click()
    dialog = page.locator(".jp-Dialog").filter(has=page.locator("select[name=scope]"))
    expect(dialog).to_be_visible()
    dialog.locator("select[name=scope]").select_option("observe")
    dialog.locator("input[name=ttl]").fill("600")
    dialog.get_by_role("button", name="Issue token", exact=True).click()

    expect(dialog.locator(".jds-ForwardCommand")).to_contain_text(
        f"jupyter-debug-server forward {session_id}")
    expect(dialog.locator(".jds-LaunchJson")).not_to_be_empty()
    items = dialog.locator(".jds-TokenList li.jds-Token[data-token-id]")
    expect(items).to_have_count(1)
    tokens = rest.tokens(session_id)
    assert len(tokens) == 1, tokens
    token = tokens[0]
    assert (token["scope"], token["active"], token["revoked"]) == ("observe", True, False)
    item = dialog.locator(f'li.jds-Token[data-token-id="{token["id"]}"]')
    expect(item).to_contain_text("observe")
    # the secret is shown once, and it is not in the list
    secret_shown = dialog.inner_text()
    assert "jds_" in secret_shown, "the issued secret is not shown"

    item.get_by_role("button", name="Revoke").click()
    # revoked: gone from the list, or marked revoked without its Revoke button
    expect(dialog.locator(f'li.jds-Token[data-token-id="{token["id"]}"]'
                          ':not(:has-text("revoked"))')).to_have_count(0)
    expect(item.get_by_role("button", name="Revoke")).to_have_count(0)
    token = rest.tokens(session_id)[0]
    assert (token["active"], token["revoked"]) == (False, True), token
