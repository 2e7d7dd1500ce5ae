"""REST and WebSocket handlers: authenticate, authorize, parse, delegate."""

from __future__ import annotations

from typing import Any

from .control import (
    BreakpointsHandler,
    ContinueHandler,
    DapHandler,
    EvaluateHandler,
    OutputHandler,
    PauseHandler,
    StackHandler,
    StepHandler,
    VariablesHandler,
)
from .events import SessionEventsHandler
from .server_events import ServerEventsHandler
from .sessions import DebuggersHandler, ProcessesHandler, SessionHandler, SessionsHandler
from .snapshots import SnapshotHandler, SnapshotsHandler, WatchesHandler
from .tokens import TokenHandler, TokensHandler

_SESSION = r"/api/debug/sessions/(?P<session_id>[^/]+)"

#: The route table (paths relative to the server's base_url).
ROUTES: list[tuple[str, Any]] = [
    (r"/api/debug/debuggers", DebuggersHandler),
    (r"/api/debug/processes", ProcessesHandler),
    (r"/api/debug/events", ServerEventsHandler),
    (r"/api/debug/sessions", SessionsHandler),
    (_SESSION, SessionHandler),
    (_SESSION + r"/dap", DapHandler),
    (_SESSION + r"/continue", ContinueHandler),
    (_SESSION + r"/pause", PauseHandler),
    (_SESSION + r"/step", StepHandler),
    (_SESSION + r"/stack", StackHandler),
    (_SESSION + r"/variables", VariablesHandler),
    (_SESSION + r"/evaluate", EvaluateHandler),
    (_SESSION + r"/breakpoints", BreakpointsHandler),
    (_SESSION + r"/output", OutputHandler),
    (_SESSION + r"/snapshots", SnapshotsHandler),
    (_SESSION + r"/snapshots/(?P<seq>[^/]+)", SnapshotHandler),
    (_SESSION + r"/watches", WatchesHandler),
    (_SESSION + r"/events", SessionEventsHandler),
    (_SESSION + r"/tokens", TokensHandler),
    (_SESSION + r"/tokens/(?P<token_id>[^/]+)", TokenHandler),
]
