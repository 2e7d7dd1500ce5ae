"""Unknown query arguments are refused on every route (issue 14.5): a 400
`unknown-argument` that names the argument and the ones the route takes, after
authentication (an unauthenticated caller learns nothing) and, on the WebSockets, before
the upgrade. Known arguments keep working; `token` is accepted everywhere.

Table-driven over the app's route table: a route whose handler does not declare
`query_arguments` for each method it serves fails here, as does one whose declaration
and OpenAPI disagree.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from tornado import web
from tornado.httpclient import HTTPClientError

from jupyter_debug_server.api import ROUTES

from ..support.jp_server import LOOP, UNKNOWN_ID, Server, bearer
from ..support.openapi import SPEC

pytestmark = pytest.mark.timeout(90)

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
BOGUS = "bogus_arg"


def _methods(handler: type) -> list[str]:
    """The HTTP methods a handler class serves (WebSocket upgrades are GETs)."""
    return [m for m in METHODS
            if getattr(handler, m.lower()) is not getattr(web.RequestHandler, m.lower())]


def _template(pattern: str) -> str:
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)


CASES = [(pattern, handler, method) for pattern, handler in ROUTES
         for method in _methods(handler)]
IDS = [f"{m} {_template(p)}" for p, _h, m in CASES]


def _fill(pattern: str) -> str:
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: UNKNOWN_ID if m.group(1) == "session_id"
                  else "nonexistent0", pattern)


def _documented(template: str, method: str) -> set[str]:
    """The query parameters OpenAPI documents for one operation."""
    path = SPEC["paths"][template]
    names = set()
    for item in path.get("parameters", []) + path[method.lower()].get("parameters", []):
        param = (SPEC["components"]["parameters"][item["$ref"].rsplit("/", 1)[-1]]
                 if "$ref" in item else item)
        if param["in"] == "query":
            names.add(param["name"])
    return names - {"token"}


def test_every_route_declares_the_query_arguments_of_each_method() -> None:
    for pattern, handler in ROUTES:
        declared = handler.query_arguments
        assert set(declared) == set(_methods(handler)), (
            f"{handler.__name__} ({pattern}) must declare query_arguments for each method "
            f"it serves: {_methods(handler)}, not {sorted(declared)}")
        for method, names in declared.items():
            assert "token" not in names  # always accepted; not a route's own
            assert set(names) == _documented(_template(pattern), method), (pattern, method)


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_an_unknown_query_argument_is_a_400_naming_it(
        api: Any, server: Server, case: tuple[str, type, str]) -> None:
    pattern, handler, method = case
    path = _fill(pattern)
    accepted = handler.query_arguments[method]
    # Another method's argument is as unknown to this one as a made-up name.
    others = sorted({n for m, names in handler.query_arguments.items() if m != method
                     for n in names} - set(accepted))
    for name in (BOGUS, *others):
        status, body = await server.fetch(method, path, server.token_header, f"{name}=1")
        assert status == 400, (method, path, name, status, body)
        assert body["reason"] == "unknown-argument", body
        assert repr(name) in body["message"], body["message"]
        for known in accepted:
            assert known in body["message"], body["message"]
        if not accepted:
            assert "takes none but token" in body["message"], body["message"]

    # Without credentials it is a 403 that says nothing about the route's arguments.
    status, body = await server.fetch(method, path, {}, f"{BOGUS}=1")
    assert status == 403 and BOGUS not in json.dumps(body), body
    # None of the refused requests did anything (POST sessions would have launched one).
    status, listed = await api("GET", "sessions")
    assert status == 200 and listed == []


async def test_token_is_accepted_everywhere_and_names_are_listed(
        api: Any, server: Server) -> None:
    # (`api` starts the server's HTTP listener: `server` alone does not)
    status, listed = await server.fetch("GET", "api/debug/sessions", {},
                                        f"token={server.token}")
    assert status == 200 and listed == []
    status, body = await server.fetch("GET", "api/debug/debuggers", {},
                                      f"token={server.token}&refresh=1&a=1&b=2")
    assert status == 400 and "unknown query arguments 'a', 'b'" in body["message"], body
    assert "it takes refresh (and token)" in body["message"]


@pytest.mark.usefixtures("targets")
async def test_known_arguments_work_and_a_misspelt_one_is_named(
        api: Any, manager: Any, server: Server, jp_ws_fetch: Any) -> None:
    status, model = await api("POST", "sessions", {
        "program": LOOP, "breakpoints": [{"path": LOOP, "line": 13}]})
    assert status == 201, model
    sid = model["id"]
    session = manager.get(sid)
    assert await session.wait_for(lambda: session.state == "stopped", 30), session.error
    try:
        # Before issue 14, `ref` was ignored and the top frame's locals came back.
        status, body = await api("GET", f"sessions/{sid}/variables", ref=5)
        assert status == 400 and body["reason"] == "unknown-argument", body
        assert body["message"].startswith("unknown query argument 'ref' for GET ")
        assert "it takes count, frame_id, reference, start (and token)" in body["message"]

        status, scopes = await api("GET", f"sessions/{sid}/variables", start=0, count=10)
        assert status == 200, scopes
        ref = next(v for v in scopes["scopes"][0]["variables"] if v["name"] == "values")[
            "variablesReference"]
        frame_id = session.stopped["frame_id"]
        status, items = await api("GET", f"sessions/{sid}/variables", reference=ref, count=50)
        values = {v["name"]: v["value"] for v in items["variables"]}
        assert status == 200 and (values["0"], values["1"]) == ("1", "2"), items
        status, by_frame = await api("GET", f"sessions/{sid}/variables", frame_id=frame_id)
        assert status == 200 and [[v["name"] for v in scope["variables"]]
                                  for scope in by_frame["scopes"]] == [
            [v["name"] for v in scope["variables"]] for scope in scopes["scopes"]]
        status, stack = await api("GET", f"sessions/{sid}/stack", levels=1, start=0,
                                  thread_id=session.stopped["thread_id"])
        assert status == 200 and len(stack["frames"]) == 1
        status, page = await api("GET", f"sessions/{sid}/output", since=0, limit=1)
        assert status == 200 and page["items"] == []
        status, bps = await server.fetch("GET", f"api/debug/sessions/{sid}/breakpoints",
                                         server.token_header, f"path={LOOP}")
        assert status == 200 and bps[0]["breakpoints"][0]["line"] == 13, bps
        status, probes = await api("GET", "debuggers", refresh=1)
        assert status == 200 and probes

        # A session token authenticates: its unknown argument is named too.
        status, token = await api("POST", f"sessions/{sid}/tokens", {"scope": "observe"})
        assert status == 201
        status, body = await server.fetch("GET", f"api/debug/sessions/{sid}/stack",
                                          bearer(token["secret"]), "level=1")
        assert status == 400 and "'level'" in body["message"], body
        status, _ = await server.fetch("GET", f"api/debug/sessions/{sid}/stack",
                                       bearer(token["secret"]), "levels=1")
        assert status == 200

        # The WebSockets: known arguments upgrade, an unknown one is refused before.
        for route, good, bad in (("events", {"only": "end"}, {"only": "end", "onl": "x"}),
                                 ("dap", {"role": "observe"}, {"rol": "observe"})):
            conn = await jp_ws_fetch("api", "debug", "sessions", sid, route, params=good)
            conn.close()
            with pytest.raises(HTTPClientError) as refused:
                await jp_ws_fetch("api", "debug", "sessions", sid, route, params=bad)
            assert refused.value.code == 400, (route, refused.value)
        assert session.state == "stopped"
    finally:
        await api("DELETE", f"sessions/{sid}")


@pytest.mark.usefixtures("targets")
async def test_put_breakpoints_refuses_unknown_body_fields(api: Any, manager: Any) -> None:
    status, model = await api("POST", "sessions", {"program": LOOP, "stop_on_entry": True})
    assert status == 201, model
    sid = model["id"]
    try:
        status, body = await api("PUT", f"sessions/{sid}/breakpoints", {
            "path": LOOP, "breakpoints": [{"line": 13}], "condition": "v > 1"})
        assert (status, body["reason"]) == (400, "bad-argument"), body
        assert body["message"] == ("the body of PUT …/breakpoints has unknown field "
                                   "'condition'; known fields are breakpoints, path")
        status, body = await api("PUT", f"sessions/{sid}/breakpoints", {
            "path": LOOP, "breakpoints": [{"line": 13, "hitCondition": "2"}]})
        assert (status, body["reason"]) == (400, "bad-argument"), body
        assert body["message"] == ("breakpoints[0] has unknown field 'hitCondition'; known "
                                   "fields are condition, hit_condition, line, log_message")
        assert manager.get(sid).breakpoints == {}  # nothing was set
        # The launch spec says the same of its own.
        status, body = await api("POST", "sessions", {
            "program": LOOP, "breakpoints": [{"path": LOOP, "line": 13, "hitCondition": "2"}]})
        assert status == 400 and "breakpoints[0] has unknown field 'hitCondition'" in (
            body["message"]), body
    finally:
        await api("DELETE", f"sessions/{sid}")
