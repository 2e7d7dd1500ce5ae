"""JupyterLab's debugger sidebar and editors on our sessions (issue 16): gutters, the
stop's variables, stepping and the highlight, conditional and log breakpoints, gdb and
lldb, breakpoints and steps of other clients, the console and watches, and a notebook's
own kernel debugger beside it."""

from __future__ import annotations

import json
import re
import subprocess
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from ui_debugger import (
    PAGING_CALL_LINE,
    PAGING_RETURN_LINE,
    SHAPES_PRINT_LINE,
    breakpoint_lines,
    breakpoint_rows,
    console_outputs,
    console_prompt,
    debug_this_file,
    edit_breakpoint,
    expand_variable,
    frames,
    gutter_line,
    highlighted_line,
    open_file,
    open_sidebar,
    sidebar,
    sidebar_button,
    variable,
    variable_name,
    watch_value,
)
from ui_kernel import debug_notebook_cell
from ui_lab import ARTIFACTS, LabServer, ui_python
from ui_page import (
    COUNTER_BODY_LINE,
    COUNTER_PRINT_LINE,
    detail,
    launch_dialog,
    notifications,
    open_panel,
    output_chunks,
    session_item,
    wait_new_selection,
)
from ui_rest import Rest
from websockets.sync.client import connect

#: The highlighted line of counter.py, by line.
COUNTER_TEXT = {COUNTER_BODY_LINE: re.compile(r"total \+= i"),
                COUNTER_PRINT_LINE: re.compile(r'print\("step"')}


def launch_from_editor(page: Page, rest: Rest, debugger: str | None = None,
                       gutters: int = 1) -> str:
    """"Debug This File…" from the current editor (the dialog says how many gutter
    breakpoints go with it), Launch; the new session's id."""
    before = {s["id"] for s in rest.sessions()}
    debug_this_file(page)
    dialog = launch_dialog(page)
    note = dialog.locator(".jds-LaunchForm-gutters")
    if gutters:
        expect(note).to_have_text(re.compile(rf"^and {gutters} breakpoints? set in "))
    else:
        expect(note).to_have_count(0)
    if debugger is not None:
        dialog.locator("select[name=debugger]").select_option(debugger)
    dialog.get_by_role("button", name="Launch", exact=True).click()
    expect(dialog).to_have_count(0)
    return wait_new_selection(page, before)


def wait_ended(rest: Rest, session_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The session once it has ended (exited or terminated)."""
    deadline = time.monotonic() + timeout
    while True:
        session = rest.session(session_id)
        if session["state"] in ("exited", "terminated", "failed", "lost"):
            return session
        assert time.monotonic() < deadline, f"session {session_id} still {session['state']}"
        time.sleep(0.1)


def cli(server: LabServer, *args: str) -> str:
    """Run `jupyter-debug-server ARGS` against `server`; its standard output."""
    done = subprocess.run(
        [ui_python(), "-m", "jupyter_debug_server.cli", *args, "--url", server.url,
         "--token", server.token],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


class DapClient:
    """A DAP client on a session's tunnel, as an IDE's forward is (initialized, joined)."""

    def __init__(self, server: LabServer, session_id: str) -> None:
        url = server.url.replace("http", "ws", 1)
        self._connection = connect(f"{url}/api/debug/sessions/{session_id}/dap",
                                   additional_headers={"Authorization": f"token {server.token}"},
                                   open_timeout=10)
        self._socket = self._connection.__enter__()
        self._seq = 0
        self.request("initialize", {"adapterID": "test", "pathFormat": "path",
                                    "linesStartAt1": True, "columnsStartAt1": True})
        self.request("configurationDone")

    def request(self, command: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one request; its (successful) response, events skipped."""
        self._seq += 1
        self._socket.send(json.dumps({"seq": self._seq, "type": "request",
                                      "command": command, "arguments": arguments or {}}))
        while True:
            message = json.loads(self._socket.recv(timeout=10))
            if message.get("type") == "response" and message["request_seq"] == self._seq:
                assert message["success"], message
                return dict(message)

    def __enter__(self) -> DapClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._connection.__exit__(*exc)


def test_python_gutter_launch_stop_step(page: Page, rest: Rest, server: LabServer) -> None:
    """Open counter.py, click the gutter, launch: the sidebar shows the stop's call stack
    and variables, and a step moves the editor's highlight; the console evaluates in the
    frame and a watch shows its value."""
    program = str(server.root_dir / "counter.py")
    open_file(page, "counter.py")
    gutter_line(page, COUNTER_BODY_LINE).click()
    expect(gutter_line(page, COUNTER_BODY_LINE).locator(".cm-breakpoint-icon")).to_have_count(1)
    session_id = launch_from_editor(page, rest)
    # The gutter's breakpoint went with the launch.
    spec = rest.session(session_id)["spec"]
    assert spec["breakpoints"] == [{"path": program, "line": COUNTER_BODY_LINE}], spec

    open_sidebar(page)
    expect(frames(page).first).to_contain_text(f"counter.py:{COUNTER_BODY_LINE}")
    expect(variable(page, "total")).to_have_text("0")
    expect(variable(page, "i")).to_have_text("0")
    expect(highlighted_line(page)).to_have_text(COUNTER_TEXT[COUNTER_BODY_LINE])
    expect(breakpoint_rows(page)).to_have_count(1)
    expect(breakpoint_rows(page).first).to_contain_text(str(COUNTER_BODY_LINE))

    sidebar_button(page, "Step Over").click()
    expect(highlighted_line(page)).to_have_text(COUNTER_TEXT[COUNTER_PRINT_LINE])
    expect(frames(page).first).to_contain_text(f"counter.py:{COUNTER_PRINT_LINE}")
    assert rest.session(session_id)["stopped"]["line"] == COUNTER_PRINT_LINE

    # The console evaluates in the selected frame; a watch shows its value.
    console_prompt(page).fill("total + 100")
    console_prompt(page).press("Enter")
    expect(console_outputs(page).last).to_have_text("100")
    watches = sidebar(page).locator("input.jds-Watches-add")
    watches.fill("i * 10")
    watches.press("Enter")
    expect(watch_value(page, "i * 10")).to_have_text("0")
    assert rest.get(f"sessions/{session_id}/watches")["watches"] == ["i * 10"]

    # Continue to the next hit: the variables and the watch follow.
    sidebar_button(page, "Continue").click()
    expect(variable(page, "i")).to_have_text("1")
    expect(watch_value(page, "i * 10")).to_have_text("10")
    expect(highlighted_line(page)).to_have_text(COUNTER_TEXT[COUNTER_BODY_LINE])


def test_other_clients_breakpoints_and_steps_show(page: Page, rest: Rest,
                                                  server: LabServer) -> None:
    """A breakpoint set with `jupyter-debug-server break` appears in the gutter within a
    second; a step taken through REST moves the highlight; the gutter removes the CLI's
    breakpoint, and the CLI sees it gone."""
    program = str(server.root_dir / "counter.py")
    open_file(page, "counter.py")
    gutter_line(page, COUNTER_BODY_LINE).click()
    session_id = launch_from_editor(page, rest)
    open_sidebar(page)
    expect(highlighted_line(page)).to_have_text(COUNTER_TEXT[COUNTER_BODY_LINE])

    cli(server, "break", session_id, f"{program}:{COUNTER_PRINT_LINE}")
    expect(gutter_line(page, COUNTER_PRINT_LINE).locator(".cm-breakpoint-icon")).to_have_count(
        1, timeout=1000)
    assert breakpoint_lines(page) == [COUNTER_BODY_LINE, COUNTER_PRINT_LINE]

    rest.step(session_id)
    expect(highlighted_line(page)).to_have_text(COUNTER_TEXT[COUNTER_PRINT_LINE])
    expect(variable(page, "total")).to_have_text("0")

    # An IDE's breakpoint (another DAP client of the tunnel) shows too, faded: the gutter
    # leaves it to its owner.
    with DapClient(server, session_id) as ide:
        # (Line 50 is past the end of the 7-line file: not shown, and no error.)
        ide.request("setBreakpoints", {"source": {"path": program},
                                       "breakpoints": [{"line": 6}, {"line": 50}]})
        mark = gutter_line(page, 6)
        expect(mark.locator(".cm-breakpoint-icon")).to_have_count(1, timeout=1000)
        expect(mark).to_have_class(re.compile(r"jds-bp-foreign"))
        mark.click()
        expect(notifications(page, "belongs to another client")).to_have_count(1)
        expect(mark.locator(".cm-breakpoint-icon")).to_have_count(1)
    # It leaves with its client.
    expect(gutter_line(page, 6).locator(".cm-breakpoint-icon")).to_have_count(0)

    # The CLI's breakpoint is the session's: the gutter may remove it.
    gutter_line(page, COUNTER_PRINT_LINE).click()
    expect(gutter_line(page, COUNTER_PRINT_LINE).locator(".cm-breakpoint-icon")).to_have_count(0)
    listed = rest.get(f"sessions/{session_id}/breakpoints")
    assert [[b["line"] for b in s["breakpoints"]] for s in listed] == [[COUNTER_BODY_LINE]]


def test_conditional_breakpoint_stops_only_when_it_holds(page: Page, rest: Rest) -> None:
    """A condition from the gutter's right-click: the program stops only where it holds."""
    open_file(page, "counter.py")
    edit_breakpoint(page, COUNTER_BODY_LINE, condition="i == 2")
    expect(gutter_line(page, COUNTER_BODY_LINE).locator(".cm-breakpoint-icon")).to_have_count(1)
    expect(gutter_line(page, COUNTER_BODY_LINE)).to_have_class(re.compile(r"jds-bp-conditional"))
    session_id = launch_from_editor(page, rest)
    spec = rest.session(session_id)["spec"]
    assert spec["breakpoints"][0]["condition"] == "i == 2", spec
    open_sidebar(page)
    expect(variable(page, "i")).to_have_text("2")
    expect(variable(page, "total")).to_have_text("1")
    # The dialog shows the condition again.
    gutter_line(page, COUNTER_BODY_LINE).click(button="right")
    form = page.locator(".jds-BreakpointForm")
    expect(form.locator("input[name=condition]")).to_have_value("i == 2")
    page.locator(".jp-Dialog-footer").get_by_role("button", name="Cancel").click()
    sidebar_button(page, "Continue").click()
    assert wait_ended(rest, session_id)["state"] == "exited"
    assert len(rest.snapshots(session_id)) == 1  # one stop: i == 2


def test_hit_count_breakpoint_stops_on_that_hit(page: Page, rest: Rest) -> None:
    """A hit count from the gutter's right-click: the first stop is the second hit."""
    open_file(page, "counter.py")
    edit_breakpoint(page, COUNTER_BODY_LINE, hit_condition="2")
    expect(gutter_line(page, COUNTER_BODY_LINE)).to_have_class(re.compile(r"jds-bp-conditional"))
    session_id = launch_from_editor(page, rest)
    assert rest.session(session_id)["spec"]["breakpoints"][0]["hit_condition"] == "2"
    open_sidebar(page)
    expect(variable(page, "i")).to_have_text("1")
    assert len(rest.snapshots(session_id)) == 1


def test_log_breakpoint_prints_without_stopping(page: Page, rest: Rest) -> None:
    """A log message from the gutter's right-click: the output shows it, nothing stops."""
    open_file(page, "counter.py")
    edit_breakpoint(page, COUNTER_PRINT_LINE, log_message="logged {i}")
    expect(gutter_line(page, COUNTER_PRINT_LINE)).to_have_class(re.compile(r"jds-bp-log"))
    session_id = launch_from_editor(page, rest)
    assert wait_ended(rest, session_id)["state"] == "exited"
    assert rest.snapshots(session_id) == []
    expect(session_item(page, session_id)).to_have_attribute("data-state", "exited")
    expect(detail(page).locator(".jds-Output")).to_contain_text("logged 2")
    text = rest.output_text(session_id)
    # The log messages come from the debugger, the program's own lines from its stdout:
    # two streams, so a message may land inside a line the program is printing in pieces
    # (`print("step", i)` writes "step", " ", "1", "\n"; CI once saw "steplogged 0").
    assert re.findall(r"logged (\d+)\n", text) == ["0", "1", "2"], text
    assert output_chunks(page).count() > 0


@pytest.mark.parametrize("debugger", ["gdb", "lldb"])
def test_native_program_struct_expands(page: Page, rest: Rest, server: LabServer,
                                       debugger: str) -> None:
    """shapes.c under gdb and under lldb: the gutter's breakpoint stops it, the struct
    expands to its fields, the highlight follows a step."""
    if debugger not in {n for n, d in rest.debuggers().items() if d["available"]}:
        pytest.skip(f"{debugger} is not available on this machine")
    open_file(page, "shapes.c")
    gutter_line(page, SHAPES_PRINT_LINE).click()
    session_id = launch_from_editor(page, rest, debugger)
    assert rest.session(session_id)["debugger"] == debugger
    open_sidebar(page)
    expect(highlighted_line(page)).to_have_text(re.compile(r"printf"))
    expect(variable(page, "area")).to_have_text("12")
    expand_variable(page, "p")
    expect(variable(page, "x")).to_have_text("3")
    expect(variable(page, "y")).to_have_text("4")
    page.screenshot(path=str(ARTIFACTS / "screenshots" / f"{debugger}-struct.png"))
    if debugger == "gdb":
        # gdb's own commands in the console, in the selected frame.
        console_prompt(page).fill("-exec info locals")
        console_prompt(page).press("Enter")
        expect(console_outputs(page).last).to_contain_text("area = 12")
    sidebar_button(page, "Step Over").click()
    expect(highlighted_line(page)).to_have_text(re.compile(r"return 0"))


def test_notebook_kernel_debugger_still_works(page: Page, rest: Rest, server: LabServer) -> None:
    """After a session was debugged in the sidebar, a notebook's own kernel debugger still
    stops in a cell (JupyterLab's global debugger is untouched)."""
    open_file(page, "counter.py")
    gutter_line(page, COUNTER_BODY_LINE).click()
    session_id = launch_from_editor(page, rest)
    open_sidebar(page)
    expect(variable(page, "total")).to_have_text("0")
    debug_notebook_cell(page, server)
    # …and the session's sidebar is still bound to the session.
    open_sidebar(page)
    expect(variable(page, "total")).to_have_text("0")
    rest.step(session_id)
    expect(frames(page).first).to_contain_text(f"counter.py:{COUNTER_PRINT_LINE}")


def test_frames_select_and_large_containers_page(page: Page, rest: Rest,
                                                 server: LabServer) -> None:
    """A call stack of two frames: the caller's frame shows its variables and moves the
    highlight; a list of 1000 items opens in groups of 100 that read their items."""
    program = str(server.root_dir / "paging.py")
    open_file(page, "paging.py")
    session_id = str(rest.launch({"debugger": "debugpy", "program": program, "breakpoints": [
        {"path": program, "line": PAGING_RETURN_LINE}]})["id"])
    open_panel(page)
    session_item(page, session_id).click()
    open_sidebar(page)
    expect(frames(page)).to_have_count(2)
    expect(frames(page).first).to_contain_text(f"paging.py:{PAGING_RETURN_LINE}")
    expect(highlighted_line(page)).to_have_text(re.compile(r"return result"))
    expect(variable(page, "result")).to_have_text("499500")

    expand_variable(page, "values")
    groups = [f"[{n}…{n + 99}]" for n in range(0, 1000, 100)]
    for name in groups:
        expect(variable_name(page, name)).to_have_count(1)
    expect(variable(page, "[900…999]")).to_have_text("100 items")
    expand_variable(page, "[900…999]")
    item = sidebar(page).locator(".jp-DebuggerVariables-name",
                                 has_text=re.compile(r"^\[?999\]?$"))
    expect(item).to_have_count(1)
    expect(item.locator("xpath=following-sibling::span[1]")).to_have_text("999")

    # The caller's frame: its variables, and the highlight on the call.
    frames(page).nth(1).click()
    expect(frames(page).nth(1)).to_have_class(re.compile(r"\bselected\b"))
    expect(variable_name(page, "items")).to_have_count(1)
    expect(highlighted_line(page)).to_have_text(re.compile(r"print\(total_of"))
    assert PAGING_CALL_LINE == 7
