"""A real ``jupyter lab`` subprocess for the browser tests, with its own Jupyter dirs.

The server's output (stdout and stderr, one stream) is read on a thread of its own, kept
in memory for the tests' checks and written to ``build/ui-tests/logs/<name>.log``.
Readiness is two log lines, never a polling loop: jupyter_server's "is running at" (which
also names the port, as ``--ServerApp.port=0`` lets the OS choose it), then the
extension's "jupyter_debug_server: store" line. The latter is logged from the first task
of the running event loop, which comes after the callback that binds the port: once it is
seen, the server accepts connections and our extension is loaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "build" / "ui-tests"
#: The extension's build output in this checkout (what `jlpm build:prod` writes).
REPO_LABEXTENSION = REPO_ROOT / "jupyter_debug_server" / "labextension"
LABEXTENSION_NAME = "jupyter-debug-server"
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}

_RUNNING_RE = re.compile(r"is running at")
_URL_RE = re.compile(r"http://127\.0\.0\.1:(\d+)/")
_READY_MARK = "jupyter_debug_server: store"


def ui_python() -> str:
    """The Python whose ``jupyter lab`` is tested: $JDS_UI_PYTHON, else this one."""
    return os.environ.get("JDS_UI_PYTHON") or sys.executable


def use_repo_build() -> bool:
    """Whether the server should serve this checkout's extension build.

    In the development venv (no $JDS_UI_PYTHON) the extension in the venv's
    share/jupyter is a copy made by the editable install, and goes stale at the next
    `jlpm build:prod`: the repo's build is linked into the server's own data dir, which
    JupyterLab searches first. With $JDS_UI_PYTHON (an installed wheel) nothing is
    linked: the test is of what the wheel installed.
    """
    if os.environ.get("JDS_UI_PYTHON"):
        return False
    return (REPO_LABEXTENSION / "package.json").is_file()


class LabServer:
    """One ``jupyter lab`` process: start, wait for it, read its log, stop it."""

    def __init__(self, name: str, root_dir: Path, work_dir: Path,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.name = name
        self.root_dir = root_dir
        self.work_dir = work_dir
        self.extra_args = extra_args
        self.token = secrets.token_hex(24)
        self.port: int | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = ARTIFACTS / "logs" / f"{name}.log"
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._running = False
        self._ready = False
        self._ended = False
        self._reader: threading.Thread | None = None

    # -- environment -------------------------------------------------------------------

    def _prepare_dirs(self) -> dict[str, str]:
        """Make the server's own config, data, runtime and home dirs; return their env."""
        dirs = {key: self.work_dir / sub for key, sub in (
            ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"), ("HOME", "home"))}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        labconfig = dirs["JUPYTER_CONFIG_DIR"] / "labconfig"
        labconfig.mkdir(exist_ok=True)
        (labconfig / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
        if use_repo_build():
            # JUPYTER_DATA_DIR comes first in JupyterLab's labextensions path, and the
            # first extension of a name found wins: this link shadows the venv's copy.
            # The env's own share/jupyter (sys.prefix) is still searched after it.
            labext = dirs["JUPYTER_DATA_DIR"] / "labextensions"
            labext.mkdir(exist_ok=True)
            link = labext / LABEXTENSION_NAME
            if not link.exists():
                link.symlink_to(REPO_LABEXTENSION, target_is_directory=True)
        return {key: str(path) for key, path in dirs.items()}

    # -- process -----------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it serves our routes (or fail with its log)."""
        env = dict(os.environ)
        env.pop("JUPYTER_PATH", None)
        env.update(self._prepare_dirs())
        env["JUPYTER_TOKEN"] = self.token  # through the environment: not in argv
        env["PYTHONUNBUFFERED"] = "1"
        argv = [
            ui_python(), "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
            *self.extra_args,
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--allow-root")  # CI containers run as root
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env=env, cwd=self.root_dir,
            start_new_session=True)
        self._reader = threading.Thread(target=self._read, name=f"log-{self.name}",
                                        daemon=True)
        self._reader.start()
        with self._changed:
            self._changed.wait_for(lambda: self._ready or self._ended, timeout)
            ready, ended = self._ready, self._ended
        if not ready:
            self.stop()
            why = "exited during startup" if ended else f"was not ready in {timeout:g} s"
            raise RuntimeError(f"jupyter lab ({' '.join(argv[:4])}) {why}:\n"
                               + self.tail(40))

    def _read(self) -> None:
        """Reader thread: keep each line, write it to the log file, note the marks."""
        assert self.proc is not None and self.proc.stdout is not None
        with self.log_path.open("w") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                with self._changed:
                    self._lines.append(line.rstrip("\n"))
                    if _RUNNING_RE.search(line):
                        self._running = True
                    match = _URL_RE.search(line)
                    if self._running and self.port is None and match:
                        self.port = int(match.group(1))
                    if self.port is not None and _READY_MARK in line:
                        self._ready = True
                    self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the server (it ends its sessions), SIGKILL its group if it hangs."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        if self._reader is not None:
            self._reader.join(timeout=10)

    # -- log ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def mark(self) -> int:
        """The number of log lines so far (for `lines(since=...)`)."""
        with self._changed:
            return len(self._lines)

    def lines(self, since: int = 0) -> list[str]:
        with self._changed:
            return self._lines[since:]

    def tail(self, count: int = 30) -> str:
        return "\n".join(self.lines()[-count:])

    def tracebacks(self, since: int = 0) -> list[str]:
        """Each "Traceback" in the log since line `since`, with the lines after it."""
        lines = self.lines(since)
        return ["\n".join(lines[i:i + 25]) for i, line in enumerate(lines)
                if "Traceback" in line]
