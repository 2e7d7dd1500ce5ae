"""`serve [--demo]`: a Jupyter server with the extension (JupyterLab when installed),
optionally with a demo session that JupyterLab opens on.

The demo session is launched like any other: through the client library and the REST
API of the server just started (so it lands in the server's own store, the embedded
SQLite database by default), and it is left stopped at the demo program's breakpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import secrets
import shlex
import shutil
import ssl
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ..client import DebugServerClient, Json

DEMO_DIR = "debug_demo"
DEMO_PROGRAM = Path(__file__).parent.parent / "examples" / "demo.py"
#: The demo's env file (the server's URL and token), in Jupyter's runtime directory:
#: never inside root_dir, where the server would serve it.
DEMO_ENV = "jupyter-debug-server-demo.env"
#: How long the demo waits for its session to reach the breakpoint, in seconds.
DEMO_TIMEOUT = 30
# Addresses that mean "every interface": the demo's client reaches them on loopback.
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def _demo_line() -> int:
    for number, line in enumerate(DEMO_PROGRAM.read_text().splitlines(), 1):
        if line.rstrip().endswith("# DEMO-BREAKPOINT"):
            return number
    raise RuntimeError("the demo program has no DEMO-BREAKPOINT line")


def _prepare_demo(root: Path) -> tuple[Path, int]:
    """Copy the bundled demo program into the server's root dir; (its path there, the
    line of its breakpoint)."""
    folder = root / DEMO_DIR
    folder.mkdir(exist_ok=True)
    target = folder / "demo.py"
    shutil.copyfile(DEMO_PROGRAM, target)
    return target, _demo_line()


def _print_demo(url: str, model: Json, env_file: Path, lab_url: str | None) -> None:
    stop = model.get("stopped") or {}
    lab_line = (f"JupyterLab with the Debug Sessions panel on this session (the URL holds the "
                f"server's token, as Jupyter's own start-up lines do):\n  {lab_url}\n\n"
                if lab_url else
                f"Open {url}?token=... in a browser for Jupyter itself (install the `lab` "
                "extra for JupyterLab and its Debug Sessions panel).\n")
    sid = model["id"]
    auth = '-H "Authorization: token $JDS_TOKEN"'
    print(f"""
Demo session {sid} is {model['state']} at {stop.get('path')}:{stop.get('line')} \
(reason: {stop.get('reason')}).

The server's URL and token are in {env_file} (mode 0600). In another terminal:

  source {shlex.quote(str(env_file))}
  curl -sS {auth} "$JDS_URL/api/debug/sessions/$JDS_SESSION"
  curl -sS {auth} "$JDS_URL/api/debug/sessions/$JDS_SESSION/stack"
  curl -sS {auth} "$JDS_URL/api/debug/sessions/$JDS_SESSION/variables"
  curl -sS {auth} -d '{{"kind": "over"}}' "$JDS_URL/api/debug/sessions/$JDS_SESSION/step"
  curl -sS {auth} -d '{{"expression": "numbers[-3:]"}}' \
"$JDS_URL/api/debug/sessions/$JDS_SESSION/evaluate"
  curl -sS {auth} -X POST "$JDS_URL/api/debug/sessions/$JDS_SESSION/continue"
  curl -sS {auth} "$JDS_URL/api/debug/sessions/$JDS_SESSION/output"

{lab_line}Press Ctrl-C to stop the server (every debug session is ended cleanly).
""", flush=True)


def _own_url(app: Any) -> str:
    """The URL at which this process reaches the server it runs: its address (loopback
    for a wildcard), port and base_url."""
    ip = _WILDCARDS.get(app.ip, app.ip)
    host = f"[{ip}]" if ":" in ip else ip
    scheme = "https" if app.certfile else "http"
    return f"{scheme}://{host}:{app.port}{app.base_url}".rstrip("/")


def _own_tls(app: Any) -> ssl.SSLContext | None:
    """TLS for the demo's client to its own server: the server's certificate is trusted
    (it may be self-signed). The host name is not checked: the client connects by
    address to the port this process has just bound, which the certificate rarely names."""
    if not app.certfile:
        return None
    context = ssl.create_default_context()
    context.load_verify_locations(app.certfile)
    context.check_hostname = False
    return context


def launch_demo(url: str, token: str, program: str, line: int,
                ssl_context: ssl.SSLContext | None = None) -> Json:
    """Launch the demo program with a breakpoint at `line` through the REST API and wait
    until it stops there (or ends); its model then. Blocking: run it in a thread."""
    with DebugServerClient(url, token, ssl_context=ssl_context) as client:
        model = client.create_session({
            "debugger": "debugpy", "name": "demo", "program": program,
            "breakpoints": [{"path": program, "line": line}],
        })
        return client.wait_settled(str(model["id"]), DEMO_TIMEOUT)


def lab_available() -> bool:
    """Whether JupyterLab is installed (then `serve` opens it, with the panel)."""
    return importlib.util.find_spec("jupyterlab") is not None


async def _start_demo(app: Any, env_file: Path, browser: bool) -> None:
    """Launch the demo session on the running server, print how to drive it, and open
    JupyterLab on it."""
    root = Path(app.root_dir)
    program, line = await asyncio.to_thread(_prepare_demo, root)
    token = app.identity_provider.token
    model = await asyncio.to_thread(launch_demo, _own_url(app), token,
                                    str(program.relative_to(root)), line, _own_tls(app))
    url = app.connection_url.rstrip("/")
    await asyncio.to_thread(write_private, env_file, f"export JDS_URL={shlex.quote(url)}\n"
                            f"export JDS_TOKEN={shlex.quote(token)}\n"
                            f"export JDS_SESSION={shlex.quote(str(model['id']))}\n")
    lab_url = None
    if lab_available():
        # `?debug-session=` makes the panel open with this session selected.
        query = urlencode({"debug-session": model["id"]})
        app.default_url = f"{app.base_url.rstrip('/')}/lab?{query}"
        lab_url = f"{url}/lab?{query}&{urlencode({'token': token})}"
        if browser:
            # Jupyter's own way: a redirect file in the runtime dir (mode 0600) holds the
            # token, so that it never appears on a browser's command line.
            app.write_browser_open_files()
            app.launch_browser()
    _print_demo(url, model, env_file, lab_url)


def write_private(path: Path, text: str) -> None:
    """Make `path` a new file of mode 0600 holding `text`, whatever was there before.

    The text goes to a new file opened with O_CREAT|O_EXCL|O_NOFOLLOW (never an existing
    file, never through a symlink someone planted), which is then renamed over `path`:
    a stale file or a symlink at `path` is replaced, never written through.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)  # whatever the umask
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def serve(options: argparse.Namespace) -> int:
    """Run a Jupyter server with the extension (blocks until Ctrl-C)."""
    # Imported here, not at the top: jupyter_server's app takes most of a second to
    # import, and every other command (list, step, …) should start without it.
    from jupyter_server.serverapp import ServerApp  # noqa: PLC0415 (see above)

    root = Path(options.root_dir or os.getcwd()).resolve()
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24)
    argv = [
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.port={options.port}",
        f"--ServerApp.ip={options.ip}",
        "--ServerApp.open_browser=False",
        "--ServerApp.jpserver_extensions={'jupyter_debug_server': True}",
    ]
    if lab_available():
        argv.append("--ServerApp.default_url=/lab")
    if os.geteuid() == 0:
        argv.append("--allow-root")
    argv.extend(options.jupyter_args)
    os.environ["JUPYTER_TOKEN"] = token  # read by the identity provider, never put on argv
    app = ServerApp.instance()
    app.initialize(argv=argv)
    if options.demo:
        env_file = Path(app.runtime_dir) / DEMO_ENV  # created by Jupyter, mode 0700

        def kick() -> None:
            task = asyncio.ensure_future(_start_demo(app, env_file, not options.no_browser))
            task.add_done_callback(_report_failure)

        app.io_loop.add_callback(kick)
    app.start()
    return 0


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        print(f"error: the demo session could not start: {task.exception()}", file=sys.stderr)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `serve` to the CLI's subparsers (it talks to no server: it starts one)."""
    del common  # serve has no connection options
    p = sub.add_parser("serve", help="start a Jupyter server with the extension")
    p.add_argument("--demo", action="store_true",
                   help="also launch a demo debugpy session stopped at a breakpoint")
    p.add_argument("--no-browser", action="store_true",
                   help="do not open JupyterLab in a web browser once the demo is ready")
    p.add_argument("--port", type=int, default=8888, help="port (the next free one is used)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    p.add_argument("--root-dir", help="the server's root directory (default: current)")
    p.add_argument("jupyter_args", nargs="*", help="further ServerApp options, after --")
    p.set_defaults(func=serve)
