"""SessionManager: creates, finds, ends and recovers debug sessions.

Owned by the server's event loop; created by the extension app, used by the
API handlers.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..dap.large import LargeMessages
from ..dap.messages import Message
from ..store import Store
from .config import RunnerConfig
from .discovery import DEBUGGERS
from .errors import (
    DebuggerUnavailable,
    LimitExceeded,
    SessionNotFound,
    SessionStateError,
    without_traceback,
)
from .launch_spec import LaunchSpec, check_exception_filters, parse_launch_spec
from .paths import PathPolicy
from .processes import boot_id, is_running, kill_group, own_processes, process_start_time
from .session import Session, new_session_id
from .snapshot_log import get_stored, read_stored
from .state import ACTIVE_STATES, FINAL_STATES
from .tokens import TokenRegistry
from .worker_process import WORKER_CWD, worker_command, worker_environment

log = logging.getLogger(__name__)

EventSink = Callable[[str, dict[str, Any]], None]
#: A listener of every session: called with a session's model whenever it changes.
ModelListener = Callable[[dict[str, Any]], None]
LARGE_MESSAGE_HELPER = "jupyter_debug_server.dap.large"
T = TypeVar("T")


class SessionManager:
    """All debug sessions of this server."""

    def __init__(self, store: Store, config: RunnerConfig,
                 emit: EventSink | None = None) -> None:
        self.store = store
        self.config = config
        self.policy = PathPolicy(config.root_dir, config.allow_paths_outside_root)
        self.sessions: dict[str, Session] = {}
        self._emit = emit or (lambda action, data: None)
        self._probe_cache: dict[str, dict[str, Any]] | None = None
        # Every blocking call of the runner (/proc reads, path checks, probes) runs here.
        self.blocking = ThreadPoolExecutor(max_workers=2, thread_name_prefix="jds-blocking")
        self.tokens = TokenRegistry(store, default_ttl=config.token_default_ttl,
                                    max_ttl=config.token_max_ttl,
                                    session_active=self.is_active)
        # The helper process that reads large DAP messages of tunnel clients (dap/large.py),
        # started as the workers are: isolated, neutral cwd, no server credentials.
        self.large_messages = LargeMessages(
            lambda: self._off_loop(worker_command, LARGE_MESSAGE_HELPER), cwd=WORKER_CWD,
            environment=worker_environment)
        # Listeners of every session (the server's event stream), and while there are any,
        # the unsubscribe function of each live session: with none, no session is
        # subscribed for them, so stepping builds no model for nobody.
        self._watchers: set[ModelListener] = set()
        self._watched: dict[str, Callable[[], None]] = {}
        # The columns that name this server in a session's row (`_this_server`).
        self._server: dict[str, Any] | None = None

    async def _off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.blocking, fn, *args)

    # -- start-up and shut-down ------------------------------------------------

    async def _this_server(self) -> dict[str, Any]:
        """The columns that name this server in the rows of its sessions (read once)."""
        if self._server is None:
            self._server = await self._off_loop(server_columns, os.getpid())
        return self._server

    async def recover(self) -> list[str]:
        """Mark sessions a dead server left active as 'lost' and reap their processes;
        leave alone those another live server runs (it shares this database)."""
        lost = []
        for row in await self.store.sessions_in_states(ACTIVE_STATES):
            server = await self._off_loop(run_by_other_server, row)
            if server is not None:
                log.info("Leaving debug session %s alone: another Jupyter server of this "
                         "user (pid %d) runs it", row["id"], server)
                continue
            await self._off_loop(_reap_survivors, row)
            await self.store.update_session(
                row["id"], state="lost", stopped=None,
                error="the Jupyter server stopped while this session was active")
            await self.store.revoke_session_tokens(row["id"])
            await self.store.add_audit(row["id"], "lost", None, None)
            lost.append(row["id"])
        if self.config.session_retention_days > 0:
            cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
                days=self.config.session_retention_days)
            await self.store.delete_sessions_ended_before(
                cutoff.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), FINAL_STATES)
        return lost

    async def shutdown(self) -> None:
        """End every active session (called when the server stops)."""
        active = [s for s in self.sessions.values() if s.active or s.worker is not None]
        await asyncio.gather(*(s.terminate() for s in active), return_exceptions=True)
        await self.tokens.drain()
        await self.large_messages.close()
        self.blocking.shutdown(wait=False)

    # -- debuggers -------------------------------------------------------------

    async def debuggers(self, refresh: bool = False) -> list[dict[str, Any]]:
        """Availability of every debugger (probed once, off the event loop)."""
        if self._probe_cache is None or refresh:
            configured = {"gdb": self.config.gdb_path, "lldb": self.config.lldb_dap_path}
            probes = await asyncio.gather(*(
                self._off_loop(d.probe, configured.get(d.name, "")) for d in DEBUGGERS.values()))
            self._probe_cache = {p["name"]: p for p in probes}
        return list(self._probe_cache.values())

    # -- sessions --------------------------------------------------------------

    async def parse(self, body: Any) -> LaunchSpec:
        """Validate a launch spec off the loop (it stats files): raises LaunchSpecError."""
        name = body.get("debugger", "debugpy") if isinstance(body, dict) else None
        if isinstance(name, str) and name in DEBUGGERS:
            # An unavailable debugger is the first thing to say, before its spec's details.
            probe = {p["name"]: p for p in await self.debuggers()}[name]
            if not probe["available"]:
                raise DebuggerUnavailable(f"debugger {name!r} is not available: "
                                          f"{probe['reason']}")
        spec = await self._off_loop(parse_launch_spec, body, self.policy, set(DEBUGGERS))
        probe = {p["name"]: p for p in await self.debuggers()}[spec.debugger]
        check_exception_filters(spec, probe["exception_filters"])
        return spec

    async def resolve_path(self, value: str, what: str) -> str:
        """A client's path resolved by the path policy, off the loop (it stats files):
        raises LaunchSpecError naming it."""
        return str(await self._off_loop(self.policy.resolve, value, what))

    async def create(self, body: Any, owner: str) -> Session:
        """Validate, check limits, record and start a session."""
        spec = await self.parse(body)
        debugger = DEBUGGERS[spec.debugger]
        active = sum(1 for s in self.sessions.values() if s.owner == owner and s.active)
        if active >= self.config.max_sessions_per_user:
            raise LimitExceeded(
                f"user {owner!r} already has {active} active debug sessions, the limit set by "
                "c.DebugServerApp.max_sessions_per_user; end one (DELETE its URL) first")
        session = Session(new_session_id(), spec, owner, store=self.store, config=self.config,
                          blocking=self.blocking)
        # Recorded before it is kept: a store that refuses (StoreBusy) leaves nothing behind.
        await self.store.create_session(session.record() | await self._this_server())
        self.sessions[session.id] = session
        if self._watchers:  # (now, before any await: its first state is the first news)
            self._watch_session(session)
            self._forward({"type": "state", "session": session.model()})
        session.when_ended(self._on_session_end)
        session.end_for_client = lambda user, who: self.terminate(session.id, user, who)
        await self.store.add_audit(session.id, "create", owner, spec.public())
        self._emit("create", {"session_id": session.id, "debugger": spec.debugger,
                              "user": owner})
        probe = {p["name"]: p for p in await self.debuggers()}[spec.debugger]
        await session.start(debugger.worker_module, debugger.worker_args(probe["path"]))
        if spec.stop_on_entry:
            # The entry stop follows `launch` by a moment: answer with it, not with 'running'.
            await session.wait_for(lambda: session.state != "running",
                                   self.config.step_timeout)
        return session

    def _on_session_end(self, session: Session) -> None:
        # (after its subscribers, so the watchers have had the final state)
        unsubscribe = self._watched.pop(session.id, None)
        if unsubscribe is not None:
            unsubscribe()
        # A session's tokens die with it: connections they opened close at once. Soon, not
        # now, so its event streams (a token's own among them) see the final state first;
        # requests are refused meanwhile because the session is no longer active.
        asyncio.get_running_loop().call_soon(self.tokens.end_session, session.id)

    # -- every session, live ------------------------------------------------------

    def watch(self, listener: ModelListener) -> Callable[[], None]:
        """Call `listener(model)` whenever the model of any live session changes (created,
        state, stop location, exit, end), in order per session; returns the function that
        stops it (the last one leaving unsubscribes from every session)."""
        self._watchers.add(listener)
        for session in self.sessions.values():
            self._watch_session(session)

        def unwatch() -> None:
            self._watchers.discard(listener)
            if not self._watchers:
                watched, self._watched = self._watched, {}
                for unsubscribe in watched.values():
                    unsubscribe()

        return unwatch

    def _watch_session(self, session: Session) -> None:
        if session.active and session.id not in self._watched:
            self._watched[session.id] = session.subscribe(self._forward)

    def _forward(self, event: Message) -> None:
        """A session's event: its new model goes to every watcher (its other events do
        not: they are the session's own stream's)."""
        if event.get("type") != "state":
            return
        model = event["session"]
        for listener in list(self._watchers):
            try:
                listener(model)
            except Exception:
                log.exception("a listener of every session failed on session %s",
                              model.get("id"))

    def is_active(self, session_id: str) -> bool:
        """Whether this server runs the session and it has not ended."""
        session = self.sessions.get(session_id)
        return session is not None and session.active

    def get(self, session_id: str) -> Session:
        """The live session with this id."""
        session = self.sessions.get(session_id)
        if session is None:
            raise SessionNotFound(f"no debug session with id {session_id!r}")
        return session

    async def live(self, session_id: str) -> Session:
        """The session if this server runs it; 409 if an earlier or another server
        did, else 404."""
        session = self.sessions.get(session_id)
        if session is not None:
            return session
        row = await self.store.get_session(session_id)
        if row is None:
            raise SessionNotFound(f"no debug session with id {session_id!r}")
        raise SessionStateError(await self._run_elsewhere(row) or (
            f"session {session_id} is {row['state']} (it was run by an earlier server); "
            "its output and model can still be read"))

    async def _run_elsewhere(self, row: dict[str, Any]) -> str | None:
        """Why this server cannot drive the session of `row` if another live server of
        this user runs it (they share the database); else None."""
        if row["state"] not in ACTIVE_STATES:
            return None
        server = await self._off_loop(run_by_other_server, row)
        if server is None:
            return None
        return (f"session {row['id']} is run by another Jupyter server of this user (pid "
                f"{server}); use that server's URL to drive or end it (this one only reads "
                "its recorded model and output)")

    async def model(self, session_id: str, base_url: str) -> dict[str, Any]:
        """The model of a live or recorded session."""
        session = self.sessions.get(session_id)
        if session is not None:
            await session.ensure_location()
            return session.model(base_url)
        row = await self.store.get_session(session_id)
        if row is None:
            raise SessionNotFound(f"no debug session with id {session_id!r}")
        return stored_model(row, base_url)

    async def list_models(self, base_url: str) -> list[dict[str, Any]]:
        """Every session: live ones as they are, earlier ones as recorded."""
        rows = await self.store.list_sessions()
        for row in rows:
            if row["id"] in self.sessions:
                await self.sessions[row["id"]].ensure_location()
        return [self.sessions[r["id"]].model(base_url) if r["id"] in self.sessions
                else stored_model(r, base_url) for r in rows]

    async def terminate(self, session_id: str, user: str | None,
                        client: dict[str, Any] | None = None) -> dict[str, Any]:
        """End a session (idempotent: ending an ended session is not an error).

        `client` names the DAP client that ended it (`client`, `role`, `token_id`,
        `command`); None for REST's DELETE and the CLI's `stop`.
        """
        session = self.sessions.get(session_id)
        if session is None:
            row = await self.store.get_session(session_id)
            why = None if row is None else await self._run_elsewhere(row)
            if why is not None:  # (answering its stored model would say it ended)
                raise SessionStateError(why)
            return await self.model(session_id, "/")
        if session.active or session.worker is not None:
            await self.store.add_audit(session_id, "terminate", user, client)
            await session.terminate()
            data = {"session_id": session_id, "user": user} | {
                k: v for k, v in (client or {}).items() if v is not None}
            self._emit("terminate", {k: v for k, v in data.items() if v is not None})
        return session.model()

    async def processes(self, query: str | None = None) -> list[dict[str, Any]]:
        """The server user's own processes, newest first, but for this server's tree
        (`query`: a case-insensitive part of the name or command line)."""
        return await self._off_loop(own_processes, os.getpid(), query)

    async def read_output(self, session_id: str, since: int, limit: int) -> dict[str, Any]:
        """Captured output of a live or recorded session."""
        session = self.sessions.get(session_id)
        if session is not None:
            return await session.output.read(since, limit)
        if await self.store.get_session(session_id) is None:
            raise SessionNotFound(f"no debug session with id {session_id!r}")
        items = await self.store.read_output(session_id, since, limit)
        # (A live session's OutputLog knows whether it trimmed; after a restart, the store.)
        return {"items": items, "next": items[-1]["seq"] if items else since,
                "truncated": await self.store.output_trimmed(session_id)}

    async def require(self, session_id: str) -> None:
        """Raise SessionNotFound unless a session with this id is live or recorded."""
        if session_id not in self.sessions and await self.store.get_session(session_id) is None:
            raise SessionNotFound(f"no debug session with id {session_id!r}")

    async def read_snapshots(self, session_id: str, since: int, limit: int) -> dict[str, Any]:
        """A page of the stop history of a live or recorded session."""
        session = self.sessions.get(session_id)
        if session is not None:
            return await session.snapshots.log.read(since, limit)
        await self.require(session_id)
        return await read_stored(self.store, session_id, since, limit)

    async def snapshot(self, session_id: str, seq: int) -> dict[str, Any]:
        """One snapshot of a live or recorded session (404 naming the ones there are)."""
        session = self.sessions.get(session_id)
        if session is not None:
            return await session.snapshots.log.get(seq)
        await self.require(session_id)
        return await get_stored(self.store, session_id, seq)


def stored_model(row: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A session model rebuilt from its stored row (a session of an earlier server, or
    of another server sharing the database: then as it was last stored)."""
    root = f"{base_url.rstrip('/')}/api/debug/sessions/{row['id']}"
    return {
        "id": row["id"], "name": row["name"], "debugger": row["debugger"],
        "request": row["request"], "state": row["state"], "pid": row.get("pid"),
        "exit_code": row.get("exit_code"), "created": row["created"],
        "updated": row["updated"], "owner": row["owner"], "stopped": row.get("stopped"),
        # (Rows of older versions may hold a worker's traceback: show its sentence only.)
        "error": without_traceback(row["error"]) if row.get("error") else None,
        "clients": 0, "spec": row.get("spec") or {},
        "links": {"self": root, "output": f"{root}/output",
                  "snapshots": f"{root}/snapshots"},
    }


def server_columns(pid: int) -> dict[str, Any]:
    """The columns of a session's row that name the server `pid` as the one running it:
    its pid, start time and boot (blocking: reads /proc)."""
    return {"server_pid": pid, "server_start_time": process_start_time(pid),
            "boot_id": boot_id()}


def run_by_other_server(row: dict[str, Any]) -> int | None:
    """The pid of the other live server that runs the session of `row`, or None: no
    server runs it, or its row predates the record of servers (blocking: reads /proc)."""
    pid, started = row.get("server_pid"), row.get("server_start_time")
    if not pid or started is None or pid == os.getpid():
        # A row of this very process that the manager does not run is a former manager's
        # (an app restarted in-process), which runs nothing now.
        return None
    if row.get("boot_id") is None or row["boot_id"] != boot_id():
        return None  # start times count from boot: a server of another boot is gone
    # A pid alone may have been reused (or be a zombie): its start time must match.
    return int(pid) if is_running(pid, started) else None


def _reap_survivors(row: dict[str, Any]) -> None:
    """SIGKILL the worker and target groups of a stored session if they still run."""
    if not (row.get("worker_pid") or row.get("pid")):
        return
    if row.get("boot_id") is None or row["boot_id"] != boot_id():
        # Start times count from boot: after a reboot, or without a record of the boot,
        # pid and start time could match an unrelated process.
        log.info("Not reaping the processes of session %s: they were started in another "
                 "boot (or before boot ids were recorded)", row["id"])
        return
    # The debuggers' groups first: their leaders must still live to be matched, and a
    # debugger dies with its worker (PR_SET_PDEATHSIG) while its children (lldb-server)
    # would stay in the group, leaderless.
    groups = [(g[0], g[1]) for g in row.get("process_groups") or []
              if isinstance(g, list) and len(g) == 2]
    for key in ("worker", "pid"):
        pid = row.get("worker_pid" if key == "worker" else "pid")
        started = row.get("worker_start_time" if key == "worker" else "pid_start_time")
        if pid and started is not None:
            groups.append((pid, started))
    for pid, started in groups:
        # A pid alone may have been reused by an unrelated process: match start time.
        if process_start_time(pid) == started:
            log.warning("Reaping process group %d left by session %s", pid, row["id"])
            kill_group(pid, signal.SIGKILL)
