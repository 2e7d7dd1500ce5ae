"""Session tokens: issue, scope, refuse elsewhere, revoke, expire, die with the session.

Real jupyter_server, real debugpy sessions on tests/targets/loop.py. Requests with a
session token are built by hand (jp_fetch always adds Jupyter's token).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClientConnection

from ..support.jp_server import LOOP, UNKNOWN_ID, Server, bearer, issue, launch_stopped

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("targets")]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def server_log(jp_serverapp: Any) -> Iterator[_Collect]:
    """Every log record of the server, at DEBUG level (access log included)."""
    collect = _Collect()
    names = ["", "ServerApp", "tornado.access", "tornado.general", "tornado.application",
             jp_serverapp.log.name, "jupyter_debug_server"]
    loggers = {logging.getLogger(n) for n in names} | {jp_serverapp.log}
    saved = {lg: lg.level for lg in loggers}
    for lg in loggers:
        lg.addHandler(collect)
        lg.setLevel(logging.DEBUG)
    yield collect
    for lg, level in saved.items():
        lg.removeHandler(collect)
        lg.setLevel(level)


async def closed_within(conn: WebSocketClientConnection, seconds: float) -> None:
    """Read until the server closes the socket; fail if that takes longer than `seconds`."""
    async def drain() -> None:
        while await conn.read_message() is not None:
            pass
    await asyncio.wait_for(drain(), seconds)


async def first_state(conn: WebSocketClientConnection) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(conn.read_message(), 30))  # type: ignore[arg-type]
    assert message["type"] == "state", message
    return dict(message["session"])


class FakeClock:
    """A wall clock and timer queue the test moves by hand."""

    class Timer:
        def __init__(self, when: float, callback: Callable[[], None]) -> None:
            self.when, self.callback, self.cancelled = when, callback, False

        def cancel(self) -> None:
            self.cancelled = True

    def __init__(self, now: float) -> None:
        self.now = now
        self.timers: list[FakeClock.Timer] = []

    def __call__(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeClock.Timer:
        timer = FakeClock.Timer(self.now + delay, callback)
        self.timers.append(timer)
        return timer

    def advance(self, seconds: float, *, fire: bool = True) -> None:
        self.now += seconds
        if fire:
            for timer in [t for t in self.timers if t.when <= self.now and not t.cancelled]:
                self.timers.remove(timer)
                timer.callback()


async def test_issue_list_and_no_secret_in_store_or_logs(
        api: Any, manager: Any, server: Server, server_log: _Collect,
        jp_server_config: dict[str, Any]) -> None:
    sid = await launch_stopped(api, manager)
    seen: dict[str, str] = {}
    try:
        status, token = await server.fetch("POST", f"api/debug/sessions/{sid}/tokens",
                                           server.token_header,
                                           body=json.dumps({"scope": "observe"}).encode())
        assert status == 201, token
        assert set(token) == {"id", "session_id", "scope", "created", "expires", "secret"}
        assert token["scope"] == "observe" and token["session_id"] == sid
        secret = token["secret"]
        assert secret.startswith("jds_") and len(secret) >= 4 + 43  # ≥ 256 bits, base64
        # Default ttl: one hour.
        created, expires = (datetime.fromisoformat(token[k].replace("Z", "+00:00"))
                            for k in ("created", "expires"))
        assert (expires - created).total_seconds() == 3600
        control = await issue(api, sid, ttl=60)
        assert control["secret"] != secret and control["id"] != token["id"]
        seen = {"observe": secret, "control": control["secret"]}

        status, listed = await api("GET", f"sessions/{sid}/tokens")
        assert status == 200
        assert [t["id"] for t in listed] == [token["id"], control["id"]]
        for entry in listed:
            assert "secret" not in entry and "hash" not in entry
            assert entry["active"] is True and entry["revoked"] is False
        assert secret not in json.dumps(listed)

        # The database holds the hash, never the secret.
        db = Path(jp_server_config["DebugServerApp"]["db_path"])
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            dump = "\n".join(conn.iterdump())
            hashes = {r[0] for r in conn.execute("SELECT hash FROM tokens")}
        finally:
            conn.close()
        assert secret not in dump and secret.removeprefix("jds_") not in dump
        assert hashlib.sha256(secret.encode()).hexdigest() in hashes
        for path in db.parent.iterdir():  # WAL and journal files too
            assert secret.encode() not in path.read_bytes(), path

        # Used on REST and WebSockets (the access log records these requests).
        status, _ = await server.fetch("GET", f"api/debug/sessions/{sid}/stack", bearer(secret))
        assert status == 200
        conn_ws = await server.ws(f"api/debug/sessions/{sid}/events",
                                  query=f"token={control['secret']}")
        await first_state(conn_ws)
        conn_ws.close()
    finally:
        await api("DELETE", f"sessions/{sid}")
    log_text = "\n".join(server_log.lines)
    assert "/tokens" in log_text and "session-token:" in log_text  # access log captured
    for value in seen.values():
        assert value not in log_text
        assert value.removeprefix("jds_") not in log_text


async def test_bad_token_requests_name_the_value(
        api: Any, manager: Any, server: Server) -> None:
    sid = await launch_stopped(api, manager)
    token = await issue(api, sid, "observe")
    secret = token["secret"]
    try:
        # Bad input names the value (and the setting that caps the ttl).
        for body, words in [
            ({"scope": "control", "ttl": 0}, ["ttl 0", "token_max_ttl"]),
            ({"scope": "control", "ttl": -5}, ["ttl -5"]),
            ({"scope": "control", "ttl": 86401}, ["ttl 86401", "86400", "token_max_ttl"]),
            ({"scope": "control", "ttl": "10"}, ["'10'"]),
            ({"scope": "control", "ttl": 1.5}, ["1.5"]),
            ({"scope": "control", "ttl": True}, ["True"]),
            ({"scope": "admin"}, ["'admin'", "control, observe"]),
            ({"ttl": 60}, ["scope None"]),
        ]:
            status, error = await api("POST", f"sessions/{sid}/tokens", body)
            assert status == 400 and error["reason"] == "bad-argument", (body, error)
            for word in words:
                assert word in error["message"], (body, error)

        status, error = await api("POST", f"sessions/{UNKNOWN_ID}/tokens", {"scope": "control"})
        assert status == 404 and UNKNOWN_ID in error["message"]
        status, error = await api("DELETE", f"sessions/{sid}/tokens/nosuchtoken1")
        assert status == 404 and error["reason"] == "no-such-token"
        assert "'nosuchtoken1'" in error["message"]
        status, error = await api("DELETE", f"sessions/{UNKNOWN_ID}/tokens/{token['id']}")
        assert status == 404 and error["reason"] == "no-such-session"
        # A token of one session cannot be revoked through another session's URL.
        other = await launch_stopped(api, manager)
        try:
            status, error = await api("DELETE", f"sessions/{other}/tokens/{token['id']}")
            assert status == 404, error
            status, _ = await server.fetch("GET", f"api/debug/sessions/{sid}", bearer(secret))
            assert status == 200
        finally:
            await api("DELETE", f"sessions/{other}")
    finally:
        await api("DELETE", f"sessions/{sid}")


async def test_control_token_drives_only_its_own_session(
        api: Any, manager: Any, server: Server, server_log: _Collect) -> None:
    sid = await launch_stopped(api, manager)
    other = await launch_stopped(api, manager)
    token = await issue(api, sid, "control")
    secret, auth = token["secret"], bearer(token["secret"])
    base = f"api/debug/sessions/{sid}"
    try:
        status, model = await server.fetch("GET", base, auth)
        assert status == 200 and model["id"] == sid and model["state"] == "stopped", model
        entry_line = model["stopped"]["line"]
        status, stepped = await server.fetch("POST", f"{base}/step", auth,
                                             body=b'{"kind": "over"}')
        assert status == 200 and stepped["completed"], stepped
        assert stepped["stopped"]["line"] != entry_line
        status, result = await server.fetch("POST", f"{base}/evaluate", auth,
                                            body=b'{"expression": "6 * 7"}')
        assert status == 200 and result["result"] == "42", result
        # Jupyter's "token" scheme carries a session token as well (the CLI's --token).
        status, stack = await server.fetch("GET", f"{base}/stack",
                                           {"Authorization": f"token {secret}"})
        assert status == 200 and stack["frames"], stack
        for method, route, body in [
                ("GET", "variables", None), ("GET", "output", None),
                ("GET", "breakpoints", None), ("POST", "dap", b'{"command": "threads"}'),
                ("PUT", "breakpoints", json.dumps(
                    {"path": LOOP, "breakpoints": [{"line": 13}]}).encode())]:
            status, reply = await server.fetch(method, f"{base}/{route}", auth, body=body)
            assert status == 200, (method, route, reply)
        assert manager.get(sid).breakpoints, "the PUT with the token took effect"

        # Nowhere else: another session, an unknown one, the collection, the debuggers,
        # the token routes, the rest of Jupyter. Refusals name no other session's data.
        refused = [("GET", f"api/debug/sessions/{other}"),
                   ("POST", f"api/debug/sessions/{other}/evaluate"),
                   ("GET", f"api/debug/sessions/{other}/stack"),
                   ("DELETE", f"api/debug/sessions/{other}"),
                   ("GET", f"api/debug/sessions/{UNKNOWN_ID}"),
                   ("POST", f"api/debug/sessions/{UNKNOWN_ID}/step"),
                   ("GET", "api/debug/sessions"), ("POST", "api/debug/sessions"),
                   ("GET", "api/debug/debuggers"),
                   ("GET", f"{base}/tokens"), ("POST", f"{base}/tokens"),
                   ("DELETE", f"{base}/tokens/{token['id']}"),
                   ("GET", "api/contents"), ("GET", "api/kernels"), ("GET", "api/status")]
        for method, path in refused:
            status, reply = await server.fetch(method, path, auth)
            assert status == 403, (method, path, status, reply)
        status, reply = await server.fetch("GET", f"api/debug/sessions/{other}", auth)
        assert "only for its own session" in reply["message"], reply
        status, reply = await server.fetch("GET", "api/debug/sessions", auth)
        assert "not accepted" in reply["message"], reply
        # On REST a session token is a header credential only, not a query argument.
        status, _ = await server.fetch("GET", base, query=f"token={secret}")
        assert status == 403
        with pytest.raises(HTTPClientError) as ws_refused:
            await server.ws(f"api/debug/sessions/{other}/events", query=f"token={secret}")
        assert ws_refused.value.code == 403
        assert manager.get(other).state == "stopped" and manager.get(other).clients == 0
        status, tokens = await api("GET", f"sessions/{sid}/tokens")
        assert [t["id"] for t in tokens] == [token["id"]]

        # A control token may end its session; then it is dead.
        status, model = await server.fetch("DELETE", base, auth)
        assert status == 200 and model["state"] == "terminated", model
        status, reply = await server.fetch("GET", base, auth)
        assert status == 403 and "ended with its session" in reply["message"], reply
        audit = await manager.store.list_audit(sid)
        assert ("terminate", f"session token {token['id']}") in [
            (a["action"], a["user"]) for a in audit]
    finally:
        await api("DELETE", f"sessions/{sid}")
        await api("DELETE", f"sessions/{other}")
    assert secret not in "\n".join(server_log.lines)


async def test_observe_token_reads_and_never_executes(
        api: Any, manager: Any, server: Server) -> None:
    sid = await launch_stopped(api, manager)
    token = await issue(api, sid, "observe")
    auth = bearer(token["secret"])
    base = f"api/debug/sessions/{sid}"
    session = manager.get(sid)
    entry = session.stopped
    try:
        for route in ("", "/stack", "/variables", "/output", "/breakpoints"):
            status, reply = await server.fetch("GET", base + route, auth)
            assert status == 200, (route, reply)
        for method, route, body in [
                ("POST", "/evaluate", b'{"expression": "1"}'),
                ("POST", "/step", b'{"kind": "over"}'), ("POST", "/continue", b"{}"),
                ("POST", "/pause", b"{}"), ("POST", "/dap", b'{"command": "threads"}'),
                ("PUT", "/breakpoints", json.dumps(
                    {"path": LOOP, "breakpoints": [{"line": 13}]}).encode()),
                ("DELETE", "", None)]:
            status, reply = await server.fetch(method, base + route, auth, body=body)
            assert status == 403, (method, route, reply)
            assert reply["reason"] == "token-refused"
            assert "observe token may only read" in reply["message"], reply
        assert session.state == "stopped" and session.stopped == entry
        assert session.breakpoints == {}

        # The event stream is open to observers (it is read-only for everyone).
        conn = await server.ws(f"{base}/events", query=f"token={token['secret']}")
        try:
            assert (await first_state(conn))["id"] == sid
            assert session.clients == 1
        finally:
            conn.close()
    finally:
        await api("DELETE", f"sessions/{sid}")


async def test_revocation_refuses_at_once_and_closes_websockets(
        api: Any, manager: Any, server: Server, server_log: _Collect) -> None:
    sid = await launch_stopped(api, manager)
    token = await issue(api, sid, "control")
    secret = token["secret"]
    base = f"api/debug/sessions/{sid}"
    try:
        by_query = await server.ws(f"{base}/events", query=f"token={secret}")
        by_header = await server.ws(f"{base}/events", bearer(secret))
        for conn in (by_query, by_header):
            assert (await first_state(conn))["id"] == sid
        # A Jupyter-authenticated stream is not affected by the token's revocation.
        jupyter = await server.ws(f"{base}/events", server.token_header)
        await first_state(jupyter)
        assert manager.get(sid).clients == 3

        status, _ = await api("DELETE", f"sessions/{sid}/tokens/{token['id']}")
        assert status == 204
        for conn in (by_query, by_header):
            await closed_within(conn, 1.0)
            assert conn.close_code == 1008
            assert "revoked" in (conn.close_reason or ""), conn.close_reason
        status, reply = await server.fetch("GET", base, bearer(secret))
        assert status == 403 and "was revoked" in reply["message"], reply
        with pytest.raises(HTTPClientError) as refused:
            await server.ws(f"{base}/events", query=f"token={secret}")
        assert refused.value.code == 403
        assert manager.get(sid).clients == 1

        status, _ = await api("DELETE", f"sessions/{sid}/tokens/{token['id']}")
        assert status == 204  # revoking again is not an error
        status, listed = await api("GET", f"sessions/{sid}/tokens")
        assert listed[0]["revoked"] is True and listed[0]["active"] is False
        jupyter.close()
    finally:
        await api("DELETE", f"sessions/{sid}")
    log_text = "\n".join(server_log.lines)
    assert "token=[secret]" in log_text  # the refused upgrade was logged, scrubbed
    assert secret not in log_text and secret.removeprefix("jds_") not in log_text


async def test_expiry_with_an_injected_clock(
        api: Any, manager: Any, server: Server) -> None:
    sid = await launch_stopped(api, manager)
    clock = FakeClock(1_900_000_000.0)
    manager.tokens.clock = clock
    manager.tokens.call_later = clock.call_later
    base = f"api/debug/sessions/{sid}"
    try:
        token = await issue(api, sid, "observe", ttl=60)
        assert token["expires"] == datetime.fromtimestamp(
            clock.now + 60, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        conn = await server.ws(f"{base}/events", bearer(token["secret"]))
        await first_state(conn)
        clock.advance(59)
        status, _ = await server.fetch("GET", base, bearer(token["secret"]))
        assert status == 200
        clock.advance(1)  # the expiry timer fires: open streams close
        await closed_within(conn, 1.0)
        assert conn.close_code == 1008 and "expired" in (conn.close_reason or "")
        status, reply = await server.fetch("GET", base, bearer(token["secret"]))
        assert status == 403 and "has expired" in reply["message"], reply

        # Checked at use time too, should a timer not have fired yet.
        late = await issue(api, sid, "control", ttl=30)
        clock.advance(31, fire=False)
        status, reply = await server.fetch("GET", base, bearer(late["secret"]))
        assert status == 403 and "has expired" in reply["message"], reply
        status, listed = await api("GET", f"sessions/{sid}/tokens")
        assert [t["active"] for t in listed] == [False, False]
    finally:
        await api("DELETE", f"sessions/{sid}")


async def test_tokens_die_with_their_session(api: Any, manager: Any, server: Server) -> None:
    sid = await launch_stopped(api, manager)
    tokens = [await issue(api, sid, scope) for scope in ("control", "observe")]
    base = f"api/debug/sessions/{sid}"
    conn = await server.ws(f"{base}/events", query=f"token={tokens[1]['secret']}")
    await first_state(conn)
    # The program runs to its end on its own.
    status, model = await server.fetch("POST", f"{base}/continue", bearer(tokens[0]["secret"]),
                                       body=b"{}")
    assert status == 200, model
    session = manager.get(sid)
    assert await session.wait_for(lambda: not session.active, 30), session.state
    await closed_within(conn, 1.0)
    assert conn.close_code == 1008 and "ended with its session" in (conn.close_reason or "")
    for token in tokens:
        status, reply = await server.fetch("GET", f"{base}/output", bearer(token["secret"]))
        assert status == 403 and "ended with its session" in reply["message"], reply
    status, reply = await api("POST", f"sessions/{sid}/tokens", {"scope": "observe"})
    assert status == 409 and reply["reason"] == "wrong-state", reply
    await manager.tokens.drain()
    stored = await manager.store.list_tokens(sid)
    assert [t["revoked"] for t in stored] == [True, True]
