"""Find the Jupyter server to talk to: options, environment, or Jupyter's runtime files.

The order: explicit `url`/`token`, then the environment variables, then (inside a kernel)
the runtime file of the server that started the kernel, then the newest running server.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_runtime_dir

from .errors import ServerNotFound

URL_ENV = "JUPYTER_DEBUG_SERVER_URL"
TOKEN_ENV = "JUPYTER_DEBUG_SERVER_TOKEN"
#: Set by jupyter_server in the environment of every kernel it starts: the server's pid.
PARENT_PID_ENV = "JPY_PARENT_PID"


@dataclass(frozen=True)
class ServerInfo:
    """Where a server is and how to authenticate; `source` says how it was found."""

    url: str
    token: str
    source: str


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, but another user's
    return True


def _runtime_dir() -> Path:
    return Path(jupyter_runtime_dir())


def running_servers(runtime_dir: Path | None = None) -> list[dict[str, Any]]:
    """The `jpserver-*.json` files of running servers, newest first (files are not removed)."""
    folder = runtime_dir or _runtime_dir()
    found: list[tuple[float, dict[str, Any]]] = []
    for path in folder.glob("jpserver-*.json"):
        try:
            info = json.loads(path.read_text())
            mtime = path.stat().st_mtime
        except (OSError, ValueError):
            continue  # being written, or vanished: not a usable server anyway
        if not isinstance(info, dict) or not isinstance(info.get("url"), str):
            continue
        pid = info.get("pid")
        if isinstance(pid, int) and not _pid_alive(pid):
            continue
        found.append((mtime, info))
    found.sort(key=lambda item: item[0], reverse=True)
    return [info for _, info in found]


def discover(url: str | None = None, token: str | None = None, *,
             environ: dict[str, str] | None = None) -> ServerInfo:
    """The server from `url`/`token`, else the environment, else the server that started
    this kernel (`JPY_PARENT_PID`), else the newest running server.

    Each part falls back on its own: `--url` with the token from the environment works,
    and a URL without a token takes the token of the runtime file with that URL.
    """
    env = os.environ if environ is None else environ
    token = token if token is not None else env.get(TOKEN_ENV) or None
    if url:
        return ServerInfo(url, token if token is not None else _token_for(url), "--url")
    if env.get(URL_ENV):
        return ServerInfo(env[URL_ENV], token if token is not None else _token_for(env[URL_ENV]),
                          f"${URL_ENV}")
    folder = _runtime_dir()
    parent = parent_server(env.get(PARENT_PID_ENV), folder)
    if parent is not None:
        # On JupyterHub this is the single-user server's file: its token is the one the
        # API accepts there (JUPYTERHUB_API_TOKEN), its URL the server's internal one.
        return ServerInfo(parent["url"], token if token is not None else
                          str(parent.get("token") or ""), f"runtime file of the kernel's "
                          f"server (${PARENT_PID_ENV}={parent['pid']}) in {folder}")
    for info in running_servers(folder):
        if _is_http(info):
            return ServerInfo(info["url"], token if token is not None else
                              str(info.get("token") or ""), f"runtime file of pid "
                              f"{info.get('pid')} in {folder}")
    raise ServerNotFound(
        "no Jupyter server found: tried --url and --token, the environment variables "
        f"{URL_ENV} and {TOKEN_ENV} (not set), and Jupyter's runtime files "
        f"{folder}/jpserver-*.json (no running server with an http(s) URL; set "
        "JUPYTER_RUNTIME_DIR if the server uses another one). Start one with "
        "`jupyter-debug-server serve`, or pass --url and --token.")


def parent_server(pid_text: str | None, runtime_dir: Path | None = None) -> dict[str, Any] | None:
    """The runtime file `jpserver-<pid>.json` of the server with pid `pid_text` (the
    kernel's `JPY_PARENT_PID`), if that server runs and serves http(s); else None.

    A kernel started by another program (a bare `jupyter console`) has a parent pid too:
    without such a file the other rules apply.
    """
    if not pid_text or not pid_text.strip().isdigit():
        return None
    pid = int(pid_text)
    path = (runtime_dir or _runtime_dir()) / f"jpserver-{pid}.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # no such file (not a Jupyter server), or one being written
    if not isinstance(info, dict) or not _is_http(info) or not _pid_alive(pid):
        return None
    info.setdefault("pid", pid)
    return info


def _is_http(info: dict[str, Any]) -> bool:
    url = info.get("url")
    return isinstance(url, str) and url.startswith(("http://", "https://"))  # not http+unix


def _token_for(url: str) -> str:
    """The token of the running server whose runtime file has `url`, else empty."""
    want = url.rstrip("/")
    try:
        for info in running_servers():
            if info["url"].rstrip("/") == want:
                return str(info.get("token") or "")
    except OSError:
        pass
    return ""
