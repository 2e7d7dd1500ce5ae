"""What a control tool answers once the program has stopped, ended, or not yet.

An agent cannot watch an event stream: every tool that lets the program run (launch,
attach, continue, step, pause) answers after the next stop or exit, within a bounded wait,
with everything needed to decide the next move, read fresh after that stop: where it
stopped, a few source lines around that line, the top frame's locals, and the output the
program printed since the previous answer. When the wait ends first the answer is
`pending: true` with the state, never an error: the program is running, which is news,
not a failure.

Runs in the SDK's worker threads (tools are synchronous); the output cursors are shared
between them under a lock.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import deque
from itertools import islice
from typing import Any

from ..client import FINAL_STATES, DebugServerClient, DebugServerClientError, Json, render

#: Source lines shown before and after the line that stopped.
CONTEXT_LINES = 3
#: Characters kept of one source line.
LINE_CHARS = 200
#: Top-frame variables shown in a stop's answer (the `variables` tool pages the rest).
MAX_LOCALS = 40
#: Characters of new output kept in an answer (its tail; the `output` tool has it all).
OUTPUT_TAIL = 4_000
#: Output chunks read per request, and pages read at most for one answer.
OUTPUT_PAGE = 1_000
OUTPUT_PAGES = 8


class StopReporter:
    """Builds control tools' answers for one server, remembering per session how much of
    its output earlier answers covered."""

    def __init__(self, client: DebugServerClient) -> None:
        self.client = client
        self._cursors: dict[str, int] = {}  # session id → last output seq reported
        self._lock = threading.Lock()

    def report(self, model: Json, *, waited: str) -> Json:
        """The answer for `model`, the session as a control route (or a wait) left it;
        `waited` names the bound of that wait, for a pending answer's note."""
        sid = str(model["id"])
        state = model["state"]
        answer: Json = {"session_id": sid, "state": state,
                        "pending": state not in FINAL_STATES and state != "stopped",
                        "where": render.where(model)}
        if state == "stopped":
            answer |= self._stop(sid, model.get("stopped") or {})
        elif state in FINAL_STATES:
            answer |= {"exit_code": model.get("exit_code"), "error": model.get("error")}
        else:
            answer["note"] = (
                f"The program is still {state} after {waited}. Call pause to stop it "
                "where it is, get_session to look again, or output to read what it "
                "printed; continue and step need it stopped.")
        answer["new_output"] = self.new_output(sid)
        return answer

    def _stop(self, sid: str, stopped: Json) -> Json:
        """Where it stopped, the source around that line, and the top frame's locals."""
        path, line = stopped.get("path"), stopped.get("line")
        out: Json = {"location": {
            "path": path, "line": line, "function": stopped.get("name"),
            "reason": stopped.get("reason"), "description": stopped.get("description"),
            "thread_id": stopped.get("thread_id"), "frame_id": stopped.get("frame_id")}}
        out["source"] = source_excerpt(path, line)
        try:
            out |= top_locals(self.client.variables(sid, count=MAX_LOCALS))
        except DebugServerClientError as exc:
            # It may have run on (another client continued): say so, keep the rest.
            out["locals_error"] = exc.message
        return out

    def new_output(self, sid: str) -> Json:
        """The tail of the output printed since the last answer about session `sid`."""
        with self._lock:
            since = self._cursors.get(sid, 0)
        tail: deque[str] = deque()
        kept = omitted = 0
        more = True
        try:
            for _ in range(OUTPUT_PAGES):
                page = self.client.output(sid, since, OUTPUT_PAGE)
                for item in page["items"]:
                    text = str(item["output"])
                    tail.append(text)
                    kept += len(text)
                    while kept - len(tail[0]) >= OUTPUT_TAIL:
                        omitted += len(tail[0])
                        kept -= len(tail.popleft())
                since = int(page["next"])
                if len(page["items"]) < OUTPUT_PAGE:
                    more = False
                    break
        except DebugServerClientError as exc:
            return {"error": exc.message}
        with self._lock:
            self._cursors[sid] = max(since, self._cursors.get(sid, 0))
        text = "".join(tail)
        if len(text) > OUTPUT_TAIL:
            omitted += len(text) - OUTPUT_TAIL
            text = text[-OUTPUT_TAIL:]
        out: Json = {"text": text, "next": since}
        if omitted or more:
            out["note"] = (f"{omitted} earlier characters left out"
                           + (" and more output follows" if more else "")
                           + "; the output tool pages all of it (since=0, or since=next "
                           "for what comes after this).")
        return out


def top_locals(variables: Json) -> Json:
    """The first scope of a `variables` answer (the locals) as compact items, and the
    other scopes by name and reference."""
    scopes = list(variables.get("scopes") or [])
    if not scopes:
        return {"locals": []}
    first = scopes[0]
    out: Json = {"locals": [compact_variable(v) for v in first.get("variables") or []]}
    total = first.get("total")
    if isinstance(total, int) and total > len(out["locals"]):
        out["locals_note"] = (f"{len(out['locals'])} of {total} shown: variables("
                              f"session_id, reference={first.get('reference')}, "
                              f"start={len(out['locals'])}) pages the rest")
    if len(scopes) > 1:
        out["other_scopes"] = [{"name": s.get("name"), "reference": s.get("reference")}
                               for s in scopes[1:]]
    return out


def compact_variable(variable: Json) -> Json:
    """name, value, type, and the reference that lists its children (when it has any)."""
    out: Json = {"name": variable.get("name"), "value": variable.get("value")}
    if variable.get("type"):
        out["type"] = variable["type"]
    if variable.get("variablesReference"):
        out["reference"] = variable["variablesReference"]
    return out


def source_excerpt(path: Any, line: Any, around: int = CONTEXT_LINES) -> str | None:
    """The lines around `line` of `path`, numbered, the current one marked `>`; None when
    the file cannot be read here (the MCP server may run on another machine than the
    Jupyter server, or the program may have no source)."""
    if not isinstance(path, str) or not isinstance(line, int) or line < 1:
        return None
    first = max(1, line - around)
    try:
        # O_NONBLOCK: a FIFO at that path must not hang the tool; only files are read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    with open(fd, encoding="utf-8", errors="replace") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        lines = list(islice(handle, first - 1, line + around))
    if len(lines) < line - first + 1:
        return None  # the file changed since the program started
    width = len(str(first + len(lines) - 1))
    return "\n".join(
        f"{'>' if number == line else ' '} {number:>{width}} | {text.rstrip()[:LINE_CHARS]}"
        for number, text in enumerate(lines, first))
