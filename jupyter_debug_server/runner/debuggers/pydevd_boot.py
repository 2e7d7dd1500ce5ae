"""Start pydevd inside the debuggee on a private, pre-connected socket.

This file runs inside the *target* interpreter (it is executed as a script for
`launch`, and imported by injected code for `attach`), so it uses only the
standard library and debugpy. It never imports jupyter_debug_server.

Why not `debugpy.connect()` to a TCP port: a loopback listener can be reached by
every user on the host, and debugpy would put its access token on argv. Here
pydevd is handed a socket that is already connected to the worker (an inherited
socketpair end, or a Unix socket in a 0700 directory), so there is nothing to
connect to and no secret to leak.
"""

import os
import socket
import sys

_HIDDEN_FILE_PATTERNS = ("pydevd_boot.py",)


def _import_pydevd(debugpy_dir):
    """Import debugpy's vendored pydevd configured for DAP, from `debugpy_dir`."""
    if debugpy_dir:
        sys.path.insert(0, debugpy_dir)
    try:
        import debugpy
        import debugpy.server  # noqa: F401  (sets pydevd's protocol to DAP)
        import pydevd
    finally:
        if debugpy_dir and sys.path and sys.path[0] == debugpy_dir:
            del sys.path[0]
    return pydevd


def _start_pydevd(sock, debugpy_dir, wait_for_ready_to_run):
    pydevd = _import_pydevd(debugpy_dir)
    import debugpy

    # pydevd.connect() looks `start_client` up as a module global at call time:
    # answering it with our socket is the one seam needed to avoid TCP entirely.
    pydevd.start_client = lambda host, port: sock
    debugpy_path = os.path.dirname(os.path.abspath(debugpy.__file__))
    pydevd.settrace(
        host="jupyter-debug-server",
        port=0,
        suspend=False,
        patch_multiprocessing=False,
        notify_stdin=False,
        wait_for_ready_to_run=wait_for_ready_to_run,
        dont_trace_start_patterns=(debugpy_path,),
        dont_trace_end_patterns=_HIDDEN_FILE_PATTERNS,
    )


def attach(sock_path, debugpy_dir):
    """Entry point for code injected into a running process: connect and debug it."""
    if "threading" not in sys.modules:
        # Same fix-up debugpy does: threading imported late misidentifies the main thread.
        helper_dir = os.path.join(
            debugpy_dir, "debugpy", "_vendored", "pydevd", "pydevd_attach_to_process"
        )
        sys.path.insert(0, helper_dir)
        try:
            import attach_script

            attach_script.fix_main_thread_id()
        finally:
            sys.path.remove(helper_dir)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sock_path)
    _start_pydevd(sock, debugpy_dir, wait_for_ready_to_run=False)


def _usage(message):
    sys.stderr.write(f"pydevd_boot: {message}\n")
    sys.exit(2)


def main(argv):
    """Launch mode: `pydevd_boot.py FD DEBUGPY_DIR (-m MODULE | PROGRAM) [ARGS...]`."""
    if len(argv) < 4:
        _usage("expected FD DEBUGPY_DIR (-m MODULE | PROGRAM) [ARGS...]")
    fd = int(argv[1])
    debugpy_dir = argv[2]
    rest = argv[3:]
    # Our own directory must not shadow the program's imports.
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        del sys.path[0]
    os.set_inheritable(fd, False)  # the target's children must not hold the channel
    sock = socket.socket(fileno=fd)
    if rest[0] == "-m" and len(rest) < 2:
        _usage("-m needs a module name")
    # argv first: pydevd names the process after sys.argv[0] when it connects.
    module = rest[1] if rest[0] == "-m" else None
    program = None if module else rest[0]
    sys.argv = [module, *rest[2:]] if module else [program, *rest[1:]]
    _start_pydevd(sock, debugpy_dir, wait_for_ready_to_run=True)

    from _pydevd_bundle import pydevd_runpy as runpy  # hidden from stacks like debugpy's own

    if module:
        sys.path.insert(0, "")
        runpy._run_module_as_main(module, alter_argv=True)
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(program)))
        runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv)
