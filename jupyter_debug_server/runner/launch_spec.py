"""Validate a launch spec (the POST body of /api/debug/sessions) into a LaunchSpec.

Every failure is a LaunchSpecError whose sentence names the bad field and value,
and nothing is started before validation has passed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from .breakpoints import Breakpoint, check_count, parse_spec_breakpoints
from .debuggers.attachable import AttachRefused, check_attachable
from .errors import LaunchSpecError, type_error
from .paths import PathPolicy, readable_file, show
from .watches import parse_watches

_FIELDS = {
    "debugger", "request", "program", "module", "pid", "core", "args", "cwd", "env",
    "stop_on_entry", "breakpoints", "function_breakpoints", "exception_breakpoints", "name",
    "watches", "snapshots",
}
_MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_NAME = 200
#: Exception filters of one launch spec: debuggers offer a handful.
_MAX_FILTERS = 100

@dataclass(frozen=True)
class LaunchSpec:
    """A validated launch spec with paths resolved."""

    debugger: str
    request: str = "launch"
    program: str | None = None
    module: str | None = None
    pid: int | None = None
    core: str | None = None
    args: tuple[str, ...] = ()
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    stop_on_entry: bool = False
    breakpoints: tuple[Breakpoint, ...] = ()
    function_breakpoints: tuple[str, ...] = ()
    #: Exception filter ids; None: the debugger's default filters; (): no exception stops.
    exception_breakpoints: tuple[str, ...] | None = None
    name: str = ""
    watches: tuple[str, ...] = ()  # evaluated at every stop, for its snapshot
    snapshots: bool = True  # a snapshot at every stop (if the server takes them)

    def public(self) -> dict[str, Any]:
        """The spec as shown in the session model (env values hidden: they may be secrets)."""
        out: dict[str, Any] = {"debugger": self.debugger, "request": self.request}
        for key in ("program", "module", "pid", "core", "cwd"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["args"] = list(self.args)
        out["env_keys"] = sorted(self.env)
        out["stop_on_entry"] = self.stop_on_entry
        out["breakpoints"] = [
            {k: v for k, v in vars(bp).items() if v is not None} for bp in self.breakpoints
        ]
        out["function_breakpoints"] = list(self.function_breakpoints)
        out["exception_breakpoints"] = (None if self.exception_breakpoints is None
                                        else list(self.exception_breakpoints))
        out["watches"] = list(self.watches)
        out["snapshots"] = self.snapshots
        return out

    def dap_arguments(self) -> dict[str, Any]:
        """Arguments of the DAP launch/attach request for this spec."""
        out: dict[str, Any] = {"stopOnEntry": self.stop_on_entry, "args": list(self.args)}
        if self.program is not None:
            out["program"] = self.program
        if self.module is not None:
            out["module"] = self.module
        if self.pid is not None:
            out["processId"] = self.pid
        if self.core is not None:
            out["coreFile"] = self.core
        if self.cwd is not None:
            out["cwd"] = self.cwd
        if self.env:
            out["env"] = dict(self.env)
        return out


def _opt_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise type_error(name, "a non-empty string", value)
    if "\x00" in value:
        raise LaunchSpecError(f"'{name}' {show(value)} contains a NUL character, which no "
                              "file name or argument can hold")
    return value


def parse_launch_spec(body: Any, policy: PathPolicy, known_debuggers: set[str]) -> LaunchSpec:
    """Validate a request body into a LaunchSpec or raise LaunchSpecError."""
    if not isinstance(body, dict):
        raise LaunchSpecError("the launch spec must be a JSON object")
    unknown = set(body) - _FIELDS
    if unknown:
        raise LaunchSpecError(
            f"unknown field {sorted(unknown)[0]!r} in the launch spec; known fields are "
            f"{', '.join(sorted(_FIELDS))}"
        )
    debugger = body.get("debugger", "debugpy")
    if not isinstance(debugger, str) or debugger not in known_debuggers:
        raise LaunchSpecError(
            f"unknown debugger {debugger!r}; choose one of {', '.join(sorted(known_debuggers))}",
            reason="unknown-debugger",
        )
    request = body.get("request", "launch")
    if request not in ("launch", "attach"):
        raise LaunchSpecError(f"'request' must be 'launch' or 'attach', not {request!r}")
    _check_targets(body, debugger, request)
    cwd_value = _opt_str(body, "cwd")
    cwd = policy.resolve(cwd_value, "cwd") if cwd_value else policy.root
    if not os.path.isdir(cwd):  # False for any failure: resolve() named the others
        raise LaunchSpecError(f"cwd {show(cwd_value or '')} is not a directory",
                              reason="not-found")

    program = None
    program_value = _opt_str(body, "program")
    if program_value is not None:
        resolved = policy.resolve(program_value, "program", cwd)
        readable_file(resolved, "program", program_value)
        if debugger != "debugpy" and not os.access(resolved, os.X_OK):
            raise LaunchSpecError(f"program {program_value!r} is not executable (chmod +x it, "
                                  "or build it first)", reason="not-executable")
        program = str(resolved)
    core = None
    core_value = _opt_str(body, "core")
    if core_value is not None:
        resolved_core = policy.resolve(core_value, "core", cwd)
        readable_file(resolved_core, "core", core_value)
        core = str(resolved_core)
    module = _opt_str(body, "module")
    if module is not None and not _MODULE_RE.match(module):
        raise LaunchSpecError(f"module {module!r} is not a dotted Python module name")
    pid = body.get("pid")
    if pid is not None:
        _check_attachable(pid)
        if debugger == "debugpy":
            _check_python(pid)

    args, env, stop_on_entry, functions, name = _parse_options(body)
    default_name = (
        os.path.basename(program) if program else module if module else f"pid {pid}"
    )
    return LaunchSpec(
        debugger=debugger,
        request=request,
        program=program,
        core=core,
        module=module,
        pid=pid,
        args=tuple(args),
        cwd=str(cwd),
        env=dict(env),
        stop_on_entry=stop_on_entry,
        breakpoints=parse_spec_breakpoints(body.get("breakpoints"), policy, cwd),
        function_breakpoints=tuple(functions),
        exception_breakpoints=_parse_exception_breakpoints(body.get("exception_breakpoints")),
        name=name or default_name,
        watches=parse_watches(body.get("watches")),
        snapshots=_snapshots(body.get("snapshots", True)),
    )


def _parse_exception_breakpoints(value: Any) -> tuple[str, ...] | None:
    """A launch spec's `exception_breakpoints`: None (absent or null: the debugger's
    defaults), or the filter ids in order, without repeats. Whether the debugger offers
    them is `check_exception_filters`'s question."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(f, str) and f for f in value):
        raise type_error("exception_breakpoints", "a list of exception filter ids (GET "
                         "/api/debug/debuggers lists each debugger's)", value)
    if len(value) > _MAX_FILTERS:
        raise LaunchSpecError(f"'exception_breakpoints' has {len(value)} items; at most "
                              f"{_MAX_FILTERS} exception filters may be named")
    return tuple(dict.fromkeys(value))


def check_exception_filters(spec: LaunchSpec, offered: list[dict[str, Any]]) -> None:
    """Refuse an exception filter id the spec's debugger does not offer (`offered`: its
    probe's `exception_filters`), naming it and the valid ones."""
    valid = [str(f["id"]) for f in offered]
    for name in spec.exception_breakpoints or ():
        if name not in valid:
            choices = (f"its filters are {', '.join(valid)}" if valid
                       else "it offers no exception filters")
            raise LaunchSpecError(
                f"exception filter {name!r:.80} is not one debugger {spec.debugger!r} offers; "
                f"{choices} (or [] for no exception stops)",
                reason="unknown-exception-filter")


def _snapshots(value: Any) -> bool:
    if not isinstance(value, bool):
        raise type_error("snapshots", "true or false", value)
    return value


def _parse_options(body: dict[str, Any]) -> tuple[
        list[str], dict[str, str], bool, list[str], str | None]:
    """Validate args, env, stop_on_entry, function_breakpoints and name."""
    args = body.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise type_error("args", "a list of strings (passed as argv, never to a shell)", args)
    if any("\x00" in a for a in args):
        raise LaunchSpecError("'args' must not contain NUL characters")
    env = body.get("env", {})
    if not isinstance(env, dict):
        raise type_error("env", "an object of string values", env)
    for key, value in env.items():
        if not _ENV_NAME_RE.match(key):
            raise LaunchSpecError(f"env name {key!r} is not a valid variable name")
        if not isinstance(value, str) or "\x00" in value:
            raise type_error(f"env[{key!r}]", "a string without NUL", value)
    stop_on_entry = body.get("stop_on_entry", False)
    if not isinstance(stop_on_entry, bool):
        raise type_error("stop_on_entry", "true or false", stop_on_entry)
    functions = body.get("function_breakpoints", [])
    if not isinstance(functions, list) or not all(isinstance(f, str) and f for f in functions):
        raise type_error("function_breakpoints", "a list of function names", functions)
    check_count("function_breakpoints", functions)
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > _MAX_NAME):
        raise type_error("name", f"a string of at most {_MAX_NAME} characters", name)
    return args, env, stop_on_entry, functions, name


def _check_attachable(pid: Any) -> None:
    """A pid must name a live process of the server's own user that ptrace may reach."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        raise type_error("pid", "a positive integer", pid)
    if pid == os.getpid():
        raise LaunchSpecError(f"pid {pid} is the Jupyter server itself")
    try:
        check_attachable(pid)
    except AttachRefused as exc:
        raise LaunchSpecError(exc.message, reason=exc.reason) from None


def _check_python(pid: int) -> None:
    """debugpy can only attach to a CPython process: say so now, not after a timeout."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        with open(f"/proc/{pid}/maps", "rb") as maps:
            mapped = maps.read()
    except OSError as exc:
        raise LaunchSpecError(f"cannot inspect process {pid}: {exc.strerror}",
                              reason="not-permitted") from None
    name = os.path.basename(exe)
    if "python" not in name and b"libpython" not in mapped:
        raise LaunchSpecError(
            f"process {pid} ({name}) is not a Python process; debugpy attaches to Python "
            "programs only (use gdb or lldb for native processes)", reason="not-python")


def _check_targets(body: dict[str, Any], debugger: str, request: Any) -> None:
    """Exactly one target, and one this debugger and request can take."""
    targets = [k for k in ("program", "module", "pid") if body.get(k) is not None]
    if body.get("core") is not None and debugger == "debugpy":
        raise LaunchSpecError("debugpy cannot open core files; they need a native debugger "
                              "(gdb)", reason="unsupported")
    if body.get("core") is not None and targets != ["program"]:
        raise LaunchSpecError("'core' needs 'program', the executable that dumped it")
    if len(targets) != 1:
        raise LaunchSpecError(
            "the launch spec needs exactly one target: 'program', 'module' or 'pid'"
            + (f" (got {', '.join(targets)})" if targets else "")
        )
    if request == "attach" and targets != ["pid"]:
        raise LaunchSpecError("an 'attach' request needs 'pid' (the process to attach to)")
    if request == "launch" and targets == ["pid"]:
        raise LaunchSpecError("'pid' needs \"request\": \"attach\"")
    if targets == ["module"] and debugger != "debugpy":
        raise LaunchSpecError(f"'module' is only for debugpy, not {debugger!r}")
