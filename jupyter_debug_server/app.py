"""DebugServerApp: the jupyter_server extension (settings, handlers, start, shutdown)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, Unicode, default, validate

from .api import ROUTES
from .runner.config import RunnerConfig
from .runner.manager import SessionManager
from .store import Store

EVENT_SCHEMA_ID = "https://events.jupyter.org/jupyter_debug_server/session_actions/v1"
_SCHEMA = Path(__file__).parent / "event_schemas" / "session_actions" / "v1.yaml"


class DebugServerApp(ExtensionApp):
    """Launch and supervise debug sessions of programs outside the kernel."""

    name = "jupyter_debug_server"
    description = __doc__
    load_other_extensions = True

    db_path = Unicode(
        help="Path of the SQLite database of sessions, output and tokens. "
        "Default: jupyter_debug_server.db in Jupyter's data directory.",
    ).tag(config=True)

    @default("db_path")
    def _default_db_path(self) -> str:
        return os.path.join(jupyter_data_dir(), "jupyter_debug_server.db")

    allow_paths_outside_root = Bool(
        False,
        help="Allow programs, working directories and breakpoints outside the server's "
        "root_dir. Off by default: a session may only touch files the server serves.",
    ).tag(config=True)

    max_sessions_per_user = Int(
        16, help="Active debug sessions one user may have at once (0 means no limit).",
    ).tag(config=True)

    max_request_body = Int(
        1024 * 1024, help="Largest REST request body accepted, in bytes (at least 1024).",
    ).tag(config=True)

    max_dap_message = Int(
        64 * 1024 * 1024,
        help="Largest DAP message accepted from a debugger, in bytes (at least 1024).",
    ).tag(config=True)

    max_client_backlog = Int(
        16 * 1024 * 1024,
        help="Bytes of messages waiting to be sent to one WebSocket client (DAP tunnel or "
        "event stream) before it is disconnected with close code 1008 as too slow (at "
        "least 65536). One message always goes out when nothing waits, whatever its size, "
        "so a client may hold up to this plus one max_dap_message.",
    ).tag(config=True)

    max_connections_per_token = Int(
        8, help="WebSockets (DAP tunnels and event streams together) one session token may "
        "have open at once; beyond it the upgrade answers 429 (0 means no limit).",
    ).tag(config=True)

    max_connections_per_user = Int(
        64, help="WebSockets (DAP tunnels and event streams together, all sessions) one "
        "Jupyter user may have open at once; beyond it the upgrade answers 429 (0 means no "
        "limit).",
    ).tag(config=True)

    output_retention_chars = Int(
        256 * 1024 * 1024,
        help="Characters of output kept per session; the oldest output is dropped beyond "
        "this (0 means keep everything).",
    ).tag(config=True)

    session_retention_days = Float(
        7.0, help="Days to keep ended sessions and their output (0 means forever).",
    ).tag(config=True)

    launch_timeout = Float(
        60.0, help="Seconds a session may take to start before it is marked failed.",
    ).tag(config=True)

    step_timeout = Float(
        30.0, help="Seconds the step, continue and pause routes wait for the next stop "
        "before answering with the session still running.",
    ).tag(config=True)

    request_timeout = Float(
        30.0, help="Seconds the debugger has to answer each DAP request the server sends "
        "on its own or for a REST route (stack, variables, evaluate, ...); a request "
        "without an answer by then is abandoned and the route answers 504 "
        "(reason debugger-timeout). The session stays usable.",
    ).tag(config=True)

    shutdown_timeout = Float(
        5.0, help="Seconds each shutdown step (DAP disconnect, SIGTERM) may take before "
        "the next, harsher one (SIGTERM, SIGKILL).",
    ).tag(config=True)

    gdb_path = Unicode(
        "", help="The gdb executable for native sessions (a path, or a name looked up on "
        "PATH). Empty means: gdb on PATH.",
    ).tag(config=True)

    lldb_dap_path = Unicode(
        "", help="The lldb-dap (or lldb-vscode) executable. Empty means: the newest "
        "lldb-dap-NN or lldb-vscode-NN on PATH.",
    ).tag(config=True)

    token_default_ttl = Int(
        3600, help="Seconds a session token lives when its POST names no ttl (at least 1; "
        "capped by token_max_ttl).",
    ).tag(config=True)

    token_max_ttl = Int(
        86400, help="The longest lifetime, in seconds, a client may ask for a session token "
        "(at least 1); a larger ttl is refused with 400.",
    ).tag(config=True)

    store_busy_timeout = Int(
        5000, help="SQLite busy_timeout in milliseconds.",
    ).tag(config=True)

    snapshots = Bool(
        True, help="Take a snapshot at every stop of every session (where it stopped, the "
        "top frames, the top frame's variables and the watch expressions), stream it on "
        "the events WebSocket and keep it in the store. False: no session takes any, "
        "whatever its launch spec says (a launch spec's `snapshots: false` turns them off "
        "for one session).",
    ).tag(config=True)

    snapshot_frames = Int(
        20, help="Top frames of the stopped thread a snapshot keeps (at least 1).",
    ).tag(config=True)

    snapshot_children = Int(
        20, help="Children a snapshot keeps of each variable of the top frame that has any "
        "(struct members, container items; one level deep); more are cut and the "
        "snapshot says `truncated`. 0 means no children are asked for.",
    ).tag(config=True)

    snapshot_value_chars = Int(
        1000, help="Characters a snapshot keeps of one value string (a variable's, a "
        "watch's); a longer one is cut and marked `truncated` (at least 16).",
    ).tag(config=True)

    snapshot_max_chars = Int(
        64 * 1024, help="Characters of one snapshot (about its JSON size): variables past "
        "it are left out and the snapshot says `truncated` (at least 1024).",
    ).tag(config=True)

    snapshot_retention = Int(
        1000, help="Snapshots kept per session, the newest; older ones are deleted (a "
        "session's snapshots are deleted with it, after session_retention_days). 0 means "
        "keep every one.",
    ).tag(config=True)

    @validate("max_sessions_per_user", "output_retention_chars", "store_busy_timeout",
              "max_connections_per_token", "max_connections_per_user", "snapshot_children",
              "snapshot_retention")
    def _non_negative_int(self, proposal: Any) -> int:
        if proposal["value"] < 0:
            raise ValueError(f"{proposal['trait'].name} must be >= 0, not {proposal['value']}")
        return int(proposal["value"])

    @validate("max_request_body", "max_dap_message")
    def _positive_size(self, proposal: Any) -> int:
        if proposal["value"] < 1024:
            raise ValueError(f"{proposal['trait'].name} must be at least 1024 bytes, not "
                             f"{proposal['value']}")
        return int(proposal["value"])

    @validate("max_client_backlog")
    def _backlog_size(self, proposal: Any) -> int:
        if proposal["value"] < 65536:
            raise ValueError(f"max_client_backlog must be at least 65536 bytes, not "
                             f"{proposal['value']}")
        return int(proposal["value"])

    @validate("snapshot_frames", "snapshot_value_chars", "snapshot_max_chars")
    def _snapshot_minimum(self, proposal: Any) -> int:
        least = {"snapshot_frames": 1, "snapshot_value_chars": 16,
                 "snapshot_max_chars": 1024}[proposal["trait"].name]
        if proposal["value"] < least:
            raise ValueError(f"{proposal['trait'].name} must be at least {least}, not "
                             f"{proposal['value']}")
        return int(proposal["value"])

    @validate("token_default_ttl", "token_max_ttl")
    def _positive_seconds(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise ValueError(f"{proposal['trait'].name} must be at least 1 second, not "
                             f"{proposal['value']}")
        return int(proposal["value"])

    @validate("launch_timeout", "step_timeout", "shutdown_timeout", "request_timeout")
    def _positive_float(self, proposal: Any) -> float:
        if proposal["value"] <= 0:
            raise ValueError(f"{proposal['trait'].name} must be > 0, not {proposal['value']}")
        return float(proposal["value"])

    manager: SessionManager | None = None
    store: Store | None = None
    _ready_lock: asyncio.Lock | None = None

    def initialize_settings(self) -> None:
        """Publish the limits the handlers need; the manager arrives at start."""
        self.settings.update(debug_max_request_body=self.max_request_body, debug_app=self)
        logger = getattr(self.serverapp, "event_logger", None)
        if logger is not None and EVENT_SCHEMA_ID not in logger.schemas.schema_ids:
            logger.register_event_schema(_SCHEMA)

    def initialize_handlers(self) -> None:
        """Register the route table under the server's base_url."""
        self.handlers.extend(ROUTES)

    def _emit(self, action: str, data: dict[str, Any]) -> None:
        logger = getattr(self.serverapp, "event_logger", None)
        if logger is not None:
            logger.emit(schema_id=EVENT_SCHEMA_ID, data={"action": action, **data})

    def runner_config(self) -> RunnerConfig:
        """The settings the runner needs, as one immutable value."""
        assert self.serverapp is not None
        return RunnerConfig(
            root_dir=self.serverapp.root_dir,
            allow_paths_outside_root=self.allow_paths_outside_root,
            max_sessions_per_user=self.max_sessions_per_user or 1_000_000,
            max_dap_message=self.max_dap_message,
            output_retention_chars=self.output_retention_chars,
            session_retention_days=self.session_retention_days,
            launch_timeout=self.launch_timeout,
            step_timeout=self.step_timeout,
            request_timeout=self.request_timeout,
            shutdown_timeout=self.shutdown_timeout,
            base_url=self.serverapp.base_url,
            gdb_path=self.gdb_path,
            lldb_dap_path=self.lldb_dap_path,
            token_default_ttl=self.token_default_ttl,
            token_max_ttl=self.token_max_ttl,
            snapshots=self.snapshots,
            snapshot_frames=self.snapshot_frames,
            snapshot_children=self.snapshot_children,
            snapshot_value_chars=self.snapshot_value_chars,
            snapshot_max_chars=self.snapshot_max_chars,
            snapshot_retention=self.snapshot_retention,
        )

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Start eagerly with the server, so a dead server's sessions are reaped at once."""
        await self.ready()

    async def ready(self) -> SessionManager:
        """Open the store and recover sessions of a dead server, once; return the manager."""
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        async with self._ready_lock:
            if self.manager is None:
                self.store = await Store.open(self.db_path,
                                              busy_timeout_ms=self.store_busy_timeout)
                manager = SessionManager(self.store, self.runner_config(), self._emit)
                for session_id in await manager.recover():
                    self.log.warning("Debug session %s was active when the server stopped: "
                                     "marked lost", session_id)
                    self._emit("lost", {"session_id": session_id})
                self.manager = manager
                self.log.info("jupyter_debug_server: store %s (journal %s)", self.db_path,
                              self.store.journal_mode)
        return self.manager

    async def stop_extension(self) -> None:
        """End every session cleanly, then close the store."""
        if self.manager is not None:
            await self.manager.shutdown()
        if self.store is not None:
            await self.store.close()
