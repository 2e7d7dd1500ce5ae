"""`%debug_session` and `%%debug_session launch`: thin over the client library.

One `DebugSessionMagics` per IPython shell holds the client (connected on first use, so
`%load_ext` works before a server is reachable) and the current session id. Every line
magic returns the server's JSON as a view (display.py): the value is in `_`, the display
is text and HTML, or the live widget where kernel/widgets.py provides one.

A server's refusal is raised as `UsageError(<the server's sentence>)`: IPython shows it as
one line without a traceback, and the cell fails, so "Run All" and nbclient stop there
instead of running on against a session that does not exist.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import importlib
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand

from ..client import (
    DebugServerClient,
    DebugServerClientError,
    Json,
    ServerNotFound,
    connect,
)
from . import display
from .parser import build_cell_parser, build_parser, usage_text

T = TypeVar("T")

#: Where the cell magic writes cells, under the kernel's working directory.
CELL_FOLDER = ".jupyter-debug-server"


def _widget(name: str, client: DebugServerClient, *args: Any) -> Any:
    """An instance of kernel/widgets.py's `name` (given the client if it takes one), or
    None where widgets are not there."""
    try:
        # Imported on use: the widgets (and anywidget) are optional; without them the
        # views show text and HTML.
        widgets = importlib.import_module(".widgets", __package__)
    except ImportError:
        return None
    factory = getattr(widgets, name, None)
    if factory is None:
        return None
    if "client" in inspect.signature(factory).parameters:
        return factory(*args, client=client)
    return factory(*args)


def _off_the_loop(call: Callable[[], T]) -> T:
    """Run `call` in a thread: the kernel runs cells inside its own event loop, where the
    client's `asyncio.run` waits cannot run. Ctrl-C (interrupt) stops the waiting."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(call).result()
    finally:
        pool.shutdown(wait=False)


@magics_class
class DebugSessionMagics(Magics):
    """The `%debug_session` magics of one IPython shell."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self._client: DebugServerClient | None = None
        #: the session the commands without an ID act on
        self.current: str | None = None
        self.parser = build_parser()
        self.cell_parser = build_cell_parser()

    @property
    def client(self) -> DebugServerClient:
        """The client of this kernel's server (found on first use, see discovery.py)."""
        if self._client is None:
            self._client = connect()
        return self._client

    @no_var_expand  # `eval {1: 2}` is an expression, not a template to fill in
    @line_cell_magic
    def debug_session(self, line: str, cell: str | None = None) -> Any:
        try:
            if cell is not None:
                return self._cell(line, cell)
            return self._line(line)
        except DebugServerClientError as exc:
            if isinstance(exc, ServerNotFound):
                self._client = None  # find the server again next time (it may have moved)
            raise UsageError(str(exc)) from None
        except KeyboardInterrupt:
            # A request cut off mid-answer leaves its kept-alive connection unusable.
            if self._client is not None:
                self._client.close()
            raise

    # -- dispatch ---------------------------------------------------------------------

    def _line(self, line: str) -> Any:
        head, rest = [*line.strip().split(None, 1), "", ""][:2]
        if head == "eval":  # the expression as typed: no shell-like splitting of quotes
            if not rest.strip():
                raise UsageError("%debug_session eval needs an expression, e.g. "
                                 "`%debug_session eval total / count`.")
            return display.EvalView(self.client.evaluate(self._sid(), rest.strip()))
        options = self.parser.parse_argstring(line)
        run = getattr(self, f"_cmd_{options.command or 'list'}")
        return run(options)

    def _sid(self, given: str | None = None) -> str:
        """The session `given` (an id or unique prefix), else the current one."""
        if given:
            return self._resolve(given)
        if self.current is None:
            raise UsageError("there is no current debug session: launch one with "
                             "`%debug_session launch PROGRAM` or pick one with "
                             "`%debug_session use ID` (`%debug_session` lists them).")
        return self.current

    def _resolve(self, prefix: str) -> str:
        matches = self.client.ids_matching(prefix)
        if prefix in matches:
            return prefix
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UsageError(f"no debug session id starts with {prefix!r} "
                             "(`%debug_session` lists the sessions).")
        raise UsageError(f"session id prefix {prefix!r} matches {len(matches)} sessions "
                         f"({', '.join(matches[:5])}); give more characters.")

    # -- sessions ---------------------------------------------------------------------

    def _cmd_list(self, _: argparse.Namespace) -> Any:
        client = self.client
        return display.SessionsView(client.sessions(), _widget("SessionsWidget", client))

    def _cmd_launch(self, o: argparse.Namespace) -> Any:
        args = list(o.args)  # (argparse has dropped a `--` before them)
        spec: Json = {"debugger": o.debugger}
        if o.module is not None:
            spec["module"] = o.module
            if o.program is not None:
                args.insert(0, o.program)  # after -m, every positional is an argument
        elif o.program is not None:
            spec["program"] = _here(o.program)
        else:
            raise UsageError("%debug_session launch needs a PROGRAM or -m MODULE, e.g. "
                             "`%debug_session launch -b app.py:12 app.py`.")
        spec["args"] = args
        spec["cwd"] = _here(o.cwd or ".")
        return self._create(spec, o)

    def _cmd_attach(self, o: argparse.Namespace) -> Any:
        spec: Json = {"debugger": o.debugger, "request": "attach", "pid": o.pid}
        if o.name:
            spec["name"] = o.name
        if o.breakpoints:
            spec["breakpoints"] = _absolute(o.breakpoints)
        return self._show_new(self.client.create_session(spec), wait=bool(o.breakpoints),
                              timeout=o.wait_timeout)

    def _create(self, spec: Json, o: argparse.Namespace) -> Any:
        if o.breakpoints:
            spec["breakpoints"] = _absolute(o.breakpoints)
        if o.stop_on_entry:
            spec["stop_on_entry"] = True
        if o.env:
            spec["env"] = dict(o.env)
        if o.watches:
            spec["watches"] = o.watches
        if o.name:
            spec["name"] = o.name
        model = self.client.create_session(spec)
        wait = bool(spec.get("breakpoints") or spec.get("stop_on_entry"))
        return self._show_new(model, wait=wait, timeout=o.wait_timeout)

    def _show_new(self, model: Json, *, wait: bool, timeout: float) -> Any:
        """Make the new session current; wait for its first stop if one is expected (a
        program without breakpoints may run for ever); show it."""
        sid = self.current = str(model["id"])
        if wait:
            model = self._wait_settled(sid, timeout)
        return display.SessionView(model, _widget("SessionWidget", self.client, sid))

    def _wait_settled(self, sid: str, timeout: float) -> Json:
        # A client of its own: if Ctrl-C ends the wait, its thread may still use it.
        waiter = DebugServerClient(self.client.url, self.client.token)
        try:
            return _off_the_loop(lambda: waiter.wait_settled(sid, timeout))
        except KeyboardInterrupt:
            return self.client.session(sid)
        finally:
            waiter.close()

    def _cmd_use(self, o: argparse.Namespace) -> Any:
        sid = self._resolve(o.session)
        model = self.client.session(sid)
        self.current = sid
        return display.SessionView(model, details=True)

    def _cmd_show(self, o: argparse.Namespace) -> Any:
        sid = self._sid(o.session)
        widget = _widget("SessionWidget", self.client, sid)
        return display.SessionView(self.client.session(sid), widget, details=True)

    def _cmd_stop(self, o: argparse.Namespace) -> Any:
        return display.SessionView(self.client.terminate(self._sid(o.session)))

    def _cmd_logs(self, o: argparse.Namespace) -> Any:
        sid = self._sid()
        follower = _widget("OutputWidget", self.client, sid) if o.follow else None
        return display.OutputView(list(self.client.iter_output(sid)), follower)

    def _cmd_token(self, o: argparse.Namespace) -> Any:
        return display.TokenView(self.client.create_token(self._sid(), o.ttl, o.scope))

    # -- inspection and control ---------------------------------------------------------

    def _cmd_stack(self, _: argparse.Namespace) -> Any:
        return display.StackView(self.client.stack(self._sid()))

    def _cmd_vars(self, o: argparse.Namespace) -> Any:
        return display.VariablesView(self.client.variables(self._sid(), o.frame, o.ref))

    def _cmd_step(self, o: argparse.Namespace) -> Any:
        return display.SessionView(self.client.step(self._sid(), o.kind))

    def _cmd_continue(self, _: argparse.Namespace) -> Any:
        return display.SessionView(self.client.continue_(self._sid()))

    def _cmd_pause(self, _: argparse.Namespace) -> Any:
        return display.SessionView(self.client.pause(self._sid()))

    def _cmd_break(self, o: argparse.Namespace) -> Any:
        sid = self._sid()
        if not o.specs:
            return display.BreakpointsView(self.client.breakpoints(sid))
        return display.BreakpointsView(self.client.add_breakpoints(sid, _absolute(o.specs)))

    def _cmd_clear(self, o: argparse.Namespace) -> Any:
        path, line = o.place
        return display.BreakpointsView([self.client.clear_breakpoints(self._sid(),
                                                                      _here(path), line)])

    # -- the cell magic -----------------------------------------------------------------

    def _cell(self, line: str, cell: str) -> Any:
        o = self.cell_parser.parse_argstring(line)
        folder = Path.cwd() / CELL_FOLDER
        folder.mkdir(exist_ok=True)
        # Named by content: the same cell is the same file, and a changed cell never
        # rewrites the file a session may still be stopped in.
        digest = hashlib.sha256(cell.encode()).hexdigest()[:12]
        path = folder / f"cell-{digest}.py"
        path.write_text(cell)
        count = getattr(self.shell, "execution_count", None)
        o.breakpoints = [{"path": str(path), "line": n} for n in o.lines]
        o.name = o.name or f"cell In[{count}]"
        spec: Json = {"debugger": "debugpy", "program": str(path),
                      "args": list(o.args), "cwd": str(Path.cwd())}
        return self._create(spec, o)


def _here(path: str) -> str:
    """`path` relative to the kernel's working directory (the notebook's folder), made
    absolute: the server would take it relative to its root_dir."""
    return os.path.abspath(os.path.expanduser(path))


def _absolute(breakpoints: list[Json]) -> list[Json]:
    return [{**bp, "path": _here(bp["path"])} for bp in breakpoints]


DebugSessionMagics.debug_session.__doc__ = usage_text()
