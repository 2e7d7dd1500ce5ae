"""Find the Jupyter server to talk to: options, environment, or Jupyter's runtime files."""

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
    """The server from `url`/`token`, else the environment, else the newest running server.

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
    for info in running_servers(folder):
        if info["url"].startswith(("http://", "https://")):  # not http+unix sockets
            return ServerInfo(info["url"], token if token is not None else
                              str(info.get("token") or ""), f"runtime file of pid "
                              f"{info.get('pid')} in {folder}")
    raise ServerNotFound(
        "no Jupyter server found: tried --url and --token, the environment variables "
        f"{URL_ENV} and {TOKEN_ENV} (not set), and Jupyter's runtime files "
        f"{folder}/jpserver-*.json (no running server with an http(s) URL; set "
        "JUPYTER_RUNTIME_DIR if the server uses another one). Start one with "
        "`jupyter-debug-server serve`, or pass --url and --token.")


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
