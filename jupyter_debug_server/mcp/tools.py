"""The MCP tools: thin, typed wrappers over the client library.

Each tool is a method of `DebugTools` marked with `@tool(kind)`; its signature is the
tool's JSON schema (the SDK reads the type hints and the `Field` descriptions), its
docstring the description an agent reads. Its mark gives the tool's annotations and says
whether a read-only (`--observe`) server offers it.

The SDK runs these synchronous methods in worker threads; the client they share is
thread-safe (client/transport.py). A refusal of the server becomes a tool error whose
text is the server's sentence, never a success (`refusals_as`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ..client import DebugServerClient, DebugServerClientError, Json, render
from ..client.arguments import attach_target
from .results import capped, output_page
from .stops import StopReporter, compact_variable

F = TypeVar("F", bound=Callable[..., Json])
C = TypeVar("C", bound=Callable[..., Any])


class Kind(Enum):
    """What a tool does to the session, for its MCP annotations."""

    READ = "read"  # reads only; offered to observers (readOnlyHint)
    CONTROL = "control"  # runs the program on or changes its breakpoints
    DESTRUCTIVE = "destructive"  # runs code in the program, or ends it (destructiveHint)


#: The attribute `@tool` leaves on a method: a ToolMark.
TOOL_MARK = "__mcp_tool__"


@dataclass(frozen=True)
class ToolMark:
    """How a method is offered: its tool name, its kind, and whether an observer (who
    holds one session's observe token) gets it."""

    name: str
    kind: Kind
    observer: bool


def tool(kind: Kind, name: str | None = None, *, server_wide: bool = False
         ) -> Callable[[F], F]:
    """Mark a method of DebugTools as the MCP tool `name` (default: its own name);
    `server_wide` for one that is about no single session (a session token cannot)."""

    def mark(method: F) -> F:
        wrapped = refusals_as(ToolError)(method)
        setattr(wrapped, TOOL_MARK, ToolMark(name or method.__name__, kind,
                                             kind is Kind.READ and not server_wide))
        return wrapped

    return mark


def refusals_as(error: type[Exception]) -> Callable[[C], C]:
    """Raise the server's refusal (its sentence) as `error`: the SDK answers a ToolError
    as a tool error, a ResourceError as an MCP error, with that text (any other exception
    would reach the agent without it)."""

    def wrap(function: C) -> C:
        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except DebugServerClientError as exc:
                raise error(exc.message) from None

        return call  # type: ignore[return-value]

    return wrap


# -- argument types: their Field descriptions are what the agent reads ------------------

SessionId = Annotated[str, Field(description="A session id (from list_sessions or "
                                 "launch_session).")]
ThreadId = Annotated[int | None, Field(description="A thread id; default: the thread "
                                       "that stopped.")]
FrameId = Annotated[int | None, Field(description="A frame id from stack; default: the "
                                      "top frame of the stopped thread.")]
DebuggerName = Literal["debugpy", "gdb", "lldb"]


class Breakpoint(BaseModel):
    """A line breakpoint of one source file."""

    line: int = Field(ge=1, description="The line, counted from 1.")
    condition: str | None = Field(None, description="Stop only when this expression "
                                  "(in the program's language) is true.")
    hit_condition: str | None = Field(None, description="Stop only on some hits, in the "
                                      "debugger's terms: '3' (at the third), '>= 3', "
                                      "'> 2' (debugpy also '% 2').")
    log_message: str | None = Field(None, description="Print this instead of stopping "
                                    "(a logpoint); {expression} parts are evaluated.")


class SourceBreakpoint(Breakpoint):
    """A line breakpoint, with its file."""

    path: str = Field(description="The source file: absolute, or relative to the "
                      "session's cwd (default: the Jupyter server's root directory).")


def _spec_breakpoints(items: list[SourceBreakpoint] | None) -> list[Json]:
    return [b.model_dump(exclude_none=True) for b in items or []]


def _without_links(model: Json) -> Json:
    return {k: v for k, v in model.items() if k != "links"}


class DebugTools:
    """The tools of one MCP server, over one client of one Jupyter server."""

    def __init__(self, client: DebugServerClient, launch_wait: float) -> None:
        self.client = client
        self.launch_wait = launch_wait  # seconds launch/attach wait for the first stop
        self.stops = StopReporter(client)

    def _settled(self, model: Json) -> Json:
        """The answer of launch/attach: after the first stop or the end, bounded."""
        if model["state"] in ("starting", "running"):
            model = self.client.wait_settled(model["id"], self.launch_wait)
        return capped(self.stops.report(model, waited=f"{self.launch_wait:g} s (the MCP "
                                        "server's --wait)"), _STOP_PAGING)

    def _resumed(self, model: Json) -> Json:
        """The answer of continue/step/pause: the route waited for the next stop."""
        return capped(self.stops.report(model, waited="the Jupyter server's step_timeout "
                                        "(c.DebugServerApp.step_timeout)"), _STOP_PAGING)

    # -- debuggers and sessions ----------------------------------------------------------

    @tool(Kind.READ, server_wide=True)
    def list_debuggers(self) -> Json:
        """List the debuggers of the Jupyter server (debugpy for Python, gdb and lldb for
        native programs): whether each is available, its version, why not, and its
        exception filters (for launch_session's exception_breakpoints)."""
        return capped({"debuggers": self.client.debuggers()}, "")

    @tool(Kind.READ, server_wide=True)
    def list_sessions(self) -> Json:
        """List the debug sessions of the Jupyter server, newest first: id, name,
        debugger, state and where each is (people's sessions from JupyterLab too)."""
        sessions = [{"id": m["id"], "name": m["name"], "debugger": m["debugger"],
                     "state": m["state"], "where": render.where(m), "pid": m.get("pid"),
                     "created": m.get("created")} for m in self.client.sessions()]
        return capped({"sessions": sessions}, "get_session shows one session in full.")

    @tool(Kind.CONTROL)
    def launch_session(
        self, *,
        program: Annotated[str | None, Field(description="The program: a Python script "
                                             "(debugpy) or an executable built with -g "
                                             "(gdb, lldb); relative to cwd.")] = None,
        module: Annotated[str | None, Field(description="A Python module to run as "
                                            "`python -m MODULE` instead of a program.")]
        = None,
        args: Annotated[list[str] | None, Field(description="The program's arguments "
                                                "(its argv, never through a shell).")]
        = None,
        debugger: Annotated[DebuggerName, Field(description="The debugger.")] = "debugpy",
        breakpoints: Annotated[list[SourceBreakpoint] | None, Field(
            description="Line breakpoints set before the program runs.")] = None,
        function_breakpoints: Annotated[list[str] | None, Field(
            description="Functions to stop in (by name).")] = None,
        exception_breakpoints: Annotated[list[str] | None, Field(
            description="Exception filters to stop on (see list_debuggers); [] never "
            "stops on exceptions; default: the debugger's defaults.")] = None,
        stop_on_entry: Annotated[bool, Field(description="Stop before the first line "
                                             "(gdb, lldb: in main).")] = False,
        cwd: Annotated[str | None, Field(description="The program's working directory "
                                         "(default: the Jupyter server's root).")] = None,
        env: Annotated[dict[str, str] | None, Field(description="Environment variables "
                                                    "added for the program.")] = None,
        watches: Annotated[list[str] | None, Field(description="Expressions evaluated at "
                                                   "every stop, kept in snapshots.")]
        = None,
        name: Annotated[str | None, Field(description="A display name.")] = None,
    ) -> Json:
        """Launch a program under a debugger and wait (bounded) for its first stop or its
        end. Answers where it stopped, the source around that line, the top frame's
        locals and the output so far; or pending: true if it still runs when the wait
        ends. Give exactly one of program or module."""
        spec: Json = {"debugger": debugger, "args": list(args or [])}
        optional = {"program": program, "module": module, "cwd": cwd, "env": env,
                    "name": name, "function_breakpoints": function_breakpoints,
                    "exception_breakpoints": exception_breakpoints, "watches": watches}
        spec |= {k: v for k, v in optional.items() if v is not None}
        if breakpoints:
            spec["breakpoints"] = _spec_breakpoints(breakpoints)
        if stop_on_entry:
            spec["stop_on_entry"] = True
        return self._settled(self.client.create_session(spec))

    @tool(Kind.CONTROL)
    def attach_session(
        self, *,
        pid: Annotated[int | None, Field(description="A running process of the server's "
                                         "user to attach to.")] = None,
        core: Annotated[str | None, Field(description="A core file to open post mortem "
                                          "(with program).")] = None,
        program: Annotated[str | None, Field(description="The executable that dumped "
                                             "core.")] = None,
        debugger: Annotated[DebuggerName | None, Field(
            description="The debugger (default: debugpy for pid, gdb for core).")] = None,
        breakpoints: Annotated[list[SourceBreakpoint] | None, Field(
            description="Line breakpoints to set.")] = None,
        function_breakpoints: Annotated[list[str] | None, Field(
            description="Functions to stop in (by name).")] = None,
        watches: Annotated[list[str] | None, Field(description="Expressions evaluated at "
                                                   "every stop, kept in snapshots.")]
        = None,
        name: Annotated[str | None, Field(description="A display name.")] = None,
    ) -> Json:
        """Attach a debugger to a running process (pid), or open a core file (core and
        program), and wait (bounded) for a stop as launch_session does. Detaching
        (stop_session) leaves an attached process running."""
        spec = attach_target(pid, core, program, debugger)
        if spec is None:
            raise ToolError("attach_session needs pid, or core with program")
        optional = {"name": name, "function_breakpoints": function_breakpoints,
                    "watches": watches}
        spec |= {k: v for k, v in optional.items() if v is not None}
        if breakpoints:
            spec["breakpoints"] = _spec_breakpoints(breakpoints)
        return self._settled(self.client.create_session(spec))

    @tool(Kind.READ)
    def get_session(self, session_id: SessionId) -> Json:
        """One session in full: state, where it stopped, exit code or error, its launch
        spec, pid, owner and how many clients are attached."""
        model = self.client.session(session_id)
        return capped(_without_links(model) | {"where": render.where(model)}, "")

    @tool(Kind.DESTRUCTIVE)
    def stop_session(self, session_id: SessionId) -> Json:
        """End a session: terminate the launched program (an attached process is
        detached and runs on). Idempotent: an ended session stays as it ended."""
        model = self.client.terminate(session_id)
        return {"session_id": model["id"], "state": model["state"],
                "where": render.where(model), "exit_code": model.get("exit_code"),
                "new_output": self.stops.new_output(session_id)}

    # -- breakpoints -------------------------------------------------------------------

    @tool(Kind.CONTROL)
    def set_breakpoints(
        self, session_id: SessionId,
        path: Annotated[str, Field(description="The source file (absolute, or relative "
                                   "to the session's cwd).")],
        breakpoints: Annotated[list[Breakpoint], Field(
            description="All of this file's breakpoints: they replace the ones set "
            "before; [] clears the file.")],
    ) -> Json:
        """Replace the breakpoints of one source file. Answers each as placed: the line
        the debugger chose, verified or not, and why not."""
        placed = self.client.set_breakpoints(
            session_id, path, [b.model_dump(exclude_none=True) for b in breakpoints])
        return capped(placed, "list_breakpoints(session_id, path) lists one file's.")

    @tool(Kind.READ)
    def list_breakpoints(
        self, session_id: SessionId,
        path: Annotated[str | None, Field(description="Only this file's.")] = None,
    ) -> Json:
        """List the session's breakpoints per source file, as placed."""
        sources = self.client.breakpoints(session_id, path)
        return capped({"sources": sources}, "Give path to list one file's breakpoints.")

    # -- running -----------------------------------------------------------------------

    @tool(Kind.CONTROL, name="continue")
    def continue_(self, session_id: SessionId, thread_id: ThreadId = None) -> Json:
        """Resume a stopped program; answer at the next stop or exit (location, source,
        locals, new output), or pending: true if it still runs when the server's wait
        ends."""
        return self._resumed(self.client.continue_(session_id, thread_id))

    @tool(Kind.CONTROL)
    def step(
        self, session_id: SessionId,
        kind: Annotated[Literal["over", "in", "out"], Field(
            description="over: the next line; in: into the call on this line; out: "
            "back to the caller.")] = "over",
        thread_id: ThreadId = None,
    ) -> Json:
        """Step a stopped program; answer at the new location with its source, locals and
        new output (or pending: true, or the exit)."""
        return self._resumed(self.client.step(session_id, kind, thread_id))

    @tool(Kind.CONTROL)
    def pause(self, session_id: SessionId, thread_id: ThreadId = None) -> Json:
        """Interrupt a running program; answer where it stopped, with source, locals and
        new output. A stopped program is left as it is."""
        return self._resumed(self.client.pause(session_id, thread_id))

    # -- inspection --------------------------------------------------------------------

    @tool(Kind.READ)
    def stack(
        self, session_id: SessionId, thread_id: ThreadId = None,
        start: Annotated[int, Field(ge=0, description="The first frame (0: the "
                                    "innermost).")] = 0,
        levels: Annotated[int, Field(ge=1, le=200, description="How many frames.")] = 20,
    ) -> Json:
        """The call stack of the stopped thread: each frame's id (for variables and
        evaluate), function, file and line."""
        trace = self.client.stack(session_id, thread_id, start, levels)
        frames = [{"id": f.get("id"), "function": f.get("name"),
                   "path": (f.get("source") or {}).get("path"), "line": f.get("line")}
                  for f in trace.get("frames") or []]
        return capped({"thread_id": trace.get("thread_id"), "frames": frames,
                       "total": trace.get("total")},
                      "Page with start and levels.")

    @tool(Kind.READ)
    def variables(
        self, session_id: SessionId, frame_id: FrameId = None,
        reference: Annotated[int | None, Field(
            ge=1, description="A variable's reference (from locals, variables or "
            "evaluate): list its children instead of a frame's scopes.")] = None,
        start: Annotated[int, Field(ge=0, description="The first variable of the "
                                    "page.")] = 0,
        count: Annotated[int, Field(ge=1, le=500, description="Variables per page.")]
        = 50,
    ) -> Json:
        """The variables of a frame (every scope: locals first), or one page of a
        variable's children by its reference. Values are the debugger's text; a
        reference means the value has children to list."""
        result = self.client.variables(session_id, frame_id, reference, start, count)
        if reference is not None:
            out: Json = {"reference": reference, "start": result.get("start"),
                         "total": result.get("total"),
                         "variables": [compact_variable(v) for v in result["variables"]]}
        else:
            out = {"frame_id": result.get("frame_id"), "scopes": [
                {"name": s.get("name"), "reference": s.get("reference"),
                 "total": s.get("total"),
                 "variables": [compact_variable(v) for v in s.get("variables") or []]}
                for s in result.get("scopes") or []]}
        return capped(out, "Page with start and count, or list one value's children "
                      "with reference.")

    @tool(Kind.DESTRUCTIVE)
    def evaluate(
        self, session_id: SessionId,
        expression: Annotated[str, Field(description="An expression in the program's "
                                         "language; gdb commands start with '-exec '.")],
        frame_id: FrameId = None,
    ) -> Json:
        """Evaluate an expression in a frame of the stopped program. It runs code in the
        program: calls and assignments take effect."""
        result = self.client.evaluate(session_id, expression, frame_id)
        out: Json = {"result": result.get("result"), "type": result.get("type")}
        if result.get("variablesReference"):
            out["reference"] = result["variablesReference"]
        return capped(out, "variables(session_id, reference=…) lists its children.")

    @tool(Kind.READ)
    def output(
        self, session_id: SessionId,
        since: Annotated[int, Field(ge=0, description="The cursor: 0 for the start, or "
                                    "the next of the previous answer.")] = 0,
        limit: Annotated[int, Field(ge=1, le=1000, description="Chunks at most.")] = 200,
    ) -> Json:
        """What the program printed (stdout, stderr, debugger messages), paged by a
        cursor: pass the answer's next as since to read on. Kept after it exits."""
        page = self.client.output(session_id, since, limit)
        return output_page(page, since, limit)

    @tool(Kind.READ)
    def snapshots(
        self, session_id: SessionId,
        since: Annotated[int, Field(ge=0, description="Only the stops after this "
                                    "snapshot number.")] = 0,
        limit: Annotated[int, Field(ge=1, le=50, description="Snapshots at most.")] = 5,
    ) -> Json:
        """The stop history: one snapshot per stop (where, the frames, the top frame's
        variables, the watches), readable after the program ended."""
        page = self.client.snapshots(session_id, since, limit)
        return capped(page, "Page with since=next and a smaller limit.")


#: How a stop's answer pages what it cut.
_STOP_PAGING = ("variables(session_id, …) and output(session_id, since=…) give the rest.")
