"""A real JupyterHub for the tests: the hub and its configurable-http-proxy on free ports,
single-user servers with this extension, per-user API tokens, and a log gate.

The hub runs from its own virtualenv (scripts/hub_setup.sh builds it; its path is in
$JDS_HUB_VENV or the script's last line), never in this test process: hub and proxy are
child processes driven over HTTP, as an operator's browser or script would drive them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

REPO = Path(__file__).resolve().parents[2]
PROXY = REPO / "tests" / "hub" / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
TARGETS = REPO / "tests" / "targets"
_RUNNING = re.compile(r"JupyterHub is now running at (?P<url>\S+)")
# Log lines that mean something broke: a traceback anywhere (hub, proxy or a single-user
# server), ERROR/CRITICAL records in the hub's and jupyter_server's log format, and the
# proxy's errors (its level is colored on a terminal).
_BAD = re.compile(r"Traceback \(most recent call last\)|^\[(E|C) \d{4}-"
                  r"|\[ConfigProxy\] (\x1b\[\d+m)?error")
# The proxy logs a peer that reset a proxied WebSocket as an uncaught exception (an open
# upstream issue, jupyterhub/jupyterhub#3355): two lines, no request named. The suite's
# own clients close their sockets cleanly (test_alice.py's CLI test fails on a reset);
# under load on the machine one was still seen twice in about 40 runs, both right after a
# forward's IDE left during a step, so these two lines are counted in build/hub/report,
# not failed on. A
# reset that costs a request is logged with its status (`503 GET … read ECONNRESET`) and
# still fails the test.
PEER_RESET = ("Uncaught Exception: read ECONNRESET", "Error: read ECONNRESET")


def free_port() -> int:
    """A TCP port nobody listens on right now (the hub and proxy bind it next)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hub_venv() -> Path:
    """The hub's virtualenv, as scripts/hub_setup.sh left it ($JDS_HUB_VENV or build/)."""
    venv = Path(os.environ.get("JDS_HUB_VENV") or REPO / "build" / "hub" / "venv")
    if not (venv / "bin" / "jupyterhub").exists():
        raise RuntimeError(f"no JupyterHub in {venv}: run scripts/hub_setup.sh first (it "
                           "prints the venv's path; export it as JDS_HUB_VENV)")
    return venv


@dataclass
class HubLog:
    """Every line the hub, its proxy and the single-user servers wrote (they share the
    hub's stdout and stderr); waiters are woken per line, nothing polls."""

    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    closed: bool = False

    def add(self, line: str) -> None:
        with self.changed:
            self.lines.append(line)
            self.changed.notify_all()

    def close(self) -> None:
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """The first line matching `pattern`; fails when the hub exits or time runs out."""
        deadline = time.monotonic() + timeout
        index = 0
        with self.changed:
            while True:
                for line in self.lines[index:]:
                    if match := pattern.search(line):
                        return match
                index = len(self.lines)
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    raise RuntimeError(f"the hub {'exited' if self.closed else 'timed out'} "
                                       f"before logging {pattern.pattern!r}:\n"
                                       + "".join(self.lines[-60:]))
                self.changed.wait(left)

    def mark(self) -> int:
        with self.changed:
            return len(self.lines)

    def bad_since(self, mark: int, allowed: tuple[str, ...] = ()) -> list[str]:
        """Lines after `mark` that show a traceback or an ERROR, except `allowed` ones and
        the proxy's peer resets (see PEER_RESET)."""
        with self.changed:
            lines = self.lines[mark:]
        return [line for line in lines if _BAD.search(line)
                and not any(a in line for a in (*allowed, *PEER_RESET))]

    def peer_resets_since(self, mark: int) -> int:
        """How many peer resets the proxy logged after `mark` (see PEER_RESET)."""
        with self.changed:
            return sum(PEER_RESET[0] in line for line in self.lines[mark:])


@dataclass
class HubOptions:
    """What differs between the hubs of the suite."""

    users: tuple[str, ...]
    #: "simple" (servers as the hub's user, a home per user under the hub's folder) or
    #: "localprocess" (servers as the OS users of those names: root only).
    spawner: str = "simple"


class Hub:
    """One JupyterHub with its proxy; `start()`, then `token(user)` and `spawn(user)`."""

    def __init__(self, options: HubOptions, workdir: Path) -> None:
        self.options = options
        self.venv = hub_venv()
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = HubLog()
        self.proc: subprocess.Popen[str] | None = None
        self._tokens: dict[str, str] = {}
        # The single-user servers' configuration. Every spawned user reads it (as another
        # OS user with the localprocess spawner), so it lives in a folder of its own that
        # anyone may read; it holds no secret.
        self.server_config_dir = Path(tempfile.mkdtemp(prefix="jds-hub-config-"))
        self.server_config_dir.chmod(0o755)

    # -- life cycle ---------------------------------------------------------------

    def home(self, user: str) -> Path:
        """The user's home, where their server's root_dir and store live."""
        if self.options.spawner == "simple":
            return self.workdir / "home" / user
        return Path(os.path.expanduser(f"~{user}"))

    def start(self, timeout: float = 90) -> None:
        """Start the hub and wait for its 'now running' line (the proxy is up by then)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "jupyterhub_config.py"
        config.write_text(self._hub_config())
        (self.server_config_dir / "jupyter_server_config.py").write_text(SERVER_CONFIG)
        env = dict(os.environ, PATH=f"{self.venv / 'bin'}:{os.environ.get('PATH', '')}")
        # The test process's own Jupyter folders must not leak into the hub or its servers.
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                     "VIRTUAL_ENV", "PYTHONPATH", "JUPYTERHUB_API_TOKEN", "JUPYTER_TOKEN"):
            env.pop(name, None)
        # setpriv execs the hub with a parent-death signal: a killed test run leaves no hub
        # behind (on SIGTERM the hub stops the servers it spawned).
        die_with_us = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []
        self.proc = subprocess.Popen(
            [*die_with_us, str(self.venv / "bin" / "jupyterhub"), "-f", str(config)],
            cwd=self.workdir,
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True, name="hub-log").start()
        self.log.wait_for(_RUNNING, timeout)

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.add(line)
        self.log.close()

    def stop(self, timeout: float = 60) -> None:
        """Stop the hub (it stops the servers it spawned), then anything left of its tree."""
        if self.proc is None:
            return
        try:
            tree = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        # Servers, workers and targets that outlived the hub (none should) do not outlive
        # the test run.
        for proc in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(tree, timeout=timeout)
        shutil.rmtree(self.server_config_dir, ignore_errors=True)

    def _hub_config(self) -> str:
        venv = self.venv
        spawner = self.options.spawner
        lines = [
            "c.JupyterHub.ip = '127.0.0.1'",
            f"c.JupyterHub.port = {self.port}",
            "c.JupyterHub.hub_ip = '127.0.0.1'",
            f"c.JupyterHub.hub_port = {free_port()}",
            f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{free_port()}'",
            f"c.ConfigurableHTTPProxy.command = [{str(PROXY)!r}]",
            f"c.JupyterHub.db_url = 'sqlite:///{self.workdir / 'jupyterhub.sqlite'}'",
            f"c.JupyterHub.cookie_secret_file = {str(self.workdir / 'cookie_secret')!r}",
            f"c.JupyterHub.pid_file = {str(self.workdir / 'jupyterhub.pid')!r}",
            "c.JupyterHub.authenticator_class = 'dummy'",
            f"c.Authenticator.allowed_users = {set(self.options.users)!r}",
            f"c.JupyterHub.spawner_class = {spawner!r}",
            # The single-user server of the hub's venv, which has this extension installed.
            f"c.Spawner.cmd = [{str(venv / 'bin' / 'jupyterhub-singleuser')!r}]",
            "c.Spawner.start_timeout = 90",
            "c.Spawner.http_timeout = 90",
            f"c.Spawner.environment = {{'JUPYTER_CONFIG_DIR': "
            f"{str(self.server_config_dir)!r}}}",
            # Errors are what the gate reads: the hub's own debug chatter is not needed.
            "c.JupyterHub.log_level = 'INFO'",
        ]
        if spawner == "simple":
            home = self.workdir / "home"
            lines.append(f"c.SimpleLocalProcessSpawner.home_dir_template = "
                         f"{str(home)!r} + '/{{username}}'")
        return "\n".join(lines) + "\n"

    # -- the hub's REST API ---------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, token: str | None = None,
                timeout: float = 60) -> tuple[int, Any]:
        """One request to the hub (through the proxy, as any client): (status, JSON)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"token {token}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, None if body is None else json.dumps(body), headers)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = text
        return response.status, data

    def token(self, user: str) -> str:
        """An API token of `user`, asked for with the user's own credentials (the dummy
        authenticator takes any password): it carries the user's permissions, among them
        `access:servers!user=<user>`."""
        if user not in self._tokens:
            status, model = self.request(
                "POST", f"/hub/api/users/{user}/tokens",
                {"auth": {"username": user, "password": "any"}, "note": "jds hub tests"})
            assert status == 201, (status, model)
            self._tokens[user] = str(model["token"])
        return self._tokens[user]

    def spawn(self, user: str, timeout: float = 120) -> str:
        """Start the user's server with their own token; its URL once the hub says it is
        ready (read from the spawn's progress event stream, not by polling)."""
        token = self.token(user)
        status, body = self.request("POST", f"/hub/api/users/{user}/server", {}, token)
        assert status in (201, 202), (status, body)
        if status == 202:
            self._await_ready(user, token, timeout)
        status, model = self.request("GET", f"/hub/api/users/{user}", token=token)
        assert status == 200 and model["servers"][""]["ready"], (status, model)
        return f"{self.url}/user/{user}"

    def _await_ready(self, user: str, token: str, timeout: float) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", f"/hub/api/users/{user}/server/progress",
                         headers={"Authorization": f"token {token}",
                                  "Accept": "text/event-stream"})
            response = conn.getresponse()
            assert response.status == 200, (response.status, response.read())
            for raw in response:
                line = raw.decode().strip()
                if not line.startswith("data:"):
                    continue  # the blank line after an event, or a keep-alive
                event = json.loads(line[len("data:"):])
                if event.get("failed"):
                    raise RuntimeError(f"{user}'s server failed to start: {event}\n"
                                       + "".join(self.log.lines[-60:]))
                if event.get("ready"):
                    return
            raise RuntimeError(f"the progress stream of {user}'s server ended unready")
        finally:
            conn.close()

    def server_pid(self, user: str) -> int:
        """The pid of the user's single-user server (a child of the hub)."""
        assert self.proc is not None
        for proc in psutil.Process(self.proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                cmd = proc.cmdline()
                if any("jupyterhub-singleuser" in part for part in cmd) and (
                        proc.environ().get("JUPYTERHUB_USER") == user):
                    return int(proc.pid)
        raise AssertionError(f"no single-user server of {user} among the hub's children")


def hub_host_port(url: str) -> tuple[str, int]:
    """Host and port of an http URL."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", int(parts.port or 80)


#: Hubs running now (conftest.py's log gate reads each of them around every test).
RUNNING: list[Hub] = []


def seed_home(home: Path, uid: int = -1, gid: int = -1) -> None:
    """Put the test programs into a user's home (their server's root_dir)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copytree(TARGETS, home / "targets", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    if uid >= 0:
        for path in [home, *home.rglob("*")]:
            os.chown(path, uid, gid)


@contextlib.contextmanager
def running_hub(options: HubOptions, workdir: Path) -> Iterator[Hub]:
    """A started hub, stopped (with everything it spawned) on the way out."""
    hub = Hub(options, workdir)
    try:
        hub.start()
        yield hub
    finally:
        hub.stop()


# The single-user servers' jupyter_server_config.py (JUPYTER_CONFIG_DIR of every spawn).
SERVER_CONFIG = '''\
"""Single-user servers of the hub tests: the debug extension, and nothing unauthenticated."""
import warnings

from jupyter_server.utils import JupyterServerAuthWarning

# A handler without an authentication decorator is a warning in jupyter_server; here it
# fails the extension's start, so the tests cannot pass around one.
warnings.filterwarnings("error", category=JupyterServerAuthWarning)
c.ServerApp.allow_unauthenticated_access = False
# jupyter_server_terminals breaks the single-user servers of this hub and has nothing to
# do with debugging: off.
c.ServerApp.jpserver_extensions = {"jupyter_debug_server": True,
                                   "jupyter_server_terminals": False}
# The simple spawner runs servers as the hub's user, which is root in CI.
c.ServerApp.allow_root = True
c.DebugServerApp.shutdown_timeout = 3.0
'''
