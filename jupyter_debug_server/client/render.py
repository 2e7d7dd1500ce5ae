"""Human-readable text for the API's JSON: one-line session summaries and tables.

Shared by the CLI and the magics so both say the same thing the same way.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from .models import Json


def where(model: Json) -> str:
    """Where a session is: `stopped at x.py:12 (breakpoint)`, `exited with code 0`, …"""
    state = model.get("state")
    stop = model.get("stopped")
    if state == "stopped" and stop:
        place = f"{stop.get('path') or '?'}:{stop.get('line') or '?'}"
        if stop.get("name"):
            place += f" in {stop['name']}"
        return f"stopped at {place} ({stop.get('reason') or 'unknown reason'})"
    if state == "exited":
        return f"exited with code {model.get('exit_code')}"
    if state in ("failed", "lost"):
        return f"{state}: {model.get('error') or 'no reason recorded'}"
    if state == "running" and model.get("completed") is False:
        return "still running (nothing stopped it within the server's step_timeout)"
    return str(state)


def summary(model: Json) -> str:
    """`session 3f2a… (debugpy, loop.py, pid 12): stopped at …`."""
    parts = [str(model.get("debugger")), str(model.get("name"))]
    if model.get("pid") and model.get("name") != f"pid {model['pid']}":
        parts.append(f"pid {model['pid']}")
    return f"session {model.get('id')} ({', '.join(parts)}): {where(model)}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns; the last column is not padded."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r]
                                          for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True))
             + ("  " if len(row) > 1 else "") + row[-1] for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def sessions_table(models: Sequence[Json]) -> str:
    """The `list` table."""
    return table(["ID", "NAME", "DEBUGGER", "STATE", "PID", "CREATED", "WHERE"], [
        [m["id"], m["name"], m["debugger"], m["state"], m.get("pid") or "",
         str(m.get("created", ""))[:19], _short_where(m)] for m in models])


def _short_where(model: Json) -> str:
    stop = model.get("stopped")
    if model.get("state") == "stopped" and stop:
        return f"{stop.get('path')}:{stop.get('line')} ({stop.get('reason')})"
    if model.get("state") == "exited":
        return f"exit code {model.get('exit_code')}"
    if model.get("state") in ("failed", "lost"):
        return str(model.get("error") or "")[:60]
    return ""


def session_fields(model: Json) -> list[tuple[str, Any]]:
    """The fields of a session that `show` prints, as (label, value); None ones left out."""
    spec = model.get("spec") or {}
    target = (spec.get("program") or spec.get("module") or
              (f"pid {spec['pid']}" if spec.get("pid") else None))
    fields = [
        ("id", model["id"]), ("name", model["name"]), ("debugger", model["debugger"]),
        ("request", model["request"]), ("state", where(model)), ("target", target),
        ("core", spec.get("core")), ("args", " ".join(spec.get("args") or []) or None),
        ("cwd", spec.get("cwd")), ("pid", model.get("pid")),
        ("exit code", model.get("exit_code")), ("owner", model.get("owner")),
        ("created", model.get("created")), ("updated", model.get("updated")),
        ("clients", model.get("clients")),
    ]
    return [(k, v) for k, v in fields if v is not None]


def session_details(model: Json) -> str:
    """The `show` text: one `key: value` line per field that matters."""
    return "\n".join(f"{k + ':':<11}{v}" for k, v in session_fields(model))


def debuggers_table(items: Sequence[Json]) -> str:
    """The `debuggers` table (an unavailable debugger shows why instead of its path), then
    each available debugger's exception filters."""
    text = table(["NAME", "AVAILABLE", "VERSION", "PATH OR REASON"], [
        [d["name"], "yes" if d["available"] else "no", d.get("version") or "",
         d.get("path") if d["available"] else d.get("reason")] for d in items])
    rows = [[d["name"], ", ".join(f["id"] + ("*" if f.get("default") else "")
                                  for f in d["exception_filters"])]
            for d in items if d.get("exception_filters")]
    if not rows:
        return text
    filters = "\n".join("  " + line for line in table(["", ""], rows).splitlines()[1:])
    return f"{text}\n\nexception filters (launch --exceptions; * marks the defaults):\n{filters}"


def stack_table(stack: Json) -> str:
    """The `stack` table: innermost frame first."""
    rows = []
    for i, frame in enumerate(stack["frames"]):
        source = frame.get("source") or {}
        place = source.get("path") or source.get("name") or "?"
        rows.append([f"#{i}", frame["id"], frame["name"], f"{place}:{frame['line']}"])
    text = table(["#", "FRAME", "FUNCTION", "LOCATION"], rows)
    return f"thread {stack['thread_id']}\n{text}"


def _variable_rows(variables: Sequence[Json]) -> list[list[Any]]:
    return [[v["name"], v.get("type") or "", v["value"],
             v["variablesReference"] or ""] for v in variables]


def variables_text(result: Json) -> str:
    """The `vars` text: one table per scope, or one for a reference's children."""
    headers = ["NAME", "TYPE", "VALUE", "REF"]
    if "scopes" in result:
        blocks = []
        for scope in result["scopes"]:
            title = f"{scope['name']} (ref {scope['reference']})"
            more = _more(scope)
            body = table(headers, _variable_rows(scope["variables"])) if scope[
                "variables"] else "  (none)"
            blocks.append(f"{title}\n{body}{more}")
        return "\n\n".join(blocks)
    return table(headers, _variable_rows(result["variables"])) + _more(result)


def _more(page: Json) -> str:
    shown = page["start"] + len(page["variables"])
    if page["total"] is None:  # a full page of a debugger that pages: more may follow
        return f"\n  … more may follow (use --start {shown})"
    left = page["total"] - shown
    return f"\n  … {left} more (use --start {shown})" if left > 0 else ""


def snapshot_text(snapshot: Json) -> str:
    """One block of `history`: where it stopped, the top frame's variables (children
    indented under their parent), the watches, and whether anything is missing."""
    frames = snapshot.get("frames") or []
    place = "?"
    if frames:
        top = frames[0]
        place = f"{top.get('path') or '?'}:{top.get('line') or '?'}"
        if top.get("function"):
            place += f" in {top['function']}"
    when = str(snapshot.get("time") or "").replace("T", " ")[:19]
    lines = [f"#{snapshot['seq']} stopped at {place} "
             f"({snapshot.get('reason') or 'unknown reason'}), {when}"]
    for scope in snapshot.get("variables") or []:
        if scope["variables"]:
            lines.append(f"  {scope['scope']}")
            lines.append(_indent(table(["NAME", "TYPE", "VALUE"],
                                       _snapshot_rows(scope["variables"])), 4))
    if snapshot.get("watches"):
        lines.append("  watches")
        for watch in snapshot["watches"]:
            if "error" in watch:
                lines.append(f"    {watch['expression']}: error: {watch['error']}")
            else:
                lines.append(f"    {watch['expression']} = {watch.get('value')}")
    if not snapshot.get("complete"):
        lines.append("  (incomplete: the program ran on before every answer came)")
    if snapshot.get("truncated"):
        lines.append("  (truncated: some values, children or variables were cut)")
    return "\n".join(lines)


def _snapshot_rows(variables: Sequence[Json], depth: int = 0) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for variable in variables:
        more = " …" if variable.get("truncated") else ""
        rows.append(["  " * depth + variable["name"], variable.get("type") or "",
                     variable["value"] + more])
        rows += _snapshot_rows(variable.get("children") or [], depth + 1)
    return rows


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


def breakpoints_text(sources: Sequence[Json]) -> str:
    """Breakpoints per source, each with where it landed and whether it is verified."""
    rows = []
    for source in sources:
        for bp in source["breakpoints"]:
            notes = [f"{key}: {bp[key]}" for key in ("condition", "hit_condition",
                                                     "log_message") if bp.get(key)]
            if bp["line"] != bp["requested_line"]:
                notes.append(f"moved from line {bp['requested_line']}")
            if not bp["verified"]:
                notes.append(f"not verified: {bp.get('message') or 'no reason given'}")
            rows.append([f"{source['path']}:{bp['line']}", "; ".join(notes)])
    return table(["BREAKPOINT", "NOTES"], rows) if rows else "no breakpoints"



def token_issued(token: Json, url: str) -> str:
    """The `token` text: the secret (shown this once), its expiry, how to use and revoke it."""
    sid, secret = token["session_id"], token["secret"]
    return (f"token {token['id']} for session {sid}: scope {token['scope']}, expires "
            f"{token['expires']}\n"
            f"secret (shown only now; it works for this session only):\n  {secret}\n"
            "use it, e.g. from an IDE on another account or machine:\n"
            f"  JUPYTER_DEBUG_SERVER_TOKEN={shlex.quote(secret)} jupyter-debug-server forward "
            f"{sid} --stdio --url {shlex.quote(url)}\n"
            f"revoke it: jupyter-debug-server revoke {sid} {token['id']}")


def tokens_table(tokens: Sequence[Json]) -> str:
    """The `tokens` table: one row per token, oldest first, never a secret."""
    def state(t: Json) -> str:
        if t.get("revoked"):
            return "revoked"
        return "active" if t.get("active") else "expired or ended"

    return table(["ID", "SCOPE", "CREATED", "EXPIRES", "STATE"], [
        [t["id"], t["scope"], str(t["created"])[:19], str(t["expires"])[:19], state(t)]
        for t in tokens])
