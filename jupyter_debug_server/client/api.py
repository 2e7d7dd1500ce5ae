"""DebugServerClient: every REST route of the extension as a typed, blocking method.

The CLI, the notebook magics and the MCP server use this; none of them builds URLs or
parses errors on its own. The events WebSocket is in `events.py`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator
from typing import Any

from .events import follow_output, follow_snapshots, wait_settled
from .models import FINAL_STATES, Json
from .transport import Transport, quote_segment, session_route

__all__ = ["FINAL_STATES", "DebugServerClient", "Json"]


class DebugServerClient:
    """A client of one Jupyter server's debug API (`/api/debug/…`)."""

    def __init__(self, url: str, token: str = "", *, timeout: float = 120,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        # `timeout` bounds each request; continue/step wait up to the server's step_timeout.
        self.transport = Transport(url, token, timeout=timeout, ssl_context=ssl_context)

    @property
    def url(self) -> str:
        """The server's URL, including its base_url, without a trailing slash."""
        return self.transport.url

    @property
    def token(self) -> str:
        """The credential: a Jupyter token, or a session token (`jds_…`)."""
        return self.transport.token

    def close(self) -> None:
        """Close the kept-alive HTTP connection."""
        self.transport.close()

    def __enter__(self) -> DebugServerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _session(self, method: str, session_id: str, route: str = "", body: Any = None,
                 **query: Any) -> Any:
        return self.transport.request(method, session_route(session_id, route), body,
                                      query=query)

    # -- debuggers and sessions --------------------------------------------------

    def debuggers(self, refresh: bool = False) -> list[Json]:
        """Every debugger: name, available, version, path, reason."""
        return list(self.transport.request("GET", "/api/debug/debuggers",
                                           query={"refresh": "1" if refresh else None}))

    def sessions(self) -> list[Json]:
        """Every session, newest first."""
        return list(self.transport.request("GET", "/api/debug/sessions"))

    def create_session(self, spec: Json) -> Json:
        """Launch or attach from a launch spec; the new session model."""
        return dict(self.transport.request("POST", "/api/debug/sessions", spec))

    def session(self, session_id: str) -> Json:
        """One session's model."""
        return dict(self._session("GET", session_id))

    def terminate(self, session_id: str) -> Json:
        """End a session (idempotent); its model afterwards."""
        return dict(self._session("DELETE", session_id))

    def ids_matching(self, prefix: str) -> list[str]:
        """Ids of the sessions whose id starts with `prefix`, to expand an abbreviation."""
        return sorted(str(s["id"]) for s in self.sessions() if str(s["id"]).startswith(prefix))

    # -- control -------------------------------------------------------------------

    def dap(self, session_id: str, command: str, arguments: Json | None = None) -> Any:
        """Send one raw DAP request; the body of its response."""
        body: Json = {"command": command}
        if arguments is not None:
            body["arguments"] = arguments
        return self._session("POST", session_id, "/dap", body)

    def continue_(self, session_id: str, thread_id: int | None = None) -> Json:
        """Resume; the model after the next stop or exit (`completed` false on timeout)."""
        return dict(self._session("POST", session_id, "/continue", _thread(thread_id)))

    def pause(self, session_id: str, thread_id: int | None = None) -> Json:
        """Interrupt; the model once it has stopped."""
        return dict(self._session("POST", session_id, "/pause", _thread(thread_id)))

    def step(self, session_id: str, kind: str = "over", thread_id: int | None = None) -> Json:
        """Step `over`, `in` or `out`; the model at the new location."""
        return dict(self._session("POST", session_id, "/step",
                                  {"kind": kind, **_thread(thread_id)}))

    def evaluate(self, session_id: str, expression: str, frame_id: int | None = None,
                 context: str | None = None) -> Json:
        """Evaluate `expression` in a frame (default: the top frame of the stopped thread)."""
        body: Json = {"expression": expression}
        if frame_id is not None:
            body["frame_id"] = frame_id
        if context is not None:
            body["context"] = context
        return dict(self._session("POST", session_id, "/evaluate", body))

    def set_breakpoints(self, session_id: str, path: str,
                        breakpoints: list[Json]) -> Json:
        """Replace the breakpoints of `path` (`[{line, condition?, hit_condition?,
        log_message?}]`, empty clears); the source's breakpoints as placed."""
        return dict(self._session("PUT", session_id, "/breakpoints",
                                  {"path": path, "breakpoints": breakpoints}))

    def add_breakpoints(self, session_id: str, breakpoints: list[Json]) -> list[Json]:
        """Add launch-spec breakpoints (`{path, line, condition?, …}`) to those already set,
        replacing any on the same line; each source's breakpoints as placed."""
        by_path: dict[str, list[Json]] = {}
        for bp in breakpoints:
            by_path.setdefault(bp["path"], []).append(bp)
        results = []
        for path, wanted in by_path.items():
            # PUT replaces a source's breakpoints: keep the ones already set there.
            merged = self._requested(session_id, path)
            for bp in wanted:
                merged[bp["line"]] = {k: v for k, v in bp.items() if k != "path"}
            results.append(self.set_breakpoints(session_id, path, list(merged.values())))
        return results

    def clear_breakpoints(self, session_id: str, path: str, line: int | None = None) -> Json:
        """Remove the breakpoint at `line` of `path` (as requested), or all of `path`'s."""
        kept: dict[int, Json] = {}
        if line is not None:
            kept = self._requested(session_id, path)
            kept.pop(line, None)
        return self.set_breakpoints(session_id, path, list(kept.values()))

    def _requested(self, session_id: str, path: str) -> dict[int, Json]:
        """The breakpoints set on `path`, by requested line, as PUT takes them."""
        out: dict[int, Json] = {}
        for source in self.breakpoints(session_id, path):
            for bp in source["breakpoints"]:
                item: Json = {"line": bp["requested_line"]}
                for key in ("condition", "hit_condition", "log_message"):
                    if bp.get(key) is not None:
                        item[key] = bp[key]
                out[bp["requested_line"]] = item
        return out

    # -- inspection ----------------------------------------------------------------

    def breakpoints(self, session_id: str, path: str | None = None) -> list[Json]:
        """Breakpoints of every source, or of `path`."""
        return list(self._session("GET", session_id, "/breakpoints", path=path))

    def stack(self, session_id: str, thread_id: int | None = None, start: int = 0,
              levels: int = 50) -> Json:
        """Frames of a stopped thread (default the one that stopped)."""
        return dict(self._session("GET", session_id, "/stack", thread_id=thread_id,
                                  start=start, levels=levels))

    def variables(self, session_id: str, frame_id: int | None = None,
                  reference: int | None = None, start: int = 0, count: int = 100) -> Json:
        """Every scope of a frame, or one page of a variables reference's children."""
        return dict(self._session("GET", session_id, "/variables", frame_id=frame_id,
                                  reference=reference, start=start, count=count))

    def output(self, session_id: str, since: int = 0, limit: int = 1000) -> Json:
        """One page of captured output after seq `since`: items, next, truncated, state."""
        return dict(self._session("GET", session_id, "/output", since=since, limit=limit))

    def iter_output(self, session_id: str, since: int = 0,
                    limit: int = 1000) -> Iterator[Json]:
        """Every captured chunk after `since`, page by page, up to what exists now."""
        while True:
            page = self.output(session_id, since, limit)
            yield from page["items"]
            if len(page["items"]) < limit:
                return
            since = page["next"]

    # -- the stop history and watches ------------------------------------------------

    def snapshots(self, session_id: str, since: int = 0, limit: int = 100) -> Json:
        """One page of the stop history after seq `since`: items, next, truncated, state."""
        return dict(self._session("GET", session_id, "/snapshots", since=since,
                                  limit=limit))

    def snapshot(self, session_id: str, seq: int) -> Json:
        """One snapshot (404 `no-such-snapshot` names the ones there are)."""
        return dict(self._session("GET", session_id, f"/snapshots/{int(seq)}"))

    def iter_snapshots(self, session_id: str, since: int = 0,
                       limit: int = 100) -> Iterator[Json]:
        """Every snapshot after `since`, page by page, up to what exists now."""
        while True:
            page = self.snapshots(session_id, since, limit)
            yield from page["items"]
            if len(page["items"]) < limit:
                return
            since = page["next"]

    def watches(self, session_id: str) -> list[str]:
        """The expressions evaluated at every stop."""
        return list(self._session("GET", session_id, "/watches")["watches"])

    def set_watches(self, session_id: str, expressions: list[str]) -> list[str]:
        """Replace the watch expressions (from the next stop on); the new list."""
        return list(self._session("PUT", session_id, "/watches",
                                  {"watches": list(expressions)})["watches"])

    # -- events (blocking wrappers; async code uses `events` directly) ---------------

    def wait_settled(self, session_id: str, timeout: float) -> Json:
        """Wait until the session stops or ends (at most `timeout` s); its model then."""
        return asyncio.run(wait_settled(self, session_id, timeout))

    def follow_output(self, session_id: str, on_chunk: Callable[[Json], None],
                      since: int = 0) -> Json:
        """Pass every output chunk after `since` to `on_chunk`, live, until the session
        ends; the final model."""
        return asyncio.run(follow_output(self, session_id, on_chunk, since))

    def follow_snapshots(self, session_id: str, on_snapshot: Callable[[Json], None],
                         since: int = 0) -> Json:
        """Pass every snapshot after `since` to `on_snapshot`, the stored ones and then
        each stop's as it is taken, until the session ends; the final model."""
        return asyncio.run(follow_snapshots(self, session_id, on_snapshot, since))

    # -- session tokens ------------------------------------------------------------

    def create_token(self, session_id: str, ttl: int | None = None,
                     scope: str = "control") -> Json:
        """Issue a session token: `{id, session_id, scope, created, expires, secret}` (the
        secret is shown this once); `ttl` in whole seconds, default the server's."""
        body: Json = {"scope": scope}
        if ttl is not None:
            body["ttl"] = ttl
        return dict(self._session("POST", session_id, "/tokens", body))

    def tokens(self, session_id: str) -> list[Json]:
        """The session's tokens, without their secrets."""
        return list(self._session("GET", session_id, "/tokens"))

    def revoke_token(self, session_id: str, token_id: str) -> Any:
        """Revoke one session token, effective at once."""
        return self._session("DELETE", session_id, f"/tokens/{quote_segment(token_id)}")


def _thread(thread_id: int | None) -> Json:
    return {} if thread_id is None else {"thread_id": thread_id}
