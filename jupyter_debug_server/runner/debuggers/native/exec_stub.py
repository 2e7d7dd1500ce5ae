"""Become the debuggee: wait until the debugger is attached, then exec the program.

Run as `python exec_stub.py` by a native-debugger worker, with the launch in the
JDS_EXEC environment variable (removed before exec). Why not let gdb start the
program: with `startup-with-shell off`, gdb 13 splits arguments on white space
and ignores `exec-wrapper`, so neither verbatim argv nor our own stdout/stderr
pipes would be possible. This stub is started by the worker with the pipes and
the exact argv, lets the debugger attach (PR_SET_PTRACER allows it under Yama),
and execs the program when told to. Standard library only.
"""

import ctypes
import json
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1
_PR_SET_PTRACER = 0x59616D61


def main() -> None:
    spec = json.loads(os.environ.pop("JDS_EXEC"))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if spec.get("ptracer"):
        # Yama ptrace_scope 1 only lets ancestors attach, and gdb is our sibling.
        libc.prctl(_PR_SET_PTRACER, int(spec["ptracer"]), 0, 0, 0)
    ready, go = spec["ready_fd"], spec["go_fd"]
    os.write(ready, b"r")
    os.close(ready)
    answer = os.read(go, 1)
    os.close(go)
    if answer != b"g":
        sys.exit(0)  # the worker gave up (or died): never run the program undebugged
    argv = spec["argv"]
    # Python ignores these at start-up, and an ignored signal stays ignored across exec:
    # the program gets the defaults it would get from a shell (a write to a closed pipe
    # ends it, as `prog | head` expects), as subprocess's restore_signals does.
    for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    try:
        os.execv(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"cannot execute {argv[0]!r}: {exc.strerror}\n")
        sys.exit(127)


if __name__ == "__main__":
    main()
