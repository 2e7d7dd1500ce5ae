"""Bad requests get a 4xx with a sentence naming the bad value, and start nothing.

Every error body is `{"message": <sentence>, "reason": <code>}`; a bad launch spec never
spawns a process nor records a session; no request here may answer 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = pytest.mark.timeout(90)

LOOP = "targets/loop.py"
# A breakpoint whose condition blocks the target for ten minutes: the session stays
# "running" (the target is busy, not stopped) until the test deletes it.
BLOCKING_CONDITION = "__import__('time').sleep(600) or True"
UNKNOWN_ID = "0123456789ab"


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _assert_error(status: int, body: Any, expected_status: int, reason: str | None,
                  *needles: str) -> None:
    assert status == expected_status, (status, body)
    assert isinstance(body, dict) and set(body) == {"message", "reason"}, body
    message = body["message"]
    assert isinstance(message, str) and len(message) > 15, body
    if reason is not None:
        assert body["reason"] == reason, body
    for needle in needles:
        assert needle in message, (needle, message)
    assert "Traceback" not in message


class SpawnSpy:
    """Counts calls of asyncio.create_subprocess_exec (how a session starts its worker)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[Any, ...]] = []
        real = asyncio.create_subprocess_exec

        async def spy(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(args)
            return await real(*args, **kwargs)

        monkeypatch.setattr(asyncio, "create_subprocess_exec", spy)


@pytest.fixture
def spawn_spy(monkeypatch: pytest.MonkeyPatch) -> SpawnSpy:
    return SpawnSpy(monkeypatch)


async def _rejected(api: Any, manager: Any, spy: SpawnSpy, body: Any, *, status: int,
                    reason: str | None, needles: tuple[str, ...] = ()) -> dict[str, Any]:
    """POST `body` as a launch spec; check the error and that nothing was started."""
    code, before = await api("GET", "sessions")
    assert code == 200
    live_before = set(manager.sessions)
    children_before = _children()
    spawned_before = len(spy.calls)

    code, reply = await api("POST", "sessions", body)

    _assert_error(code, reply, status, reason, *needles)
    assert len(spy.calls) == spawned_before, spy.calls
    assert _children() - children_before == set()
    assert set(manager.sessions) == live_before
    code, after = await api("GET", "sessions")
    assert code == 200 and after == before
    return reply


async def _raw(jp_fetch: Any, method: str, path: str, body: bytes | None,
               params: dict[str, str] | None = None) -> tuple[int, Any]:
    """A request with a raw body and any query arguments (even one named `path`)."""
    response = await jp_fetch("api", "debug", *path.split("/"), method=method, body=body,
                              params=params, raise_error=False)
    text = response.body.decode() if response.body else ""
    return response.code, json.loads(text) if text else None


@contextlib.asynccontextmanager
async def _session(api: Any, manager: Any, until: tuple[str, ...],
                   **spec: Any) -> AsyncIterator[dict[str, Any]]:
    """Launch a real session, wait for one of `until` states, always DELETE it after."""
    status, model = await api("POST", "sessions", {"debugger": "debugpy", **spec})
    assert status == 201, model
    try:
        session = manager.get(model["id"])
        assert await session.wait_for(lambda: session.state in until, 30), (
            session.state, session.error)
        yield session.model()
    finally:
        status, ended = await api("DELETE", f"sessions/{model['id']}")
        assert status == 200 and ended["state"] in ("terminated", "exited"), ended


# -- launch specs ------------------------------------------------------------------

_NO_PID = max(psutil.pids()) + 100_000  # a pid nothing uses, in case a bug attaches

BAD_SPECS: list[tuple[str, Any, int, str, tuple[str, ...]]] = [
    ("unknown-debugger", {"debugger": "foo", "program": LOOP}, 400, "unknown-debugger",
     ("'foo'", "debugpy")),
    ("debugger-not-a-string", {"debugger": 5, "program": LOOP}, 400, "unknown-debugger",
     ("5",)),
    ("missing-program", {"program": "targets/nope.py"}, 400, "not-found",
     ("'targets/nope.py'",)),
    ("program-is-a-directory", {"program": "targets"}, 400, "not-a-file", ("'targets'",)),
    ("program-not-a-string", {"program": 5}, 400, "bad-launch-spec", ("'program'", "5")),
    ("program-empty", {"program": ""}, 400, "bad-launch-spec", ("'program'",)),
    ("args-a-string", {"program": LOOP, "args": "a b"}, 400, "bad-launch-spec",
     ("'args'", "'a b'")),
    ("args-not-strings", {"program": LOOP, "args": [1]}, 400, "bad-launch-spec",
     ("'args'", "[1]")),
    ("env-value-not-string", {"program": LOOP, "env": {"A": 1}}, 400, "bad-launch-spec",
     ("env['A']",)),
    ("env-a-list", {"program": LOOP, "env": ["x"]}, 400, "bad-launch-spec",
     ("'env'", "['x']")),
    ("env-bad-name", {"program": LOOP, "env": {"A=B": "1"}}, 400, "bad-launch-spec",
     ("'A=B'",)),
    ("stop-on-entry-a-string", {"program": LOOP, "stop_on_entry": "yes"}, 400,
     "bad-launch-spec", ("'stop_on_entry'", "'yes'")),
    ("breakpoint-without-line", {"program": LOOP, "breakpoints": [{"path": "x.py"}]}, 400,
     "bad-launch-spec", ("breakpoints[0].line",)),
    ("breakpoint-line-zero", {"program": LOOP, "breakpoints": [{"path": LOOP, "line": 0}]},
     400, "bad-launch-spec", ("breakpoints[0].line", "0")),
    ("breakpoint-unknown-field",
     {"program": LOOP, "breakpoints": [{"path": LOOP, "line": 3, "lin": 4}]}, 400,
     "bad-launch-spec", ("breakpoints[0]", "'lin'")),
    ("breakpoints-not-a-list", {"program": LOOP, "breakpoints": {"path": LOOP}}, 400,
     "bad-launch-spec", ("'breakpoints'",)),
    ("name-not-a-string", {"program": LOOP, "name": 5}, 400, "bad-launch-spec",
     ("'name'", "5")),
    ("program-and-module", {"program": LOOP, "module": "targets.loop"}, 400,
     "bad-launch-spec", ("program, module",)),
    ("no-target", {"debugger": "debugpy"}, 400, "bad-launch-spec",
     ("'program'", "'module'", "'pid'")),
    ("empty-spec", {}, 400, "bad-launch-spec", ("exactly one target",)),
    ("module-bad-name", {"module": "a..b"}, 400, "bad-launch-spec", ("'a..b'",)),
    ("attach-without-pid", {"request": "attach", "program": LOOP}, 400, "bad-launch-spec",
     ("'attach'", "'pid'")),
    ("pid-with-launch", {"pid": _NO_PID}, 400, "bad-launch-spec", ("'pid'", "attach")),
    ("pid-negative", {"request": "attach", "pid": -1}, 400, "bad-launch-spec",
     ("'pid'", "-1")),
    ("pid-not-running", {"request": "attach", "pid": _NO_PID}, 400, "not-found",
     (str(_NO_PID),)),
    ("pid-a-bool", {"request": "attach", "pid": True}, 400, "bad-launch-spec",
     ("'pid'", "True")),
    ("unknown-request", {"request": "detach", "program": LOOP}, 400, "bad-launch-spec",
     ("'detach'",)),
    ("core-with-debugpy", {"core": "core.1", "program": LOOP}, 400, "unsupported",
     ("debugpy", "core")),
    ("program-outside-root-absolute", {"program": "/etc/passwd"}, 400, "path-outside-root",
     ("'/etc/passwd'",)),
    ("program-outside-root-relative", {"program": "../outside.py"}, 400,
     "path-outside-root", ("'../outside.py'",)),
    ("cwd-outside-root", {"program": LOOP, "cwd": "/tmp"}, 400, "path-outside-root",
     ("cwd", "'/tmp'")),
    ("breakpoint-outside-root",
     {"program": LOOP, "breakpoints": [{"path": "/etc/passwd", "line": 1}]}, 400,
     "path-outside-root", ("breakpoints[0].path", "'/etc/passwd'")),
    ("unknown-field", {"program": LOOP, "programme": LOOP}, 400, "bad-launch-spec",
     ("'programme'",)),
    ("body-a-json-list", [{"program": LOOP}], 400, "bad-json", ("list",)),
    ("body-a-json-string", "program", 400, "bad-json", ("str",)),
]


@pytest.mark.parametrize("case", BAD_SPECS, ids=[case[0] for case in BAD_SPECS])
async def test_bad_launch_spec_is_refused_and_starts_nothing(
        api: Any, manager: Any, targets: Path, spawn_spy: SpawnSpy,
        case: tuple[str, Any, int, str, tuple[str, ...]]) -> None:
    _id, body, status, reason, needles = case
    # A real file just outside root_dir: only the root_dir policy can refuse it.
    (targets.parent.parent / "outside.py").write_text("print('outside')\n")
    await _rejected(api, manager, spawn_spy, body, status=status, reason=reason,
                    needles=needles)


async def test_a_good_spec_does_start_a_process(
        api: Any, manager: Any, targets: Path, spawn_spy: SpawnSpy) -> None:
    """The checks of the refusal tests can see a launch (so they can fail)."""
    children_before = _children()
    async with _session(api, manager, ("stopped",), program=LOOP, stop_on_entry=True) as model:
        assert len(spawn_spy.calls) == 1
        assert _children() - children_before
        _status, listed = await api("GET", "sessions")
        assert [s["id"] for s in listed] == [model["id"]]


async def test_unavailable_debugger_is_refused(
        api: Any, manager: Any, targets: Path, spawn_spy: SpawnSpy, debugger: str,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The real probe, in a server where the debugger is missing as if not installed.
    if debugger == "debugpy":  # `import debugpy` fails
        monkeypatch.setitem(sys.modules, "debugpy", None)
        said: tuple[str, ...] = ("debugpy cannot be imported", "pip install debugpy")
        spec = {"program": LOOP}  # (debugpy is the default debugger)
    else:  # a PATH that has no debugger at all
        empty = tmp_path / "empty-bin"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
        said = ("on PATH; install",)
        spec = {"debugger": debugger, "program": LOOP}
    status, debuggers = await api("GET", "debuggers", refresh=1)
    assert status == 200
    probe = {d["name"]: d for d in debuggers}[debugger]
    assert not probe["available"]
    for needle in said:
        assert needle in probe["reason"], probe
    reply = await _rejected(api, manager, spawn_spy, spec, status=400,
                            reason="debugger-unavailable", needles=(f"'{debugger}'",))
    assert probe["reason"] in reply["message"]


async def test_unreadable_program_is_refused(
        api: Any, manager: Any, targets: Path, spawn_spy: SpawnSpy) -> None:
    secret = targets / "secret.py"
    secret.write_text("print('secret')\n")
    secret.chmod(0)
    if os.access(secret, os.R_OK):
        pytest.skip("the server's user can read a mode-000 file (running as root), so "
                    "the not-readable check cannot be triggered")
    await _rejected(api, manager, spawn_spy, {"program": "targets/secret.py"}, status=400,
                    reason="not-readable", needles=("'targets/secret.py'",))


async def test_body_that_is_not_json(
        api: Any, manager: Any, jp_fetch: Any, targets: Path, spawn_spy: SpawnSpy) -> None:
    children_before = _children()
    for raw in (b"{not json", b'{"program": "targets/loop.py"', b"\xff\xfe"):
        status, reply = await _raw(jp_fetch, "POST", "sessions", raw)
        _assert_error(status, reply, 400, "bad-json", "not valid JSON")
    assert spawn_spy.calls == [] and _children() - children_before == set()
    assert (await api("GET", "sessions"))[1] == []


async def test_body_over_the_default_limit(
        api: Any, manager: Any, jp_fetch: Any, targets: Path, spawn_spy: SpawnSpy) -> None:
    body = json.dumps({"program": LOOP, "args": ["x" * (1024 * 1024)]}).encode()
    children_before = _children()
    status, reply = await _raw(jp_fetch, "POST", "sessions", body)
    _assert_error(status, reply, 413, "body-too-large", str(len(body)), "1048576",
                  "max_request_body")
    assert spawn_spy.calls == [] and _children() - children_before == set()
    assert (await api("GET", "sessions"))[1] == []


class TestConfiguredLimits:
    """max_request_body and max_sessions_per_user, set small in the server's config."""

    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict[str, Any]) -> dict[str, Any]:
        jp_server_config["DebugServerApp"].update(max_request_body=2000,
                                                  max_sessions_per_user=1)
        return jp_server_config

    async def test_body_over_the_configured_limit(
            self, api: Any, manager: Any, targets: Path, spawn_spy: SpawnSpy) -> None:
        body = {"program": LOOP, "args": ["x" * 2000]}
        await _rejected(api, manager, spawn_spy, body, status=413, reason="body-too-large",
                        needles=("2000", "max_request_body"))
        # Just under the limit is parsed (and refused for another reason).
        await _rejected(api, manager, spawn_spy, {"program": LOOP, "args": "x" * 1900},
                        status=400, reason="bad-launch-spec", needles=("'args'",))

    async def test_sessions_per_user(
            self, api: Any, manager: Any, targets: Path, spawn_spy: SpawnSpy) -> None:
        async with _session(api, manager, ("stopped",), program=LOOP,
                            stop_on_entry=True) as first:
            assert len(spawn_spy.calls) == 1
            await _rejected(api, manager, spawn_spy, {"program": LOOP, "stop_on_entry": True},
                            status=429, reason="limit-exceeded",
                            needles=("max_sessions_per_user", "1 active",
                                     repr(first["owner"])))
        # The limit counts active sessions only: once the first ended, a launch works.
        async with _session(api, manager, ("stopped",), program=LOOP,
                            stop_on_entry=True) as second:
            assert len(spawn_spy.calls) == 2
            # Token-authenticated requests without a cookie are one and the same user.
            assert second["owner"] == first["owner"]


# -- requests to sessions ----------------------------------------------------------

SESSION_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "", None),
    ("DELETE", "", None),
    ("GET", "/output", None),
    ("POST", "/dap", {"command": "threads"}),
    ("POST", "/continue", {}),
    ("POST", "/pause", {}),
    ("POST", "/step", {"kind": "over"}),
    ("GET", "/stack", None),
    ("GET", "/variables", None),
    ("POST", "/evaluate", {"expression": "1"}),
    ("GET", "/breakpoints", None),
    ("PUT", "/breakpoints", {"path": LOOP, "breakpoints": [{"line": 13}]}),
]


@pytest.mark.usefixtures("targets")
@pytest.mark.parametrize("route", SESSION_ROUTES,
                         ids=[f"{m} {s or '/'}" for m, s, _ in SESSION_ROUTES])
@pytest.mark.parametrize("session_id", [UNKNOWN_ID, "no-such-session"])
async def test_unknown_session_is_404_naming_the_id(
        api: Any, route: tuple[str, str, Any], session_id: str) -> None:
    method, suffix, body = route
    status, reply = await api(method, f"sessions/{session_id}{suffix}", body)
    _assert_error(status, reply, 404, "no-such-session", repr(session_id))


_CONTROL = [
    ("POST", "step", {"kind": "over"}),
    ("POST", "step", {"kind": "in"}),
    ("POST", "continue", {}),
    ("GET", "stack", None),
    ("GET", "variables", None),
    ("POST", "evaluate", {"expression": "1 + 1"}),
]
_ENDED_ONLY = [
    ("POST", "pause", {}),
    ("POST", "dap", {"command": "threads"}),
    ("PUT", "breakpoints", {"path": LOOP, "breakpoints": [{"line": 13}]}),
]


async def test_control_of_a_running_session_is_409(
        api: Any, manager: Any, targets: Path) -> None:
    async with _session(api, manager, ("running",), program=LOOP, breakpoints=[
            {"path": LOOP, "line": 13, "condition": BLOCKING_CONDITION}]) as model:
        sid = model["id"]
        for method, route, body in _CONTROL:
            status, reply = await api(method, f"sessions/{sid}/{route}", body)
            _assert_error(status, reply, 409, "wrong-state", sid, "running")
        assert manager.get(sid).state == "running"


async def test_control_of_an_exited_session_is_409(
        api: Any, manager: Any, targets: Path) -> None:
    async with _session(api, manager, ("exited",), program=LOOP) as model:
        sid = model["id"]
        assert model["exit_code"] == 0
        for method, route, body in _CONTROL + _ENDED_ONLY:
            status, reply = await api(method, f"sessions/{sid}/{route}", body)
            _assert_error(status, reply, 409, "wrong-state", sid)
        # Reading what is recorded still works after the end.
        status, out = await api("GET", f"sessions/{sid}/output")
        assert status == 200 and out["state"] == "exited"
        status, again = await api("GET", f"sessions/{sid}")
        assert status == 200 and again["state"] == "exited"


BAD_CONTROL: list[tuple[str, str, str, Any, dict[str, Any], str, tuple[str, ...]]] = [
    ("step-sideways", "POST", "step", {"kind": "sideways"}, {}, "bad-argument",
     ("'sideways'",)),
    ("step-kind-not-a-string", "POST", "step", {"kind": 3}, {}, "bad-argument", ("3",)),
    ("step-thread-not-int", "POST", "step", {"kind": "over", "thread_id": "1"}, {},
     "bad-argument", ("'thread_id'", "'1'")),
    ("continue-thread-not-int", "POST", "continue", {"thread_id": 1.5}, {}, "bad-argument",
     ("'thread_id'", "1.5")),
    *[(f"dap-{c}", "POST", "dap", {"command": c}, {}, "lifecycle-command", (repr(c),))
      for c in ("launch", "attach", "initialize", "configurationDone", "disconnect")],
    ("dap-without-command", "POST", "dap", {"arguments": {}}, {}, "bad-argument",
     ("'command'",)),
    ("dap-command-not-a-string", "POST", "dap", {"command": 5}, {}, "bad-argument",
     ("'command'", "5")),
    ("dap-arguments-not-an-object", "POST", "dap", {"command": "threads", "arguments": [1]},
     {}, "bad-argument", ("'arguments'", "[1]")),
    ("variables-count-abc", "GET", "variables", None, {"count": "abc"}, "bad-argument",
     ("count", "'abc'")),
    ("variables-count-too-big", "GET", "variables", None, {"count": "10001"},
     "bad-argument", ("count", "10001")),
    ("variables-start-negative", "GET", "variables", None, {"start": "-1"}, "bad-argument",
     ("start", "-1")),
    ("variables-reference-zero", "GET", "variables", None, {"reference": "0"},
     "bad-argument", ("reference", "0")),
    ("stack-levels-zero", "GET", "stack", None, {"levels": "0"}, "bad-argument",
     ("levels", "0")),
    ("stack-thread-abc", "GET", "stack", None, {"thread_id": "abc"}, "bad-argument",
     ("thread_id", "'abc'")),
    ("evaluate-without-expression", "POST", "evaluate", {}, {}, "bad-argument",
     ("'expression'",)),
    ("evaluate-bad-context", "POST", "evaluate", {"expression": "1", "context": "shell"}, {},
     "bad-argument", ("'shell'",)),
    ("breakpoints-without-path", "PUT", "breakpoints", {"breakpoints": []}, {},
     "bad-argument", ("'path'",)),
    ("breakpoints-line-zero", "PUT", "breakpoints",
     {"path": LOOP, "breakpoints": [{"line": 0}]}, {}, "bad-argument",
     ("breakpoints[0].line", "0")),
    ("breakpoints-not-a-list", "PUT", "breakpoints", {"path": LOOP, "breakpoints": 13}, {},
     "bad-argument", ("'breakpoints'", "13")),
    ("breakpoints-outside-root", "PUT", "breakpoints",
     {"path": "/etc/passwd", "breakpoints": []}, {}, "path-outside-root",
     ("'/etc/passwd'",)),
    ("breakpoints-query-outside-root", "GET", "breakpoints", None, {"path": "/etc/passwd"},
     "path-outside-root", ("'/etc/passwd'",)),
    ("output-limit-zero", "GET", "output", None, {"limit": "0"}, "bad-argument",
     ("limit", "0")),
    ("output-since-abc", "GET", "output", None, {"since": "abc"}, "bad-argument",
     ("since", "'abc'")),
]


@pytest.mark.usefixtures("targets")
@pytest.mark.parametrize("case", BAD_CONTROL, ids=[c[0] for c in BAD_CONTROL])
async def test_bad_request_to_a_stopped_session_is_400_and_changes_nothing(
        api: Any, manager: Any, jp_fetch: Any,
        case: tuple[str, str, str, Any, dict[str, str], str, tuple[str, ...]]) -> None:
    _id, method, route, body, params, reason, needles = case
    async with _session(api, manager, ("stopped",), program=LOOP,
                        stop_on_entry=True) as model:
        sid = model["id"]
        raw = json.dumps(body).encode() if body is not None else None
        status, reply = await _raw(jp_fetch, method, f"sessions/{sid}/{route}", raw, params)
        _assert_error(status, reply, 400, reason, *needles)
        # Nothing moved: still stopped at entry, same place, same breakpoints.
        session = manager.get(sid)
        assert session.state == "stopped"
        assert session.stopped == model["stopped"]
        assert session.breakpoints == {}
        # ...and the session still answers (a lifecycle command did not break it).
        status, stack = await api("GET", f"sessions/{sid}/stack")
        assert status == 200 and stack["frames"][0]["line"] == model["stopped"]["line"]


async def test_body_not_json_on_control_routes(
        api: Any, manager: Any, jp_fetch: Any, targets: Path) -> None:
    async with _session(api, manager, ("stopped",), program=LOOP,
                        stop_on_entry=True) as model:
        sid = model["id"]
        for method, route in (("POST", "dap"), ("POST", "step"), ("POST", "continue"),
                              ("POST", "pause"), ("POST", "evaluate"),
                              ("PUT", "breakpoints")):
            for raw in (b"{oops", b"[1, 2]"):
                status, reply = await _raw(jp_fetch, method, f"sessions/{sid}/{route}", raw)
                _assert_error(status, reply, 400, "bad-json")
        assert manager.get(sid).stopped == model["stopped"]
