"""Hostile launch specs against POST /api/debug/sessions of a real server (DESIGN.md §4).

schemathesis generates specs (valid and invalid against the shipped openapi.yaml) and a
hand-written list aims at every escape we know of: `../` chains, absolute paths, symlinks,
`~`, NUL, lone surrogates, long names, /proc, cwd and core outside root, odd pids, odd
shapes. Every answer must be below 500; every 4xx a sentence with a reason; every created
session inside root_dir (its model, and its target's real cwd and exe in /proc); and the
server's log must hold none of the secrets used. Counts go to suite "specs".

Seed: `HARDENING_SEED` (default below); volume: `HARDENING_SCALE`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from schemathesis import GenerationMode
from schemathesis.core import NotSet

from .faults_support import scaled, secret_hits, seed, server_log, unexpected_errors
from .report import record
from .specs_escapes import NO_SUCH_PID, all_escapes, encode
from .specs_world import World, build_world, end_children, read_json

SEED = seed(20261204)
OPENAPI = Path(__file__).resolve().parents[2] / "jupyter_debug_server" / "openapi.yaml"
pytestmark = pytest.mark.timeout(900)

# Shell metacharacters in argv: a shell would run the `touch`es or expand the rest.
SHELL_ARGS = ["; touch {m}/semicolon", "$(touch {m}/dollar)", "`touch {m}/backtick`",
              "| touch {m}/pipe", "&& touch {m}/and", "> {m}/redirect", "*", "$HOME",
              "'\"", "a\nb", "~", "{m}/*"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    print(f"hardening specs seed: {SEED} (replay with HARDENING_SEED={SEED})")
    built, children = build_world(tmp_path_factory.mktemp("specs"))
    # Failure counts are reported even when nothing failed (the CI summary checks them).
    built.counts.update(dict.fromkeys(("specs", "status_5xx", "outside_root", "secret_hits"), 0))
    yield built
    built.server.stop()
    end_children(children)
    record("specs", **built.counts)


def _finish(world: World) -> None:
    """Record the secrets found and fail with every problem seen by this test."""
    log = server_log(world.server)
    hits = secret_hits(log, world.secrets)
    # The log is the whole server's so far: count each leaked secret once.
    world.counts["secret_hits"] += len(set(hits) - world.leaked)
    world.leaked.update(hits)
    errors = unexpected_errors(log)
    problems = list(world.problems)
    world.problems.clear()
    report = [*problems]
    if hits:
        report.append(f"secrets in the server log: {hits}")
    if errors:
        report += ["unexpected errors in the server log:", *errors[:20]]
    assert not report, "\n".join(report)


def test_hand_written_escapes(world: World) -> None:
    for label, body in all_escapes(world.places):
        world.post_spec(label, encode(body))
    assert not (world.outside / "EVIL_RAN").exists(), "a script outside root_dir ran"
    _finish(world)


def _sanitize(body: Any) -> Any:
    """Keep generated pids away from real processes (pid 1 is this machine's init)."""
    if isinstance(body, dict) and "pid" in body:
        body = {**body, "pid": NO_SUCH_PID}
    return body


def test_generated_launch_specs(world: World) -> None:
    schema = schemathesis.openapi.from_path(str(OPENAPI))
    operation = schema["/api/debug/sessions"]["POST"]
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        _fuzz_launch(world, operation, mode)
    _finish(world)


def _fuzz_launch(world: World, operation: Any, mode: GenerationMode) -> None:
    @hypothesis_seed(SEED)
    @settings(max_examples=scaled(80), database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        body = _sanitize(case.body)
        world.post_spec(f"schemathesis-{mode.value}: {str(body)[:200]!r}", _payload(body))

    send()


def _payload(body: Any) -> bytes:
    """What to send for a generated body (a negative case may have none at all)."""
    if isinstance(body, NotSet):
        return b""
    return encode(body)


def _stopped_session(world: World) -> str:
    status, model = world.post_spec("helper", encode(
        {"program": "targets/waiter.py", "stop_on_entry": True}))
    assert status == 201, model
    return str(model["id"])


def test_generated_session_requests(world: World) -> None:
    """Other routes that take a body, on a live session: breakpoints, evaluate, step, dap,
    tokens (schemathesis cases, both modes)."""
    schema = schemathesis.openapi.from_path(str(OPENAPI))
    routes = [("/api/debug/sessions/{session_id}/breakpoints", "PUT"),
              ("/api/debug/sessions/{session_id}/evaluate", "POST"),
              ("/api/debug/sessions/{session_id}/step", "POST"),
              ("/api/debug/sessions/{session_id}/dap", "POST"),
              ("/api/debug/sessions/{session_id}/tokens", "POST")]
    live = {"id": ""}
    for path, method in routes:
        operation = schema[path][method]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_route(world, live, operation, mode, path, method)
    world.delete(live["id"])
    _finish(world)


def _fuzz_route(world: World, live: dict[str, str], operation: Any, mode: GenerationMode,
                path: str, method: str) -> None:
    @hypothesis_seed(SEED)
    @settings(max_examples=scaled(12), database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        _send_session_request(world, live, path, method, case.body)

    send()


def _send_session_request(world: World, live: dict[str, str], path: str, method: str,
                          body: Any) -> None:
    if not live["id"] or not _is_live(world, live["id"]):
        # A generated `step` or `dap` request may have let the target run to its end.
        live["id"] = _stopped_session(world)
    headers, query = world.auth()
    url = world.url + path.replace("{session_id}", live["id"])
    response = world.session.request(method, url, data=_payload(body), headers=headers,
                                     params=query, timeout=90)
    world.counts["session_requests"] += 1
    answer = response.json() if response.content else None
    if isinstance(answer, dict) and isinstance(answer.get("secret"), str):
        world.secrets.add(answer["secret"])
    world.check_answer(f"{method} {path} {str(body)[:200]!r}", response.status_code, answer)


def _is_live(world: World, session_id: str) -> bool:
    headers, query = world.auth()
    response = world.session.get(f"{world.url}/api/debug/sessions/{session_id}",
                                 headers=headers, params=query, timeout=60)
    return response.ok and response.json()["state"] in ("running", "stopped")


def _wait_for_file(path: Path, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            return True
        time.sleep(0.05)  # polling a file the target writes: there is no event for it
    return False


@pytest.mark.parametrize("debugger", ["debugpy", "gdb", "lldb"])
def test_args_reach_the_target_literally(world: World, debugger: str) -> None:
    """Shell metacharacters in `args` arrive as they were sent, and nothing ran them."""
    marks = world.root / f"shell-{debugger}"
    marks.mkdir()
    args = [a.format(m=marks) for a in SHELL_ARGS]
    out = marks / "argv.json"
    program = "argv_dump.py" if debugger == "debugpy" else "argv_dump"
    status, model = world.post_spec(f"shell-args-{debugger}", encode({
        "debugger": debugger, "program": program, "args": args,
        "env": {"ARGV_OUT": str(out)}}), keep=True)
    assert status == 201, model
    wrote = _wait_for_file(out)
    world.delete(model["id"])
    assert wrote, f"the {debugger} target never wrote {out}"
    assert read_json(out) == args
    assert sorted(p.name for p in marks.iterdir()) == ["argv.json"], "a shell ran"
    _finish(world)


@pytest.mark.parametrize("debugger", ["debugpy", "gdb", "lldb"])
def test_env_reaches_only_the_target(world: World, debugger: str) -> None:
    """LD_PRELOAD and PYTHONPATH of a spec act on the target (the user's own program, by
    design) and never on our worker or the debugger."""
    marks = world.outside / "marks"
    for old in marks.iterdir():
        old.unlink()
    out = world.root / f"env-{debugger}.json"
    program = "argv_dump.py" if debugger == "debugpy" else "argv_dump"
    status, model = world.post_spec(f"env-preload-{debugger}", encode({
        "debugger": debugger, "program": program, "stop_on_entry": True,
        "env": {"ARGV_OUT": str(out), "MARK_DIR": str(marks),
                "LD_PRELOAD": str(world.outside / "preload.so"),
                "PYTHONPATH": str(world.outside / "pp")}}), keep=True)
    assert status == 201, model
    target = model["pid"]
    # The target stops at its entry, after the loader and site ran: its marks are made.
    world.delete(model["id"])
    marked = {int(p.name.rsplit("-", 1)[1]) for p in marks.iterdir()}
    assert target in marked, f"the target {target} did not get the spec's env: {marked}"
    ours = marked - {target}
    assert not ours, (f"the spec's LD_PRELOAD/PYTHONPATH reached processes other than the "
                      f"target {target}: {sorted(ours)} ({sorted(os.listdir(marks))})")
    _finish(world)
