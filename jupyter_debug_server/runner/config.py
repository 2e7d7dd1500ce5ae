"""RunnerConfig: the extension's settings that the runner needs.

Its own module so that the manager, the session's parts and the app all import it
without importing each other (it was defined in manager.py, which imports the session).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RunnerConfig"]


@dataclass(frozen=True)
class RunnerConfig:
    """The extension's settings that the runner needs (copied from DebugServerApp)."""

    root_dir: str
    allow_paths_outside_root: bool = False
    max_sessions_per_user: int = 16
    max_dap_message: int = 64 * 1024 * 1024
    output_retention_chars: int = 256 * 1024 * 1024
    session_retention_days: float = 7.0
    base_url: str = "/"
    gdb_path: str = ""  # "" means: find gdb on PATH
    lldb_dap_path: str = ""  # "" means: the newest lldb-dap (or lldb-vscode) on PATH
    launch_timeout: float = 60.0
    step_timeout: float = 30.0
    request_timeout: float = 30.0  # seconds the debugger has to answer a request of ours
    shutdown_timeout: float = 5.0
    token_default_ttl: int = 3600  # seconds a session token lives when no ttl is asked for
    token_max_ttl: int = 86400  # the longest ttl a client may ask for
    snapshots: bool = True  # a snapshot at every stop of every session (runner/snapshots.py)
    snapshot_frames: int = 20  # top frames a snapshot keeps
    snapshot_children: int = 20  # children kept per variable (0: none are asked for)
    snapshot_value_chars: int = 1000  # characters of one value (name, type, watch) kept
    snapshot_max_chars: int = 64 * 1024  # characters of one whole snapshot, about
    snapshot_retention: int = 1000  # snapshots kept per session, newest (0: all)
