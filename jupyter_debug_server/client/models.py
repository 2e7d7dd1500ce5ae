"""What the client knows of the server's answers: JSON objects and the session states."""

from __future__ import annotations

from typing import Any

#: A JSON object as the server sends it (a session model, a page of output, …).
Json = dict[str, Any]

#: States after which a session never changes again.
FINAL_STATES = frozenset({"exited", "terminated", "failed", "lost"})

#: States in which a session is neither stopped nor ended.
MOVING_STATES = frozenset({"starting", "running"})
