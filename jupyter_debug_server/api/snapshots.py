"""The stop history and the watch expressions of a session: /snapshots, /snapshots/{seq},
/watches."""

from __future__ import annotations

from typing import ClassVar

from tornado import web

from .base import DebugAPIHandler, mapped_errors
from .control import SessionRoute
from .session_auth import session_authorized

_MAX_PAGE = 1000


class SnapshotsHandler(DebugAPIHandler):
    """GET …/snapshots?since=&limit=: the stop history, paged like the output; readable in
    every state, also for sessions of an earlier server run."""

    accepts_session_tokens = True
    query_arguments: ClassVar[dict[str, tuple[str, ...]]] = {"GET": ("since", "limit")}

    @web.authenticated
    @session_authorized("read")
    @mapped_errors
    async def get(self, session_id: str) -> None:
        await self.write_page(session_id, self.manager.read_snapshots, limit=100,
                              most=_MAX_PAGE)


class SnapshotHandler(DebugAPIHandler):
    """GET …/snapshots/{seq}: one snapshot (404 naming the ones there are)."""

    accepts_session_tokens = True
    query_arguments: ClassVar[dict[str, tuple[str, ...]]] = {"GET": ()}

    @web.authenticated
    @session_authorized("read")
    @mapped_errors
    async def get(self, session_id: str, seq: str) -> None:
        if not seq.isdigit() or len(seq) > 18:
            await self.manager.require(session_id)  # an unknown session is a 404 first
            raise web.HTTPError(400, f"snapshot {seq[:40]!r} is not a snapshot number (1, "
                                "2, …)", reason="bad-argument")
        self.write_json(await self.manager.snapshot(session_id, int(seq)))


class WatchesHandler(SessionRoute):
    """GET, PUT …/watches: the expressions evaluated at every stop for its snapshot."""

    query_arguments: ClassVar[dict[str, tuple[str, ...]]] = {"GET": (), "PUT": ()}

    @web.authenticated
    @session_authorized("read")
    @mapped_errors
    async def get(self, session_id: str) -> None:
        session = await self.session(session_id)
        self.write_json(_watches(session.snapshots.watches, session.snapshots.enabled))

    @web.authenticated
    @session_authorized("execute")
    @mapped_errors
    async def put(self, session_id: str) -> None:
        session = await self.session(session_id)
        body = self.json_body()
        if "watches" not in body:
            raise web.HTTPError(400, "the request body needs 'watches', a list of expression "
                                "strings ([] removes every watch)", reason="bad-argument")
        unknown = sorted(set(body) - {"watches"})
        if unknown:
            raise web.HTTPError(400, f"unknown field {unknown[0]!r} in the body; the only "
                                "field is 'watches'", reason="bad-argument")
        watches = session.snapshots.set_watches(body["watches"])
        self.write_json(_watches(watches, session.snapshots.enabled))


def _watches(watches: tuple[str, ...], enabled: bool) -> dict[str, object]:
    return {"watches": list(watches), "snapshots": enabled}
