"""Routes that drive one session: raw DAP, stepping, stack, variables, output."""

from __future__ import annotations

from typing import Any

from tornado import web

from ..runner.breakpoints import check_route_body, parse_route_breakpoints
from ..runner.session import LIFECYCLE_COMMANDS, Session
from .base import DebugAPIHandler, body_int, body_str, mapped_errors
from .session_auth import session_authorized
from .tunnel import DapTunnel

_STEP_KINDS = ("over", "in", "out")
_CONTEXTS = ("repl", "watch", "hover", "clipboard", "variables")
_MAX_PAGE = 10_000


class SessionRoute(DebugAPIHandler):
    """A route under /api/debug/sessions/{id}/: a token of that session authenticates too."""

    accepts_session_tokens = True

    async def session(self, session_id: str) -> Session:
        """The session of this server run (404 if unknown, 409 if of an earlier run)."""
        return await self.manager.live(session_id)

    def reply_with_model(self, session: Session, result: dict[str, Any]) -> None:
        """Answer a control request with the session's new model."""
        self.write_json(session.model(self.base_url) | result)


class DapHandler(DapTunnel, SessionRoute):
    """POST /api/debug/sessions/{id}/dap: one raw DAP request → its response body.

    GET with `Upgrade: websocket` is the DAP tunnel (api/tunnel.py).
    """

    query_arguments = {"GET": ("role",), "POST": ()}

    @web.authenticated
    @session_authorized("execute")
    @mapped_errors
    async def post(self, session_id: str) -> None:
        session = await self.session(session_id)
        body = self.json_body()
        command = body_str(body, "command", required=True)
        assert command is not None
        if command in LIFECYCLE_COMMANDS:
            raise web.HTTPError(400, f"DAP command {command!r} is managed by the server: "
                                "create a session with POST /api/debug/sessions and end it "
                                "with DELETE", reason="lifecycle-command")
        arguments = body.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise web.HTTPError(400, f"'arguments' must be an object, not {arguments!r:.60}",
                                reason="bad-argument")
        self.write_json(await session.dap(command, arguments))

    def on_connection_close(self) -> None:
        # WebSocketHandler's version (first in the MRO) does not end the wait for a
        # streamed body: a POST whose client left (or that was refused for its size)
        # would never finish.
        web.RequestHandler.on_connection_close(self)
        super().on_connection_close()


class ContinueHandler(SessionRoute):
    """POST …/continue: resume; return after the next stop or exit (bounded)."""

    query_arguments = {"POST": ()}

    @web.authenticated
    @session_authorized("execute")
    @mapped_errors
    async def post(self, session_id: str) -> None:
        session = await self.session(session_id)
        body = self.json_body()
        result = await session.resume("continue", body_int(body, "thread_id"))
        self.reply_with_model(session, result)


class StepHandler(SessionRoute):
    """POST …/step {"kind": over|in|out}: step; return the new location."""

    query_arguments = {"POST": ()}

    @web.authenticated
    @session_authorized("execute")
    @mapped_errors
    async def post(self, session_id: str) -> None:
        session = await self.session(session_id)
        body = self.json_body()
        kind = body.get("kind", "over")
        if kind not in _STEP_KINDS:
            raise web.HTTPError(400, f"step kind {kind!r} is not one of over, in, out",
                                reason="bad-argument")
        result = await session.resume(kind, body_int(body, "thread_id"))
        self.reply_with_model(session, result)


class PauseHandler(SessionRoute):
    """POST …/pause: interrupt the target; return once it has stopped (bounded)."""

    query_arguments = {"POST": ()}

    @web.authenticated
    @session_authorized("execute")
    @mapped_errors
    async def post(self, session_id: str) -> None:
        session = await self.session(session_id)
        result = await session.pause(body_int(self.json_body(), "thread_id"))
        self.reply_with_model(session, result)


class StackHandler(SessionRoute):
    """GET …/stack?thread_id=&start=&levels=: frames of a stopped thread."""

    query_arguments = {"GET": ("thread_id", "start", "levels")}

    @web.authenticated
    @session_authorized("read")
    @mapped_errors
    async def get(self, session_id: str) -> None:
        session = await self.session(session_id)
        self.write_json(await session.stack(
            self.int_arg("thread_id", None),
            self.int_arg("start", 0) or 0,
            self.int_arg("levels", 50, minimum=1, maximum=_MAX_PAGE) or 50,
        ))


class VariablesHandler(SessionRoute):
    """GET …/variables?frame_id=|reference=&start=&count=: variables, paged."""

    query_arguments = {"GET": ("frame_id", "reference", "start", "count")}

    @web.authenticated
    @session_authorized("read")
    @mapped_errors
    async def get(self, session_id: str) -> None:
        session = await self.session(session_id)
        self.write_json(await session.variables(
            self.int_arg("frame_id", None),
            self.int_arg("reference", None, minimum=1),
            self.int_arg("start", 0) or 0,
            self.int_arg("count", 100, minimum=0, maximum=_MAX_PAGE) or 0,
        ))


class EvaluateHandler(SessionRoute):
    """POST …/evaluate {"expression", "frame_id"?, "context"?}."""

    query_arguments = {"POST": ()}

    @web.authenticated
    @session_authorized("execute")
    @mapped_errors
    async def post(self, session_id: str) -> None:
        session = await self.session(session_id)
        body = self.json_body()
        expression = body_str(body, "expression", required=True)
        context = body_str(body, "context") or "repl"
        if context not in _CONTEXTS:
            raise web.HTTPError(400, f"context {context!r} is not one of {', '.join(_CONTEXTS)}",
                                reason="bad-argument")
        assert expression is not None
        self.write_json(await session.evaluate(expression, body_int(body, "frame_id"), context))


class BreakpointsHandler(SessionRoute):
    """PUT, GET …/breakpoints: replace or list the breakpoints of a source file."""

    query_arguments = {"GET": ("path",), "PUT": ()}

    @web.authenticated
    @session_authorized("read")
    @mapped_errors
    async def get(self, session_id: str) -> None:
        session = await self.session(session_id)
        path = self.get_query_argument("path", None)
        sources = session.breakpoints
        if path is not None:
            resolved = await self.manager.resolve_path(path, "path")
            sources = {resolved: sources.get(resolved, [])}
        self.write_json([{"path": p, "breakpoints": b} for p, b in sorted(sources.items())])

    @web.authenticated
    @session_authorized("execute")
    @mapped_errors
    async def put(self, session_id: str) -> None:
        session = await self.session(session_id)
        body = self.json_body()
        check_route_body(body)
        path = body_str(body, "path", required=True)
        assert path is not None
        resolved = await self.manager.resolve_path(path, "path")
        dap_items = parse_route_breakpoints(body.get("breakpoints", []))
        result = await session.set_breakpoints(resolved, dap_items)
        self.write_json({"path": resolved, "breakpoints": result})


class OutputHandler(DebugAPIHandler):
    """GET …/output?since=&limit=: captured output, also after the session ended."""

    accepts_session_tokens = True
    query_arguments = {"GET": ("since", "limit")}

    @web.authenticated
    @session_authorized("read")
    @mapped_errors
    async def get(self, session_id: str) -> None:
        await self.write_page(session_id, self.manager.read_output, limit=1000,
                              most=_MAX_PAGE)
