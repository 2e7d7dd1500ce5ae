"""What `%debug_session` returns: the server's JSON (a dict or list, so `_` holds the
model) that displays itself as text and HTML through `_repr_mimebundle_`.

The text is the CLI's (client/render.py); the HTML escapes everything that comes from the
program or the debugger (names, values, paths, output). A view may carry a widget: then
the widget is shown where a frontend can render it, the HTML elsewhere (a static export).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from ..client import Json, render

_STYLE = "border-collapse:collapse;font-family:var(--jp-code-font-family,monospace)"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def html_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table of escaped cells."""
    head = "".join(f"<th style='text-align:left;padding:0 8px'>{_esc(h)}</th>"
                   for h in headers)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left;padding:0 8px'>{_esc(c)}"
                                    "</td>" for c in row) + "</tr>" for row in rows)
    return f"<table style='{_STYLE}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class RichView:
    """Mixin of the views below: a JSON value that renders as text and HTML, or as the
    widget in `view` where widgets render."""

    view: Any = None

    def __init__(self, data: Any = (), view: Any = None) -> None:
        super().__init__(data)  # type: ignore[call-arg]  # (dict or list: next in the MRO)
        self.view = view

    def text(self) -> str:
        """The plain-text rendering (the CLI's words)."""
        raise NotImplementedError

    def html(self) -> str:
        """The HTML rendering, every value escaped."""
        return f"<pre>{_esc(self.text())}</pre>"

    def _repr_mimebundle_(self, include: Any = None,
                          exclude: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        bundle: dict[str, Any] = {"text/plain": self.text(), "text/html": self.html()}
        metadata: dict[str, Any] = {}
        if self.view is not None:
            shown = self.view._repr_mimebundle_(include=include, exclude=exclude)
            # (anywidget answers `(data, metadata)`, ipywidgets' widgets `data` alone)
            data, metadata = shown if isinstance(shown, tuple) else (shown, {})
            bundle.update(data)
            bundle["text/plain"] = self.text()
        return bundle, metadata

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # IPython's plain-text formatter asks this, not the bundle, for dicts and lists.
        printer.text(self.text())


class SessionsView(RichView, list[Json]):
    """The session list (bare `%debug_session`)."""

    def text(self) -> str:
        return render.sessions_table(self) if self else "no debug sessions"

    def html(self) -> str:
        if not self:
            return "<p>no debug sessions</p>"
        return html_table(["id", "name", "debugger", "state", "pid", "created", "where"], [
            [m["id"], m["name"], m["debugger"], m["state"], m.get("pid") or "",
             str(m.get("created", ""))[:19], render.where(m)] for m in self])


class SessionView(RichView, dict[str, Any]):
    """One session: where it is (after launch, step, continue, pause, stop), or every
    field that matters with `details` (show, use)."""

    details = False

    def __init__(self, data: Any = (), view: Any = None, *, details: bool = False) -> None:
        super().__init__(data, view)
        self.details = details

    def text(self) -> str:
        head = render.summary(self)
        return f"{head}\n{render.session_details(self)}" if self.details else head

    def html(self) -> str:
        head = (f"<p><b>session {_esc(self.get('id'))}</b> ({_esc(self.get('debugger'))}, "
                f"{_esc(self.get('name'))}): {_esc(render.where(self))}</p>")
        if not self.details:
            return head
        return head + html_table(["", ""], render.session_fields(self))


class StackView(RichView, dict[str, Any]):
    """The call stack of the stopped thread."""

    def text(self) -> str:
        return render.stack_table(self)

    def html(self) -> str:
        rows = []
        for i, frame in enumerate(self["frames"]):
            source = frame.get("source") or {}
            place = source.get("path") or source.get("name") or "?"
            rows.append([f"#{i}", frame["id"], frame["name"], f"{place}:{frame['line']}"])
        return (f"<p>thread {_esc(self.get('thread_id'))}</p>"
                + html_table(["#", "frame", "function", "location"], rows))


class VariablesView(RichView, dict[str, Any]):
    """The scopes of a frame, or one page of a reference's children."""

    def text(self) -> str:
        return render.variables_text(self)

    def html(self) -> str:
        def rows(variables: list[Json]) -> list[list[Any]]:
            return [[v["name"], v.get("type") or "", v["value"],
                     v["variablesReference"] or ""] for v in variables]

        headers = ["name", "type", "value", "ref"]
        if "scopes" not in self:
            return html_table(headers, rows(self["variables"]))
        return "".join(f"<p><b>{_esc(s['name'])}</b> (ref {_esc(s['reference'])})</p>"
                       + html_table(headers, rows(s["variables"])) for s in self["scopes"])


class EvalView(RichView, dict[str, Any]):
    """An evaluation's result (`result`, `type`, `variablesReference`)."""

    def text(self) -> str:
        ref = self.get("variablesReference") or 0
        more = f"\n(its children: %debug_session vars --ref {ref})" if ref else ""
        return str(self.get("result")) + more


class BreakpointsView(RichView, list[Json]):
    """Breakpoints per source, as placed."""

    def text(self) -> str:
        return render.breakpoints_text(self)

    def html(self) -> str:
        rows = [[f"{s['path']}:{bp['line']}", "yes" if bp["verified"] else "no",
                 bp.get("condition") or "", bp.get("message") or ""]
                for s in self for bp in s["breakpoints"]]
        if not rows:
            return "<p>no breakpoints</p>"
        return html_table(["breakpoint", "verified", "condition", "message"], rows)


class TokenView(RichView, dict[str, Any]):
    """A new session token. The secret stays in the value (`_["secret"]`) and is never
    displayed: displayed output is saved into the notebook."""

    def text(self) -> str:
        return (f"token {self['id']} for session {self['session_id']}: scope "
                f"{self['scope']}, expires {self['expires']}\n"
                "the secret is not shown (output is saved in the notebook): it is "
                "_['secret'] of this result, this once; revoke the token with "
                f"`jupyter-debug-server revoke {self['session_id']} {self['id']}`")


class OutputView(RichView, list[Json]):
    """Captured output chunks (`seq`, `category`, `output`)."""

    def text(self) -> str:
        return "".join(str(chunk["output"]) for chunk in self)

    def html(self) -> str:
        spans = "".join(
            f"<span style='color:var(--jp-error-color1,#c00)'>{_esc(c['output'])}</span>"
            if c.get("category") != "stdout" else _esc(c["output"]) for c in self)
        return f"<pre>{spans}</pre>"
