"""bob, with a valid hub token of his own, against alice's server behind the same proxy:
403 on every route, socket and token route of the shipped OpenAPI file, before anything
reaches her debugger; and his own server knows nothing of her sessions.

Every attempt and its status goes into build/hub/report (conftest.py's `report`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from ..support.jp_server import BODIES
from ..support.openapi import SPEC
from .client import Report, UserServer, auth

pytestmark = pytest.mark.timeout(180)


def operations() -> Iterator[tuple[str, str, bool]]:
    """(METHOD, path template, is a WebSocket) of every operation the OpenAPI file ships."""
    for template, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            upgrade = any(p.get("name") == "Upgrade" for p in operation.get("parameters", []))
            yield method.upper(), str(template), upgrade


def body_for(method: str, template: str) -> Any:
    """A body that would do real work if the request got through."""
    if method in ("GET", "DELETE"):
        return None
    return BODIES.get(template.rsplit("/", 1)[-1], {})


async def where_alice_stands(alice: UserServer, sid: str) -> tuple[Any, ...]:
    """Everything of her session that any of bob's attempts would have changed."""
    _, model = await alice.call("GET", f"sessions/{sid}")
    _, stack = await alice.call("GET", f"sessions/{sid}/stack")
    _, tokens = await alice.call("GET", f"sessions/{sid}/tokens")
    _, breakpoints = await alice.call("GET", f"sessions/{sid}/breakpoints?path=targets/loop.py")
    _, watches = await alice.call("GET", f"sessions/{sid}/watches")
    _, listed = await alice.call("GET", "sessions")
    top = stack["frames"][0] if isinstance(stack, dict) and stack.get("frames") else stack
    return (model["state"], model["stopped"], model["clients"], top,
            sorted(t["id"] for t in tokens), breakpoints, watches, len(listed))


async def test_bob_gets_403_on_every_route_and_socket_of_alices_server(
        alice: UserServer, bob: UserServer, report: Report) -> None:
    sid = await alice.launch_stopped()
    token = await alice.issue(sid, "control")
    before = await where_alice_stands(alice, sid)
    values = {"{session_id}": sid, "{token_id}": token["id"], "{seq}": "1"}
    bob_header = auth(bob.token)
    wrong: list[str] = []
    try:
        for method, template, upgrade in operations():
            path = template.removeprefix("/api/debug/")
            for key, value in values.items():
                path = path.replace(key, value)
            what = f"bob's hub token: {method} /user/alice{template}"
            if upgrade:
                # Header (what the CLI and forward send) and ?token= (what browsers send).
                for how, headers, query in (("header", bob_header, ""),
                                            ("?token=", None, f"token={bob.token}")):
                    status = await alice.refused_socket(path, headers, query)
                    report.add(f"{what} (WebSocket, {how})", status, "403")
                    if status != 403:
                        wrong.append(f"{what} WebSocket {how}: {status}")
                continue
            status, answer = await alice.call(method, path, body_for(method, template),
                                              headers=bob_header)
            report.add(what, status, "403")
            if status != 403:
                wrong.append(f"{what}: {status} {answer}")
        for how, status, expected in await _bob_elsewhere(alice, bob, sid):
            report.add(how, status, str(expected))
            if status != expected:
                wrong.append(f"{how}: {status}")
        assert not wrong, "\n".join(wrong)
        # Nothing reached her debugger: no step, no evaluate, no breakpoint, no token, no
        # client, and her session is where it was.
        assert await where_alice_stands(alice, sid) == before
    finally:
        await alice.call("DELETE", f"sessions/{sid}")


async def _bob_elsewhere(alice: UserServer, bob: UserServer,
                         sid: str) -> list[tuple[str, int, int]]:
    """bob without credentials, on his own server and on the hub's API, about alice's
    session and server: (attempt, status, the status it must get)."""
    results: list[tuple[str, int, int]] = []
    status, listed = await bob.call("GET", "sessions")
    assert status == 200 and sid not in [s["id"] for s in listed], listed
    results.append(("bob's hub token: GET /user/bob/api/debug/sessions (lists none of hers)",
                    status, 200))
    for route in (f"sessions/{sid}", f"sessions/{sid}/tokens"):
        shown = route.replace(sid, "<her id>")
        results.append((f"bob's hub token: GET /user/bob/api/debug/{shown}",
                        (await bob.call("GET", route))[0], 404))
    results.append(("no credentials: GET /user/alice/api/debug/sessions",
                    (await alice.call("GET", "sessions", headers={}))[0], 403))
    hub = alice.hub
    # The hub refuses minting her a token with 403, and answers a start of her server as
    # if it did not exist (404: "no access to resources or resources not found").
    for path, expected in (("/hub/api/users/alice/tokens", 403),
                           ("/hub/api/users/alice/server", 404)):
        status, _ = await asyncio.to_thread(hub.request, "POST", path, {}, bob.token)
        results.append((f"bob's hub token: POST {path}", status, expected))
    return results
