"""Session tokens on the DAP tunnel: scope decides the role, revocation and the session's
end close the tunnel, and a token opens no other session's tunnel.

Real jupyter_server and real debugpy sessions, as in test_tokens.py and test_tunnel.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from ..support.jp_server import UNKNOWN_ID, Server, bearer, issue, launch_stopped
from ..support.ws_dap import TunnelClient

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("targets")]



async def _join(server: Server, sid: str, headers: dict[str, str] | None = None,
                query: str = "") -> TunnelClient:
    """Open the tunnel and join as a late client: the replayed stop arrives."""
    client = TunnelClient(await server.ws(f"api/debug/sessions/{sid}/dap", headers, query))
    assert (await client.request("initialize", {"adapterID": "test"}))["success"]
    await client.request("attach", {})
    await client.request("configurationDone")
    await client.wait_for(lambda m: m.get("event") == "stopped")
    return client


async def test_token_scope_decides_the_tunnel_role(
        api: Any, manager: Any, server: Server) -> None:
    sid = await launch_stopped(api, manager)
    control = await issue(api, sid, "control")
    observe = await issue(api, sid, "observe")
    try:
        driver = await _join(server, sid, bearer(control["secret"]))
        # An observe token stays an observer even when it asks for control.
        watcher = await _join(server, sid, query=f"token={observe['secret']}&role=control")
        assert manager.get(sid).clients == 2
        thread = (await watcher.request("threads"))["body"]["threads"][0]["id"]
        refused = await watcher.request("next", {"threadId": thread})
        assert not refused["success"] and "observe" in refused["message"], refused
        stack = await watcher.request("stackTrace", {"threadId": thread})
        assert stack["success"] and stack["body"]["stackFrames"], stack
        mark = len(watcher.messages)
        stepped = await driver.request("next", {"threadId": thread})
        assert stepped["success"], stepped
        stop = await watcher.wait_for(lambda m: m.get("event") == "stopped", after=mark)
        assert stop["body"]["reason"] == "step"  # the observer sees the control client's step
    finally:
        await api("DELETE", f"sessions/{sid}")


async def test_revocation_closes_the_tunnel_within_a_second(
        api: Any, manager: Any, server: Server) -> None:
    sid = await launch_stopped(api, manager)
    token = await issue(api, sid, "control")
    try:
        client = await _join(server, sid, bearer(token["secret"]))
        jupyter = await _join(server, sid, server.token_header)
        status, _ = await api("DELETE", f"sessions/{sid}/tokens/{token['id']}")
        assert status == 204
        code, reason = await asyncio.wait_for(client.closed, 1.0)
        assert code == 1008 and "revoked" in (reason or ""), (code, reason)
        with pytest.raises(HTTPClientError) as refused:
            await server.ws(f"api/debug/sessions/{sid}/dap", bearer(token["secret"]))
        assert refused.value.code == 403
        # The Jupyter-authenticated client and the session carry on.
        assert not jupyter.closed.done()
        assert (await jupyter.request("threads"))["success"]
        assert manager.get(sid).state == "stopped" and manager.get(sid).clients == 1
        jupyter.conn.close()
    finally:
        await api("DELETE", f"sessions/{sid}")


async def test_a_token_opens_no_other_tunnel_and_dies_with_its_session(
        api: Any, manager: Any, server: Server) -> None:
    first = await launch_stopped(api, manager)
    second = await launch_stopped(api, manager)
    token = await issue(api, first, "control")
    try:
        for sid in (second, UNKNOWN_ID):  # 403 for both: no "does it exist" answer
            with pytest.raises(HTTPClientError) as refused:
                await server.ws(f"api/debug/sessions/{sid}/dap", bearer(token["secret"]))
            assert refused.value.code == 403, sid
        client = await _join(server, first, bearer(token["secret"]))
        status, _ = await api("DELETE", f"sessions/{first}")
        assert status == 200
        code, _reason = await asyncio.wait_for(client.closed, 5.0)
        assert code is not None
        with pytest.raises(HTTPClientError) as refused:
            await server.ws(f"api/debug/sessions/{first}/dap", bearer(token["secret"]))
        assert refused.value.code == 403
    finally:
        await api("DELETE", f"sessions/{second}")
