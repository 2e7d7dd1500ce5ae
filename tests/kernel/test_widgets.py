"""The live widgets in a real kernel against a real server, read as a front end reads them:
the comm messages on IOPub (kernels.Widgets), and custom messages sent back as clicks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_debug_server.client import DebugServerClient

from ..support.server_process import ServerProcess
from .kernels import Kernel, Widgets, kernel_env

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def widgets(kernel: Kernel) -> Widgets:
    return Widgets(kernel)


@pytest.fixture
def client(server: ServerProcess) -> Iterator[DebugServerClient]:
    """Another client of the server (the CLI's or an IDE's stand-in)."""
    client = DebugServerClient(f"http://127.0.0.1:{server.port}", server.token)
    yield client
    client.close()


def _line(state: dict[str, Any]) -> Any:
    return (state.get("location") or {}).get("line")


def _variables(state: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: v["value"] for scope in state.get("variables") or []
            for v in scope["variables"]}


def test_the_session_widget_follows_while_a_cell_sleeps_and_its_buttons_step(
        widgets: Widgets, client: DebugServerClient, server: ServerProcess) -> None:
    comm = widgets.shown("%debug_session launch -b targets/loop.py:5 --name widgety "
                         "targets/loop.py")
    state = widgets.states[comm]
    assert state["view"] == "session" and state["_esm"].startswith("// The front end")
    sid = state["session_id"]
    state = widgets.wait(comm, lambda s: _line(s) == 5 and _variables(s).get("a") == "0")
    program = str(server.root / "targets" / "loop.py")
    assert state["location"]["path"] == program and state["location"]["name"] == "add"
    assert [5, "    total = a + b"] in state["location"]["source"]
    assert state["session"]["state"] == "stopped" and state["session"]["name"] == "widgety"
    assert state["stack"][0]["name"] == "add" and state["stack"][1]["name"] == "main"
    assert state["following"] is True and state["snapshots"]["count"] == 1

    # Another client steps while a cell sleeps: the update arrives before the cell ends.
    sleeper = widgets.execute("import time; time.sleep(3)")
    widgets.until(lambda m: m["msg_type"] == "execute_input"
                  and m["parent_header"].get("msg_id") == sleeper)
    client.step(sid)
    state = widgets.wait(comm, lambda s: _line(s) == 6 and _variables(s).get("total") == "1")
    assert not any(m["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
                   and m["parent_header"].get("msg_id") == sleeper for m in widgets.seen), \
        "the widget's update came only after the sleeping cell ended"
    assert [6, "    return total"] in state["location"]["source"]
    widgets.idle(sleeper)

    # A click on Step Over steps (the command runs in the kernel's updater thread).
    widgets.send(comm, {"type": "command", "command": "step", "kind": "over"})
    state = widgets.wait(comm, lambda s: _line(s) not in (None, 6))
    model = client.session(sid)
    assert model["stopped"]["line"] == _line(state) and state["location"]["name"] == "main"
    assert state["busy"] == "" and state["error"] == ""

    # Stop ends the session; the widget shows the end and stops following.
    widgets.send(comm, {"type": "command", "command": "stop"})
    state = widgets.wait(comm, lambda s: s["following"] is False)
    assert state["session"]["state"] in ("terminated", "exited") and state["location"] == {}
    assert client.session(sid)["state"] == state["session"]["state"]

    # A click the server refuses shows its sentence on the widget's error line.
    widgets.send(comm, {"type": "command", "command": "step", "kind": "over"})
    state = widgets.wait(comm, lambda s: s["error"] != "")
    assert sid in state["error"] and "Traceback" not in state["error"], state["error"]
    widgets.send(comm, {"type": "command", "command": "rm -rf"})
    state = widgets.wait(comm, lambda s: "'rm -rf' is not a command" in s["error"])


def test_the_output_widget_streams_the_tail(widgets: Widgets) -> None:
    widgets.run("%debug_session launch --stop-on-entry -e CHATTY_GREETING=hi "
                "targets/chatty.py one")
    comm = widgets.shown("%debug_session logs -f")
    assert widgets.states[comm]["view"] == "output"
    widgets.run("%debug_session continue")
    widgets.wait(comm, lambda s: s["following"] is False)
    text = "".join(m["text"] for m in widgets.custom.get(comm, []))
    assert "before hi ['one']" in text and "after 2" in text, widgets.custom.get(comm)
    assert widgets.states[comm]["session"]["exit_code"] == 0

    # A new view asks for the tail so far: it is sent whole, once.
    count = len(widgets.custom[comm])
    widgets.send(comm, {"type": "tail"})
    widgets.until(lambda _m: len(widgets.custom[comm]) > count)
    again = widgets.custom[comm][-1]
    assert again["reset"] is True
    # the whole tail is the streamed chunks joined: no line end lost between two of them
    assert again["text"] == text, (again["text"], text)


def test_the_sessions_widget_lists_sessions_live(widgets: Widgets,
                                                 client: DebugServerClient) -> None:
    comm = widgets.shown("%debug_session")
    assert widgets.states[comm]["view"] == "sessions"
    model = client.create_session({"debugger": "debugpy", "program": "targets/loop.py",
                                   "name": "listed-live", "stop_on_entry": True})
    state = widgets.wait(comm, lambda s: any(r["id"] == model["id"] and r["state"] == "stopped"
                                             for r in s["sessions"]))
    row = next(r for r in state["sessions"] if r["id"] == model["id"])
    assert row["name"] == "listed-live" and row["debugger"] == "debugpy"
    client.terminate(model["id"])
    widgets.wait(comm, lambda s: any(r["id"] == model["id"] and r["state"] in (
        "terminated", "exited") for r in s["sessions"]))


def test_a_closed_widget_closes_its_stream(widgets: Widgets) -> None:
    widgets.run("%debug_session launch --stop-on-entry targets/loop.py")
    widgets.run("w = _.view")
    status = ("from jupyter_debug_server.kernel.updater import updater; "
              "print(json.dumps(updater().status()))")
    widgets.run("import json")

    def streams() -> int:
        outs = [m for m in widgets.run(status) if m["msg_type"] == "stream"]
        return int(json.loads(outs[-1]["content"]["text"])["streams"])

    before = streams()
    assert before >= 1
    widgets.run("w.close(); w.unfollowed.result(10)")
    assert streams() == before - 1
    widgets.run("%debug_session stop")


def test_no_credential_is_saved_in_the_notebook(server: ServerProcess,
                                                tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    nb = new_notebook(cells=[new_code_cell(source) for source in (
        "%load_ext jupyter_debug_server",
        "%debug_session launch -b targets/loop.py:6 targets/loop.py",
        "%debug_session",
        "%debug_session logs -f",
        "%debug_session token --scope observe",
        f"open({str(secret_file)!r}, 'w').write(_['secret'])",
        "%debug_session stop",
    )])
    runner = NotebookClient(nb, kernel_name="python3", timeout=90, store_widget_state=True,
                            resources={"metadata": {"path": str(server.root)}})
    runner.execute(env=kernel_env(server))
    saved = nbformat.writes(nb)
    states = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    views = sorted(s["state"].get("view", "") for s in states.values())
    assert {"output", "session", "sessions"} <= set(views), views
    session_state = next(s["state"] for s in states.values()
                         if s["state"].get("view") == "session")
    assert len(session_state["session_id"]) >= 8  # what is saved: what is shown
    secret = secret_file.read_text()
    assert len(secret) >= 20 and len(server.token) >= 20
    assert server.token not in saved and secret not in saved
