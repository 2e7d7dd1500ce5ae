"""Hand-written hostile launch specs: path escapes, odd strings, odd shapes, odd pids.

Each case is `(label, body)`; `body` is what is POSTed to /api/debug/sessions (a JSON value,
or raw bytes for bodies that are not JSON). Labels are stable so that a finding can be named
in a report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: A pid that cannot exist (above /proc/sys/kernel/pid_max's ceiling).
NO_SUCH_PID = 4194303 + 1


@dataclass(frozen=True)
class Places:
    """The paths the escapes aim at."""

    root: Path  # the server's root_dir
    outside: Path  # a folder next to root with a script, a binary and a "core"
    decoy_pid: int  # a live process of ours (attachable)
    foreign_pid: int | None  # a live process of another user, if one could be started
    server_pid: int  # the Jupyter server's own process


def _nested(depth: int) -> bytes:
    # Built as text: json.dumps itself would recurse too deep.
    return (b'{"program": "targets/loop.py", "args": ' + b"[" * depth + b"]" * depth + b"}")


def _nested_env(depth: int) -> bytes:
    return (b'{"program": "targets/loop.py", "env": ' + b'{"a": ' * depth + b'"x"'
            + b"}" * depth + b"}")


def path_escapes(p: Places) -> list[tuple[str, Any]]:
    """Paths (program, cwd, core, breakpoint path) that lead out of root_dir."""
    out = p.outside
    cases: list[tuple[str, Any]] = [
        ("dotdot-program", {"program": f"../{out.name}/evil.py"}),
        ("dotdot-chain", {"program": "targets/" + "../" * 40 + "etc/passwd"}),
        ("dotdot-into-outside", {"program": f"targets/../../{out.name}/evil.py"}),
        ("dotdot-native", {"debugger": "gdb", "program": f"../{out.name}/evil"}),
        ("dotdot-lldb", {"debugger": "lldb", "program": f"../{out.name}/evil"}),
        ("absolute-outside", {"program": str(out / "evil.py")}),
        ("absolute-etc", {"program": "/etc/passwd"}),
        ("absolute-bin-gdb", {"debugger": "gdb", "program": "/bin/true"}),
        ("absolute-bin-lldb", {"debugger": "lldb", "program": "/bin/true"}),
        ("symlink-file", {"program": "link_prog"}),
        ("symlink-dir", {"program": "link_out/evil.py"}),
        ("symlink-native", {"debugger": "gdb", "program": "link_out/evil"}),
        ("symlink-loop", {"program": "loop_a"}),
        ("symlink-loop-cwd", {"program": "targets/loop.py", "cwd": "loop_a"}),
        ("tilde", {"program": "~/evil.py"}),
        ("tilde-root", {"program": "~root/evil.py"}),
        ("tilde-nosuchuser", {"program": "~nosuchuser/x"}),
        ("tilde-nosuchuser-cwd", {"program": "targets/loop.py", "cwd": "~nosuchuser/x"}),
        ("proc-self-exe", {"debugger": "gdb", "program": "/proc/self/exe"}),
        ("proc-self-root", {"program": "/proc/self/root/etc/passwd"}),
        ("proc-self-cwd", {"program": "/proc/self/cwd/targets/loop.py"}),
        ("proc-self-fd", {"program": "/proc/self/fd/0"}),
        ("proc-1-root", {"program": "/proc/1/root/etc/hostname"}),
        ("dev-null", {"program": "/dev/null"}),
        ("cwd-slash", {"program": "targets/loop.py", "cwd": "/"}),
        ("cwd-dotdot", {"program": "targets/loop.py", "cwd": ".."}),
        ("cwd-outside-abs", {"program": "evil.py", "cwd": str(out)}),
        ("cwd-symlink", {"program": "evil.py", "cwd": "link_out"}),
        ("cwd-tmp", {"program": "targets/loop.py", "cwd": "/tmp"}),
        ("cwd-a-file", {"program": "targets/loop.py", "cwd": "targets/loop.py"}),
        ("core-outside", {"debugger": "gdb", "program": "crash", "core": str(out / "core")}),
        ("core-dotdot", {"debugger": "gdb", "program": "crash", "core": f"../{out.name}/core"}),
        ("core-etc", {"debugger": "gdb", "program": "crash", "core": "/etc/passwd"}),
        ("core-symlink", {"debugger": "gdb", "program": "crash", "core": "link_out/core"}),
        ("core-lldb", {"debugger": "lldb", "program": "crash", "core": str(out / "core")}),
        ("breakpoint-outside", {"program": "targets/loop.py", "breakpoints": [
            {"path": str(out / "evil.py"), "line": 1}]}),
        ("breakpoint-dotdot", {"program": "targets/loop.py", "breakpoints": [
            {"path": f"../{out.name}/evil.py", "line": 1}]}),
        ("breakpoint-tilde-nosuchuser", {"program": "targets/loop.py", "breakpoints": [
            {"path": "~nosuchuser/x.py", "line": 1}]}),
        ("breakpoint-symlink-loop", {"program": "targets/loop.py", "breakpoints": [
            {"path": "loop_a", "line": 1}]}),
    ]
    return cases


def string_escapes() -> list[tuple[str, Any]]:
    """NUL, lone surrogates, very long and odd strings in every string field."""
    long = "a" * 5000
    return [
        ("nul-program", {"program": "targets/loop.py\x00.txt"}),
        ("nul-cwd", {"program": "targets/loop.py", "cwd": "targets\x00"}),
        ("nul-args", {"program": "targets/loop.py", "args": ["a\x00b"]}),
        ("nul-env-value", {"program": "targets/loop.py", "env": {"A": "x\x00y"}}),
        ("nul-env-name", {"program": "targets/loop.py", "env": {"A\x00B": "x"}}),
        ("nul-module", {"module": "os\x00"}),
        ("nul-name", {"program": "targets/loop.py", "name": "n\x00"}),
        ("nul-breakpoint-path", {"program": "targets/loop.py", "breakpoints": [
            {"path": "targets/loop.py\x00", "line": 3}]}),
        ("nul-function-bp", {"program": "targets/loop.py", "function_breakpoints": ["f\x00"]}),
        ("nul-debugger", {"debugger": "gdb\x00", "program": "waiter"}),
        ("surrogate-program", {"program": "\ud800.py"}),
        ("surrogate-cwd", {"program": "targets/loop.py", "cwd": "\udc80"}),
        ("surrogate-args", {"program": "targets/loop.py", "args": ["\udcff"]}),
        ("surrogate-env", {"program": "targets/loop.py", "env": {"A": "\ud800"}}),
        ("surrogate-name", {"program": "targets/loop.py", "name": "\udc80"}),
        ("surrogate-breakpoint", {"program": "targets/loop.py", "breakpoints": [
            {"path": "\ud800", "line": 1}]}),
        ("surrogate-condition", {"program": "targets/loop.py", "breakpoints": [
            {"path": "targets/loop.py", "line": 5, "condition": "\ud800"}]}),
        ("surrogate-function-bp", {"program": "targets/loop.py",
                                   "function_breakpoints": ["\ud800"]}),
        ("surrogate-debugger", {"debugger": "\ud800", "program": "targets/loop.py"}),
        ("long-program", {"program": long}),
        ("long-component", {"program": "targets/" + "b" * 300 + ".py"}),
        ("long-path", {"program": "x/" * 3000 + "y.py"}),
        ("long-cwd", {"program": "targets/loop.py", "cwd": long}),
        ("long-name", {"program": "targets/loop.py", "name": "n" * 201}),
        ("long-name-huge", {"program": "targets/loop.py", "name": "n" * 1_000_000}),
        ("long-module", {"module": "m" * 100_000}),
        ("long-arg", {"program": "targets/loop.py", "args": ["z" * 1_000_000]}),
        ("empty-program", {"program": ""}),
        ("empty-cwd", {"program": "targets/loop.py", "cwd": ""}),
        ("newline-program", {"program": "targets/loop.py\n"}),
        ("dash-program", {"debugger": "gdb", "program": "-x"}),
        ("module-dotted-escape", {"module": "..os"}),
        ("module-path", {"module": "targets/loop"}),
        ("env-name-bad", {"program": "targets/loop.py", "env": {"1A": "x"}}),
        ("env-name-equals", {"program": "targets/loop.py", "env": {"A=B": "x"}}),
        ("env-value-int", {"program": "targets/loop.py", "env": {"A": 1}}),
    ]


def shape_escapes() -> list[tuple[str, Any]]:
    """Wrong types, unknown fields, huge arrays, deep nesting, bodies that are not JSON."""
    return [
        ("debugger-unknown", {"debugger": "pdb", "program": "targets/loop.py"}),
        ("debugger-empty", {"debugger": "", "program": "targets/loop.py"}),
        ("debugger-path", {"debugger": "../gdb", "program": "waiter"}),
        ("debugger-case", {"debugger": "GDB", "program": "waiter"}),
        ("debugger-int", {"debugger": 5, "program": "targets/loop.py"}),
        ("debugger-list", {"debugger": ["gdb"], "program": "waiter"}),
        ("debugger-null", {"debugger": None, "program": "targets/loop.py"}),
        ("request-unknown", {"request": "exec", "program": "targets/loop.py"}),
        ("request-int", {"request": 1, "program": "targets/loop.py"}),
        ("request-dict", {"request": {}, "program": "targets/loop.py"}),
        ("unknown-field", {"program": "targets/loop.py", "shell": True}),
        ("unknown-proto", {"program": "targets/loop.py", "__proto__": {"x": 1}}),
        ("unknown-field-breakpoint", {"program": "targets/loop.py", "breakpoints": [
            {"path": "targets/loop.py", "line": 5, "shell": "1"}]}),
        ("program-int", {"program": 7}),
        ("program-list", {"program": ["targets/loop.py"]}),
        ("program-dict", {"program": {"path": "targets/loop.py"}}),
        ("two-targets", {"program": "targets/loop.py", "module": "os"}),
        ("no-target", {"debugger": "debugpy"}),
        ("args-string", {"program": "targets/loop.py", "args": "; true"}),
        ("args-dict", {"program": "targets/loop.py", "args": {"a": 1}}),
        ("args-nested", {"program": "targets/loop.py", "args": [["a"]]}),
        ("args-huge", {"program": "targets/loop.py", "args": ["x"] * 200_000}),
        ("breakpoints-huge", {"program": "targets/loop.py", "breakpoints": [
            {"path": "targets/loop.py", "line": 1 + i % 20} for i in range(20_000)]}),
        ("function-bps-huge", {"program": "targets/loop.py",
                               "function_breakpoints": [f"f{i}" for i in range(50_000)]}),
        ("env-huge", {"program": "targets/loop.py",
                      "env": {f"V{i}": "x" * 10 for i in range(50_000)}}),
        ("breakpoint-line-huge", {"program": "targets/loop.py", "breakpoints": [
            {"path": "targets/loop.py", "line": 2**70}]}),
        ("breakpoint-line-float", {"program": "targets/loop.py", "breakpoints": [
            {"path": "targets/loop.py", "line": 1.5}]}),
        ("breakpoint-line-bool", {"program": "targets/loop.py", "breakpoints": [
            {"path": "targets/loop.py", "line": True}]}),
        ("breakpoints-dict", {"program": "targets/loop.py", "breakpoints": {"a": 1}}),
        ("stop-on-entry-string", {"program": "targets/loop.py", "stop_on_entry": "yes"}),
        ("nested-args-100", _nested(100)),
        ("nested-args-5000", _nested(5000)),
        ("nested-env-3000", _nested_env(3000)),
        ("body-array", b"[]"),
        ("body-string", b'"program"'),
        ("body-number", b"1e400"),
        ("body-null", b"null"),
        ("body-empty", b""),
        ("body-truncated", b'{"program": "targets/loop.py"'),
        ("body-not-utf8", b'{"program": "\xff\xfe"}'),
        ("body-nan", b'{"program": "targets/loop.py", "pid": NaN}'),
        ("body-duplicate-keys", b'{"program": "targets/loop.py", "program": "/etc/passwd"}'),
        ("body-bom", b'\xef\xbb\xbf{"program": "targets/loop.py"}'),
        ("body-big-int", b'{"program": "targets/loop.py", "pid": '
         + b"9" * 5000 + b', "request": "attach"}'),
    ]


def pid_escapes(p: Places) -> list[tuple[str, Any]]:
    """Attach to processes the server must refuse (or may take: only the decoy)."""
    cases: list[tuple[str, Any]] = [
        # pid 1 is refused by attachable.py before any ptrace, whatever the debugger and
        # even as root (tests/runner/test_attach.py proves it without a debugger first).
        ("pid-1-debugpy", {"request": "attach", "pid": 1}),
        ("pid-1-gdb", {"debugger": "gdb", "request": "attach", "pid": 1}),
        ("pid-1-lldb", {"debugger": "lldb", "request": "attach", "pid": 1}),
        ("pid-0", {"debugger": "gdb", "request": "attach", "pid": 0}),
        ("pid-negative", {"debugger": "gdb", "request": "attach", "pid": -1}),
        ("pid-missing", {"debugger": "gdb", "request": "attach", "pid": NO_SUCH_PID}),
        ("pid-huge", {"debugger": "gdb", "request": "attach", "pid": 2**63}),
        ("pid-float", {"debugger": "gdb", "request": "attach", "pid": 1.5}),
        ("pid-string", {"debugger": "gdb", "request": "attach", "pid": str(p.decoy_pid)}),
        ("pid-bool", {"debugger": "gdb", "request": "attach", "pid": True}),
        ("pid-without-attach", {"debugger": "gdb", "pid": p.decoy_pid}),
        ("attach-with-program", {"debugger": "gdb", "request": "attach",
                                 "program": "waiter"}),
        ("pid-decoy-gdb", {"debugger": "gdb", "request": "attach", "pid": p.decoy_pid}),
        ("pid-server-itself", {"debugger": "gdb", "request": "attach",
                               "pid": p.server_pid}),
    ]
    if p.foreign_pid is not None:
        for debugger in ("debugpy", "gdb", "lldb"):
            cases.append((f"pid-other-user-{debugger}",
                          {"debugger": debugger, "request": "attach", "pid": p.foreign_pid}))
    return cases


def all_escapes(p: Places) -> list[tuple[str, Any]]:
    """Every hand-written hostile launch spec."""
    return [*path_escapes(p), *string_escapes(), *shape_escapes(), *pid_escapes(p)]


def encode(body: Any) -> bytes:
    """The request body: raw bytes as they are, anything else as JSON (\\uXXXX escapes,
    so a lone surrogate travels as JSON text and reaches the server's decoder)."""
    return body if isinstance(body, bytes) else json.dumps(body).encode()
