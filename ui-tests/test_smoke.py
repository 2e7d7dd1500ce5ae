"""The harness itself: JupyterLab loads with our extension, and our REST API answers."""

from __future__ import annotations

import json
import urllib.request

from playwright.sync_api import Page, expect
from ui_lab import LABEXTENSION_NAME, LabServer
from ui_page import file_item
from ui_rest import Rest


def test_lab_loads_with_the_extension(page: Page, server: LabServer, rest: Rest) -> None:
    """The shell is shown, the page config lists our extension, the REST API answers."""
    expect(page.locator("#jp-top-panel")).to_be_visible()
    expect(page.locator("#filebrowser")).to_be_visible()
    config = json.loads(page.locator("#jupyter-config-data").text_content() or "{}")
    names = [ext["name"] for ext in config.get("federated_extensions", [])]
    assert LABEXTENSION_NAME in names, names
    disabled = config.get("disabledExtensions", {})
    assert "@jupyterlab/apputils-extension:announcements" in disabled, disabled
    # the extension's own JavaScript is served
    entry = next(e for e in config["federated_extensions"] if e["name"] == LABEXTENSION_NAME)
    request = urllib.request.Request(
        f"{server.url}/lab/extensions/{LABEXTENSION_NAME}/{entry['load']}",
        headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.status == 200
    assert "debugpy" in rest.debuggers()
    assert isinstance(rest.sessions(), list)
    print("page url:", page.url)
    expect(file_item(page, "counter.py")).to_be_visible()
