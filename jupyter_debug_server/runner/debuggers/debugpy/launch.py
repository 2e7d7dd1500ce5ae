"""How a Python program is launched under pydevd: argv, cwd and environment.

Owned by the worker's event loop (nothing here blocks but a few stat calls).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ....dap.messages import Message
from ..registry import AdapterError

#: The script that becomes the debuggee: found by path, as it runs in another interpreter.
BOOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pydevd_boot.py")
# Environment variables of ours that must never reach a debuggee.
_PRIVATE_ENV_PREFIX = "JDS_"



def debugpy_dir() -> str:
    """The folder that holds the `debugpy` package (put on the debuggee's sys.path)."""
    # Here, not at the top: only a launch or an attach needs debugpy in the worker.
    import debugpy  # noqa: PLC0415 (see above)

    return os.path.dirname(os.path.dirname(os.path.abspath(debugpy.__file__)))


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AdapterError(f"'{name}' must be a list of strings, not {value!r}")
    return value


def launch_argv(args: Message, options: argparse.Namespace
                ) -> tuple[list[str], str | None, dict[str, str]]:
    """argv (with "{fd}" where the channel's fd goes), cwd and environment of a `launch`."""
    program = args.get("program", options.program)
    module = args.get("module", options.module)
    if bool(program) == bool(module):
        raise AdapterError("'launch' needs exactly one of 'program' or 'module'")
    target_args = _string_list(args.get("args", options.args or []), "args")
    python = args.get("python", sys.executable)
    if isinstance(python, list):
        python = _string_list(python, "python")[0]
    if not isinstance(python, str):
        raise AdapterError(f"'python' must be a path to an interpreter, not {python!r}")
    cwd = args.get("cwd")
    if cwd is not None and (not isinstance(cwd, str) or not os.path.isdir(cwd)):
        raise AdapterError(f"'cwd' {cwd!r} is not a directory")
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_ENV_PREFIX)}
    # Without this the target's prints sit in a pipe buffer while you step.
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    extra = args.get("env") or {}
    if not isinstance(extra, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in extra.items()
    ):
        raise AdapterError("'env' must map strings to strings")
    env.update(extra)
    if module:
        if not isinstance(module, str):
            raise AdapterError(f"'module' must be a string, not {module!r}")
        what = ["-m", module]
    else:
        if not isinstance(program, str):
            raise AdapterError(f"'program' must be a string, not {program!r}")
        path = os.path.join(cwd or os.getcwd(), program)
        if not os.path.isfile(path):
            raise AdapterError(f"program {program!r} is not a file")
        what = [path]
    return [python, BOOT, "{fd}", debugpy_dir(), *what, *target_args], cwd, env
