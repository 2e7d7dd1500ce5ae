"""The views `%debug_session` returns (kernel/display.py): JSON values that display as the
CLI's text and as HTML in which nothing from the program or the debugger is markup."""

from __future__ import annotations

import json
from typing import Any

import pytest
from IPython.core.formatters import DisplayFormatter

from jupyter_debug_server.kernel import display

pytestmark = pytest.mark.timeout(30)

EVIL = "<img src=x onerror=alert(1)>"
SESSION = {"id": "abc123", "name": EVIL, "debugger": "debugpy", "request": "launch",
           "state": "stopped", "pid": 42, "exit_code": None, "created": "2026-12-05T17:00",
           "updated": "2026-12-05T17:01", "owner": "ann", "clients": 1, "spec": {},
           "stopped": {"path": f"/x/{EVIL}.py", "line": 3, "reason": "breakpoint",
                       "name": EVIL}}


def _bundle(view: Any) -> dict[str, Any]:
    data, _ = DisplayFormatter().format(view)
    return dict(data)


def _assert_escaped(view: Any) -> dict[str, Any]:
    bundle = _bundle(view)
    assert EVIL not in bundle["text/html"], bundle["text/html"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in bundle["text/html"]
    return bundle


def test_a_session_is_its_model_and_shows_as_text_and_html() -> None:
    view = display.SessionView(SESSION)
    assert view == SESSION and json.loads(json.dumps(view)) == SESSION
    bundle = _assert_escaped(view)
    # IPython's plain-text formatter asks _repr_pretty_: the CLI's words, not a dict repr.
    assert bundle["text/plain"] == (f"session abc123 (debugpy, {EVIL}, pid 42): stopped at "
                                    f"/x/{EVIL}.py:3 in {EVIL} (breakpoint)")
    detailed = _assert_escaped(display.SessionView(SESSION, details=True))
    assert "owner:     ann" in detailed["text/plain"] and "<table" in detailed["text/html"]


def test_lists_stacks_variables_breakpoints_output_escape_everything() -> None:
    _assert_escaped(display.SessionsView([SESSION]))
    assert _bundle(display.SessionsView([]))["text/plain"] == "no debug sessions"
    frame = {"id": 1, "name": EVIL, "line": 3, "source": {"path": "/x/a.py"}}
    _assert_escaped(display.StackView({"thread_id": 1, "frames": [frame]}))
    variable = {"name": "s", "type": "str", "value": repr(EVIL), "variablesReference": 0}
    scopes = {"scopes": [{"name": "Locals", "reference": 5, "variables": [variable],
                          "start": 0, "total": 1}]}
    _assert_escaped(display.VariablesView(scopes))
    _assert_escaped(display.VariablesView({"variables": [variable], "start": 0, "total": 1}))
    _assert_escaped(display.EvalView({"result": repr(EVIL), "variablesReference": 0}))
    bp = {"line": 3, "requested_line": 3, "verified": False, "message": EVIL,
          "condition": EVIL}
    _assert_escaped(display.BreakpointsView([{"path": "/x/a.py", "breakpoints": [bp]}]))
    out = display.OutputView([{"seq": 1, "category": "stdout", "output": EVIL + "\n"},
                              {"seq": 2, "category": "stderr", "output": "oops\n"}])
    bundle = _assert_escaped(out)
    assert bundle["text/plain"] == EVIL + "\noops\n"
    assert "color:var(--jp-error-color1" in bundle["text/html"]


def test_a_tokens_secret_is_in_the_value_and_never_displayed() -> None:
    token = {"id": "t1", "session_id": "abc123", "scope": "observe",
             "created": "2026-12-05T17:00", "expires": "2026-12-05T18:00",
             "secret": "jds_verysecret"}
    view = display.TokenView(token)
    assert view["secret"] == "jds_verysecret"
    bundle = _bundle(view)
    assert all("jds_verysecret" not in str(value) for value in bundle.values())
    assert "scope observe" in bundle["text/plain"]


class FakeWidget:
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return {"text/plain": "FakeWidget()",
                "application/vnd.jupyter.widget-view+json": {"model_id": "m1"}}


def test_a_view_with_a_widget_shows_the_widget_with_text_and_html_besides() -> None:
    bundle = _bundle(display.SessionView(SESSION, FakeWidget()))
    assert bundle["application/vnd.jupyter.widget-view+json"] == {"model_id": "m1"}
    assert bundle["text/plain"].startswith("session abc123 ")
    assert "<b>session abc123</b>" in bundle["text/html"]


class FakeAnyWidget:
    """anywidget's widgets answer `(data, metadata)`."""

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return ({"application/vnd.jupyter.widget-view+json": {"model_id": "m2"}},
                {"application/vnd.jupyter.widget-view+json": {"colab": {"custom": 1}}})


def test_a_widget_that_answers_data_and_metadata_keeps_both() -> None:
    data, metadata = DisplayFormatter().format(display.SessionView(SESSION, FakeAnyWidget()))
    assert data["application/vnd.jupyter.widget-view+json"] == {"model_id": "m2"}
    assert data["text/plain"].startswith("session abc123 ") and "text/html" in data
    assert metadata["application/vnd.jupyter.widget-view+json"] == {"colab": {"custom": 1}}
