"""Routes that issue, list and revoke session tokens (Jupyter authentication only)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..runner.errors import SessionStateError
from .base import DebugAPIHandler, mapped_errors


class TokensHandler(DebugAPIHandler):
    """GET, POST /api/debug/sessions/{id}/tokens: list a session's tokens; issue one.

    A session token never authenticates here (accepts_session_tokens is False): a token
    cannot mint or revoke tokens.
    """

    query_arguments = {"GET": (), "POST": ()}

    @web.authenticated
    @authorized("read")
    @mapped_errors
    async def get(self, session_id: str) -> None:
        await self.manager.model(session_id, self.base_url)  # 404 for an unknown session
        self.write_json(await self.manager.tokens.list_tokens(session_id))

    @web.authenticated
    @authorized("execute")
    @mapped_errors
    async def post(self, session_id: str) -> None:
        session = await self.manager.live(session_id)
        body = self.json_body()
        tokens = self.manager.tokens
        scope = tokens.parse_scope(body.get("scope"))
        ttl = tokens.parse_ttl(body.get("ttl"))
        if not session.active:
            raise SessionStateError(f"session {session_id} is {session.state}; tokens can only "
                                    "be issued for an active session")
        token = await tokens.issue(session_id, scope, ttl, self.user_name)
        # The secret is in this answer only: no cache may keep a copy.
        self.set_header("Cache-Control", "no-store")
        self.set_header("Location", f"{self.request.path}/{token['id']}")
        self.write_json(token, status=201)


class TokenHandler(DebugAPIHandler):
    """DELETE /api/debug/sessions/{id}/tokens/{token_id}: revoke, effective at once."""

    query_arguments = {"DELETE": ()}

    @web.authenticated
    @authorized("execute")
    @mapped_errors
    async def delete(self, session_id: str, token_id: str) -> None:
        await self.manager.model(session_id, self.base_url)  # 404 for an unknown session
        await self.manager.tokens.revoke(session_id, token_id, self.user_name)
        self.set_status(204)
        self.finish()
