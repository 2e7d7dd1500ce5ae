"""The shipped OpenAPI file matches the routes and the real responses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from jupyter_debug_server.api import ROUTES

from ..support.openapi import SPEC, check

pytestmark = pytest.mark.timeout(90)


def _template(pattern: str) -> str:
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)


def _methods(handler: Any) -> set[str]:
    names = {"get", "post", "put", "delete", "patch"}
    # (ours only: tornado's RequestHandler defines them all, as 405s)
    return {n for n in names if any(n in vars(base) for base in handler.__mro__
                                    if base.__module__.startswith("jupyter_debug_server"))}


def test_every_route_and_method_is_documented_and_nothing_else() -> None:
    documented = {path: {m for m in ops if m != "parameters"}
                  for path, ops in SPEC["paths"].items()}
    served = {_template(pattern): _methods(handler) for pattern, handler in ROUTES}
    assert documented == served


async def test_real_responses_match_the_schemas(api: Any, manager: Any, targets: Path) -> None:
    sessions = "/api/debug/sessions"
    one = sessions + "/{session_id}"

    async def call(method: str, template: str, path: str, body: Any = None,
                   **params: Any) -> Any:
        status, result = await api(method, path, body, **params)
        check(method, template, status, result)
        return result

    await call("GET", "/api/debug/debuggers", "debuggers")
    await call("POST", sessions, "sessions", {"program": "nope.py"})
    await call("GET", one, "sessions/000000000000")
    model = await call("POST", sessions, "sessions", {
        "debugger": "debugpy", "program": "targets/loop.py",
        "breakpoints": [{"path": "targets/loop.py", "line": 13, "condition": "v > 1"}]})
    sid = model["id"]
    session = manager.get(sid)
    assert await session.wait_for(lambda: session.state == "stopped", 30)
    await call("GET", sessions, "sessions")
    await call("GET", one, f"sessions/{sid}")
    tokens = one + "/tokens"
    token = await call("POST", tokens, f"sessions/{sid}/tokens", {"scope": "observe", "ttl": 60})
    await call("POST", tokens, f"sessions/{sid}/tokens", {"scope": "root"})
    await call("GET", tokens, f"sessions/{sid}/tokens")
    await call("DELETE", tokens + "/{token_id}", f"sessions/{sid}/tokens/{token['id']}")
    await call("DELETE", tokens + "/{token_id}", f"sessions/{sid}/tokens/nope")
    await call("GET", one + "/stack", f"sessions/{sid}/stack", levels=2)
    frames = await call("GET", one + "/variables", f"sessions/{sid}/variables")
    ref = frames["scopes"][0]["reference"]
    await call("GET", one + "/variables", f"sessions/{sid}/variables", reference=ref, count=2)
    await call("GET", one + "/variables", f"sessions/{sid}/variables", count="x")
    await call("POST", one + "/evaluate", f"sessions/{sid}/evaluate", {"expression": "v"})
    await call("POST", one + "/evaluate", f"sessions/{sid}/evaluate", {"expression": "1/0"})
    await call("POST", one + "/dap", f"sessions/{sid}/dap", {"command": "threads"})
    await call("POST", one + "/dap", f"sessions/{sid}/dap", {"command": "launch"})
    await call("PUT", one + "/breakpoints", f"sessions/{sid}/breakpoints",
               {"path": "targets/loop.py", "breakpoints": [{"line": 5, "log_message": "x"}]})
    await call("GET", one + "/breakpoints", f"sessions/{sid}/breakpoints")
    watches = one + "/watches"
    await call("PUT", watches, f"sessions/{sid}/watches", {"watches": ["v * 2", "nope"]})
    await call("PUT", watches, f"sessions/{sid}/watches", {"watches": [1]})
    await call("GET", watches, f"sessions/{sid}/watches")
    await call("POST", one + "/step", f"sessions/{sid}/step", {"kind": "over"})
    # (the step's snapshot, with the watches, is finished before the program runs on)
    assert await session.wait_for(lambda: session.snapshots.log.finished >= 2, 30)
    await call("POST", one + "/step", f"sessions/{sid}/step", {"kind": "up"})
    await call("PUT", one + "/breakpoints", f"sessions/{sid}/breakpoints",
               {"path": "targets/loop.py", "breakpoints": []})
    await call("POST", one + "/pause", f"sessions/{sid}/pause", {})
    await call("POST", one + "/continue", f"sessions/{sid}/continue", {})
    assert await session.wait_for(lambda: not session.active, 30)
    await call("POST", one + "/step", f"sessions/{sid}/step", {"kind": "over"})
    await call("GET", one + "/output", f"sessions/{sid}/output", limit=5)
    snapshots = await call("GET", one + "/snapshots", f"sessions/{sid}/snapshots", limit=50)
    assert snapshots["items"] and any(w.get("error") for s in snapshots["items"]
                                      for w in s["watches"]), snapshots
    for seq in (1, 999, "x"):
        await call("GET", one + "/snapshots/{seq}", f"sessions/{sid}/snapshots/{seq}")
    await call("GET", one + "/snapshots", f"sessions/{sid}/snapshots", since="x")
    await call("DELETE", one, f"sessions/{sid}")
