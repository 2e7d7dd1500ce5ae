"""Fixtures of the real-hub suite: a hub with alice and bob (simple spawner), their
servers' clients, the hub's log gate, and the report of every cross-user attempt.

This suite runs in a pytest process of its own (scripts/test.sh): `pytest tests/hub`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .client import Report, UserServer
from .hub import REPO, RUNNING, Hub, HubOptions, running_hub, seed_home

# What the hub logs on purpose when the suite stops it.
_EXPECTED = ("Received signal SIGTERM",)


@pytest.fixture(scope="session")
def report() -> Iterator[Report]:
    """Rows of the cross-user report; written to build/hub/report ($HUB_REPORT_DIR)."""
    rows = Report()
    yield rows
    rows.write(Path(os.environ.get("HUB_REPORT_DIR") or REPO / "build" / "hub") / "report")


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A running hub whose users alice and bob have started their servers."""
    with running_hub(HubOptions(users=("alice", "bob")),
                     tmp_path_factory.mktemp("hub")) as running:
        for user in ("alice", "bob"):
            seed_home(running.home(user))
            running.spawn(user)
        RUNNING.append(running)
        try:
            yield running
        finally:
            RUNNING.remove(running)


@pytest.fixture(autouse=True)
def hub_log_gate(report: Report) -> Iterator[None]:
    """Fail a test during which the hub, the proxy or a single-user server logged a
    traceback or an ERROR (the conftest above gates this process's own log)."""
    marks = [(hub, hub.log.mark()) for hub in RUNNING]
    yield
    # A hub started during the test (a module fixture) is read from its first line.
    marks += [(hub, 0) for hub in RUNNING if all(hub is not h for h, _ in marks)]
    for hub, mark in marks:  # pytest shows this with a failed test's captured output
        print(f"--- the log of the hub at {hub.url} during the test ---")
        print("".join(hub.log.lines[mark:]))
    report.peer_resets += sum(hub.log.peer_resets_since(mark) for hub, mark in marks)
    bad = [line for hub, mark in marks for line in hub.log.bad_since(mark, _EXPECTED)]
    if bad:
        pytest.fail("the hub logged errors:\n" + "".join(bad))


@pytest.fixture
def alice(hub: Hub) -> UserServer:
    """alice's server behind the proxy, with alice's hub token."""
    return UserServer(hub, "alice")


@pytest.fixture
def bob(hub: Hub) -> UserServer:
    """bob's server behind the proxy, with bob's hub token."""
    return UserServer(hub, "bob")
