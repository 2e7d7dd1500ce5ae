"""Routes for what a launch needs (the debuggers, the processes to attach to) and the
session collection."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import DebugAPIHandler, mapped_errors
from .session_auth import session_authorized


class DebuggersHandler(DebugAPIHandler):
    """GET /api/debug/debuggers: which debuggers work here, and why not."""

    query_arguments = {"GET": ("refresh",)}

    @web.authenticated
    @authorized("read")
    @mapped_errors
    async def get(self) -> None:
        refresh = self.get_query_argument("refresh", "") in ("1", "true")
        self.write_json(await self.manager.debuggers(refresh=refresh))


class ProcessesHandler(DebugAPIHandler):
    """GET /api/debug/processes: the server user's own processes, to attach to."""

    query_arguments = {"GET": ("q",)}

    # `execute`, not `read`: the list is for attaching (an `execute` action), and command
    # lines can hold secrets that someone allowed to read sessions need not see.
    @web.authenticated
    @authorized("execute")
    @mapped_errors
    async def get(self) -> None:
        self.write_json(await self.manager.processes(self.get_query_argument("q", None)))


class SessionsHandler(DebugAPIHandler):
    """GET, POST /api/debug/sessions: list sessions; launch one."""

    query_arguments = {"GET": (), "POST": ()}

    @web.authenticated
    @authorized("read")
    @mapped_errors
    async def get(self) -> None:
        self.write_json(await self.manager.list_models(self.base_url))

    @web.authenticated
    @authorized("execute")
    @mapped_errors
    async def post(self) -> None:
        session = await self.manager.create(self.json_body(), self.user_name)
        model = session.model(self.base_url)
        self.set_header("Location", model["links"]["self"])
        self.write_json(model, status=201)


class SessionHandler(DebugAPIHandler):
    """GET, DELETE /api/debug/sessions/{id}: one session; end it."""

    accepts_session_tokens = True
    query_arguments = {"GET": (), "DELETE": ()}

    @web.authenticated
    @session_authorized("read")
    @mapped_errors
    async def get(self, session_id: str) -> None:
        self.write_json(await self.manager.model(session_id, self.base_url))

    @web.authenticated
    @session_authorized("execute")
    @mapped_errors
    async def delete(self, session_id: str) -> None:
        await self.manager.terminate(session_id, self.user_name)
        self.write_json(await self.manager.model(session_id, self.base_url))
