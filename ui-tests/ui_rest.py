"""The debug REST API called directly (urllib, token header), to set up and check state."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

ENDED = ("exited", "terminated", "failed", "lost")


class RestError(AssertionError):
    """A route answered with an unexpected status."""


class Rest:
    """`rest.get("sessions")` → JSON; `rest.call(...)` → (status, JSON) for any status."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None,
             timeout: float | None = None) -> tuple[int, Any]:
        """Send one request to /api/debug/<path>; return (status, decoded JSON or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}/api/debug/{path.lstrip('/')}", data=data, method=method,
            headers={"Authorization": f"token {self.token}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        return status, json.loads(raw) if raw else None

    def expect(self, status: int, method: str, path: str, body: Any = None,
               timeout: float | None = None) -> Any:
        """Like `call`, but fail unless the route answers `status`; return the JSON."""
        got, data = self.call(method, path, body, timeout)
        if got != status:
            raise RestError(f"{method} /api/debug/{path} answered {got}, not {status}: {data}")
        return data

    def get(self, path: str) -> Any:
        return self.expect(200, "GET", path)

    # -- the routes the tests use --------------------------------------------------------

    def debuggers(self) -> dict[str, dict[str, Any]]:
        """GET debuggers, by name."""
        data = self.get("debuggers")
        items = data["debuggers"] if isinstance(data, dict) else data
        return {d["name"]: d for d in items}

    def sessions(self) -> list[dict[str, Any]]:
        data = self.get("sessions")
        return list(data["sessions"] if isinstance(data, dict) else data)

    def session(self, session_id: str) -> dict[str, Any]:
        return dict(self.get(f"sessions/{session_id}"))

    def launch(self, spec: dict[str, Any]) -> dict[str, Any]:
        return dict(self.expect(201, "POST", "sessions", spec))

    def step(self, session_id: str, kind: str = "over") -> dict[str, Any]:
        """Step, and return the session model after the next stop (the route waits)."""
        return dict(self.expect(200, "POST", f"sessions/{session_id}/step", {"kind": kind}))

    def snapshots(self, session_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"sessions/{session_id}/snapshots?since=0&limit=1000")["items"])

    def tokens(self, session_id: str) -> list[dict[str, Any]]:
        data = self.get(f"sessions/{session_id}/tokens")
        return list(data["tokens"] if isinstance(data, dict) else data)

    def output_text(self, session_id: str) -> str:
        data = self.get(f"sessions/{session_id}/output?since=0")
        return "".join(item["output"] for item in data["items"])

    def stop_all(self) -> None:
        """DELETE every session still going (idempotent): leave none for the next test."""
        for model in self.sessions():
            if model["state"] not in ENDED:
                self.call("DELETE", f"sessions/{model['id']}")
