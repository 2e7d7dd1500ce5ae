"""How the hub tests talk to a user's single-user server: through the hub's proxy, with a
hub API token or a session token, over REST and both session WebSockets."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tornado.httpclient import HTTPClientError

from ..support.jp_server import Server
from ..support.ws_dap import TunnelClient
from .hub import REPO, Hub

LOOP = "targets/loop.py"


def auth(secret: str, scheme: str = "token") -> dict[str, str]:
    """The Authorization header of a hub token (`token`) or a session token (`Bearer`)."""
    return {"Authorization": f"{scheme} {secret}"}


class UserServer(Server):
    """One user's server at /user/NAME/ on the proxy; requests carry that user's hub token
    unless another credential is given."""

    def __init__(self, hub: Hub, user: str) -> None:
        super().__init__(hub.port, f"/user/{user}/", hub.token(user))
        self.hub = hub
        self.user = user

    @property
    def url_base(self) -> str:
        """The server's URL as the CLI's --url takes it."""
        return f"{self.hub.url}/user/{self.user}"

    async def call(self, method: str, route: str, body: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """A debug route (`sessions/ID/stack`): (status, JSON), with our hub token unless
        `headers` carry another credential."""
        data = None if body is None else json.dumps(body).encode()
        return await self.fetch(method, f"api/debug/{route}",
                                self.token_header if headers is None else headers,
                                body=data)

    async def socket(self, route: str, headers: dict[str, str] | None = None,
                     query: str = "") -> TunnelClient:
        """A session WebSocket (`sessions/ID/dap` or `…/events`); JSON frames kept."""
        conn = await self.ws(f"api/debug/{route}",
                             self.token_header if headers is None and not query else headers,
                             query)
        return TunnelClient(conn)

    async def refused_socket(self, route: str, headers: dict[str, str] | None = None,
                             query: str = "") -> int:
        """The HTTP status with which the upgrade to `route` is refused (fails if any
        socket opens: a refusal comes before the upgrade, so no DAP byte ever flows)."""
        try:
            conn = await self.ws(f"api/debug/{route}", headers, query)
        except HTTPClientError as exc:
            return int(exc.code)
        conn.close()
        raise AssertionError(f"the upgrade to {route} as {headers or query!r} succeeded")

    async def launch_stopped(self, **spec: Any) -> str:
        """Launch targets/loop.py under debugpy, stopped on entry; its id once stopped
        (told by the session's event stream)."""
        status, model = await self.call("POST", "sessions", {
            "debugger": "debugpy", "program": LOOP, "stop_on_entry": True, **spec})
        assert status == 201, model
        sid = str(model["id"])
        events = await self.socket(f"sessions/{sid}/events")
        try:
            await events.wait_for(lambda m: m.get("type") == "state"
                                  and m["session"]["state"] == "stopped", timeout=60)
        finally:
            await events.close()
        return sid

    async def issue(self, sid: str, scope: str = "control", **body: Any) -> dict[str, Any]:
        """A session token of `sid`, issued with the hub token."""
        status, token = await self.call("POST", f"sessions/{sid}/tokens",
                                        {"scope": scope, **body})
        assert status == 201, token
        return dict(token)


async def run_cli(*args: str, token: str, timeout: float = 90,
                  python: str = sys.executable) -> tuple[int, str, str]:
    """`jupyter-debug-server ARGS` with the token in the environment (never on argv)."""
    env = dict(os.environ, JUPYTER_DEBUG_SERVER_TOKEN=token)
    proc = await asyncio.create_subprocess_exec(
        python, "-m", "jupyter_debug_server.cli", *args, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=REPO)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return int(proc.returncode or 0), out.decode(), err.decode()


@dataclass
class Report:
    """Each cross-user attempt and what it got, for build/hub/report and the closing note."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    #: WebSocket peer resets the proxy logged during the tests (hub.py: PEER_RESET).
    peer_resets: int = 0

    def add(self, attempt: str, status: object, expected: str) -> None:
        self.rows.append((attempt, str(status), expected))

    def write(self, path: Path) -> None:
        if not self.rows:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        width = max(len(a) for a, _, _ in self.rows)
        lines = [f"{'attempt':<{width}}  status  expected", "-" * (width + 20)]
        lines += [f"{a:<{width}}  {s:<6}  {e}" for a, s, e in self.rows]
        lines.append(f"\nWebSocket peer resets logged by the proxy: {self.peer_resets} "
                     "(counted, not failed on: see PEER_RESET in tests/hub/hub.py)")
        path.write_text("\n".join(lines) + "\n")
