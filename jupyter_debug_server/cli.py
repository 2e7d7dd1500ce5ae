"""`jupyter debug-server` / `jupyter-debug-server`: the command line.

`serve` starts a Jupyter server with the extension (optionally with a demo session
stopped at a breakpoint). The session commands (`launch`, `list`, `step`, …, in
`cli_commands.py`) are thin wrappers over the client library and find the server by
`--url`/`--token`, `JUPYTER_DEBUG_SERVER_URL`/`JUPYTER_DEBUG_SERVER_TOKEN`, or Jupyter's
runtime files.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import cli_commands, cli_forward, cli_tokens
from .client import TOKEN_ENV, URL_ENV, DebugServerClient, DebugServerClientError, discover

DEMO_DIR = "debug_demo"
DEMO_PROGRAM = Path(__file__).parent / "examples" / "demo.py"
#: The demo's env file (the server's URL and token), in Jupyter's runtime directory:
#: never inside root_dir, where the server would serve it.
DEMO_ENV = "jupyter-debug-server-demo.env"


def _demo_line() -> int:
    for number, line in enumerate(DEMO_PROGRAM.read_text().splitlines(), 1):
        if line.rstrip().endswith("# DEMO-BREAKPOINT"):
            return number
    raise RuntimeError("the demo program has no DEMO-BREAKPOINT line")


def _prepare_demo(root: Path) -> Path:
    """Copy the bundled demo program into the server's root dir."""
    folder = root / DEMO_DIR
    folder.mkdir(exist_ok=True)
    target = folder / "demo.py"
    shutil.copyfile(DEMO_PROGRAM, target)
    return target


def _print_demo(url: str, token: str, model: dict[str, Any], env_file: Path) -> None:
    stop = model.get("stopped") or {}
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

Open {url}?token=... in a browser for Jupyter itself. Press Ctrl-C to stop the server
(every debug session is ended cleanly).
""", flush=True)


async def _start_demo(app: Any, env_file: Path) -> None:
    """Create the demo session through the extension and print how to drive it."""
    root = Path(app.root_dir)
    program = _prepare_demo(root)
    ext = app.web_app.settings["debug_app"]
    manager = await ext.ready()
    line = _demo_line()
    session = await manager.create({
        "debugger": "debugpy", "name": "demo",
        "program": str(program.relative_to(root)),
        "breakpoints": [{"path": str(program.relative_to(root)), "line": line}],
    }, owner="demo")
    await session.wait_for(lambda: session.state not in {"running", "starting"},
                           30)
    url = app.connection_url.rstrip("/")
    write_private(env_file, f"export JDS_URL={shlex.quote(url)}\n"
                  f"export JDS_TOKEN={shlex.quote(app.identity_provider.token)}\n"
                  f"export JDS_SESSION={shlex.quote(session.id)}\n")
    _print_demo(url, app.identity_provider.token, session.model(), env_file)


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
    from jupyter_server.serverapp import ServerApp

    root = Path(options.root_dir or os.getcwd()).resolve()
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24)
    argv = [
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.port={options.port}",
        f"--ServerApp.ip={options.ip}",
        "--ServerApp.open_browser=False",
        "--ServerApp.jpserver_extensions={'jupyter_debug_server': True}",
    ]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    argv.extend(options.jupyter_args)
    os.environ["JUPYTER_TOKEN"] = token  # read by the identity provider, never put on argv
    app = ServerApp.instance()
    app.initialize(argv=argv)
    if options.demo:
        env_file = Path(app.runtime_dir) / DEMO_ENV  # created by Jupyter, mode 0700

        def kick() -> None:
            task = asyncio.ensure_future(_start_demo(app, env_file))
            task.add_done_callback(_report_failure)

        app.io_loop.add_callback(kick)
    app.start()
    return 0


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        print(f"error: the demo session could not start: {task.exception()}", file=sys.stderr)


#: Adds command groups to the parser: `register(subparsers, common)`. A command that
#: talks to a server sets `run=<function(Context) -> int>` (it gets a connected client,
#: and the server's refusals become exit status 1); one that does not sets `func`.
#: The mcp command plugs in here too.
COMMAND_GROUPS: list[Callable[[Any, argparse.ArgumentParser], None]] = [
    cli_commands.register,
    cli_tokens.register,
    cli_forward.register,
]


def _add_connection_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--url", default=default, help="the Jupyter server's URL with its "
                        f"base_url (default: ${URL_ENV}, else the newest running server)")
    parser.add_argument("--token", default=default, help="a Jupyter token, or a session "
                        f"token (jds_…) (default: ${TOKEN_ENV}, else the runtime file's)")
    parser.add_argument("--json", action="store_true", default=default,
                        help="print the server's JSON instead of text")
    parser.add_argument("--timeout", type=float, default=default, metavar="SECONDS",
                        help="longest wait for one request (default 120)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="jupyter-debug-server",
        description="Debug programs outside the notebook kernel from Jupyter.",
    )
    _add_connection_options(parser, None)
    # The same options after the command name; SUPPRESS keeps a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    _add_connection_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("serve", help="start a Jupyter server with the extension")
    p.add_argument("--demo", action="store_true",
                   help="also launch a demo debugpy session stopped at a breakpoint")
    p.add_argument("--port", type=int, default=8888, help="port (the next free one is used)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    p.add_argument("--root-dir", help="the server's root directory (default: current)")
    p.add_argument("jupyter_args", nargs="*", help="further ServerApp options, after --")
    p.set_defaults(func=serve)
    for register in COMMAND_GROUPS:
        register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `jupyter-debug-server` and `jupyter debug-server`."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`jupyter-debug-server vars … | head`): that is the end of
        # the output, not an error to show. Python flushes stdout again at exit, so point
        # it at /dev/null first (the recipe of Python's `signal` documentation).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1


def _main(argv: list[str] | None) -> int:
    options = build_parser().parse_args(argv)
    if hasattr(options, "func"):
        return int(options.func(options))
    try:
        info = discover(options.url, options.token)
        with DebugServerClient(info.url, info.token,
                               timeout=options.timeout or 120) as client:
            return cli_commands.run(options, client)
    except DebugServerClientError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
