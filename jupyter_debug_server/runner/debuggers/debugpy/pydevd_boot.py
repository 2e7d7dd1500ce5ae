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

# It imports debugpy and pydevd late, inside functions, on purpose: only once the target's
# sys.path holds debugpy's folder, and only what the start needs (see each comment).
# ruff: noqa: PLC0415

import os
import socket
import sys

_HIDDEN_FILE_PATTERNS = ("pydevd_boot.py",)


class _CommandEvent:
    """A suspended thread's wake-up event that stays set while commands wait for it.

    pydevd's suspend loop (`PyDB._do_wait_suspend`) runs at most one queued command per
    pass, then `wait(0.2)` and `clear()` on this thread's event. Two requests that arrive
    together (nvim-dap writes one `variables` request per scope) set the event twice before
    the loop looks, so one pass and one clear() consume both wake-ups, and the second
    command waits out the 0.2 s timeout. Here every set() is one wake-up, a clear()
    consumes one, and the event stays set while wake-ups remain for commands still queued.
    Capping by the queue's length keeps extra set()s (resume requests, which queue
    nothing) from making later waits return early more than once.
    """

    def __init__(self, queue, event):
        # Imported here, not at the top: attach() must see whether the process had
        # imported threading before we came (see its main-thread fix-up).
        import threading

        self._queue = queue
        self._event = event  # pydevd's own Event: other holders keep working with it
        self._lock = threading.Lock()
        self._wakeups = 0

    def set(self):
        with self._lock:
            self._wakeups += 1
            self._event.set()

    def clear(self):
        with self._lock:
            self._wakeups = min(self._wakeups - 1, self._queue.qsize())
            if self._wakeups <= 0:
                self._wakeups = 0
                self._event.clear()

    def wait(self, timeout=None):
        return self._event.wait(timeout)

    def is_set(self):
        return self._event.is_set()


def _keep_wakeups(pydevd):
    """Make pydevd hand out `_CommandEvent`s for its per-thread command queues.

    The one seam is `PyDB.get_internal_queue_and_event` (debugpy 1.8.x), which both the
    poster (`post_internal_command`) and the suspend loop call; each thread's event is
    wrapped once and the wrapper kept on the PyDB. This fixes pydevd's loop where it
    loses the wake-up, rather than holding requests back in the worker, which would add
    a round trip to every request and could not know what pydevd queues and what it
    answers at once. Without that method (another pydevd) nothing is changed.
    """
    cls = getattr(pydevd, "PyDB", None)
    original = getattr(cls, "get_internal_queue_and_event", None)
    if original is None or getattr(original, "keeps_wakeups", False):
        return

    def get_internal_queue_and_event(self, thread_id):
        queue, event = original(self, thread_id)
        wrappers = self.__dict__.setdefault("_jds_command_events", {})
        wrapper = wrappers.get(event)
        if wrapper is None:
            # setdefault is atomic: two threads asking at once get the same wrapper.
            wrapper = wrappers.setdefault(event, _CommandEvent(queue, event))
        return queue, wrapper

    get_internal_queue_and_event.keeps_wakeups = True
    cls.get_internal_queue_and_event = get_internal_queue_and_event


def _import_pydevd(debugpy_dir):
    """Import debugpy's vendored pydevd configured for DAP, from `debugpy_dir`."""
    if debugpy_dir:
        sys.path.insert(0, debugpy_dir)
    # Here, not at the top: debugpy is importable only once its folder is on sys.path,
    # and only for as long as it takes (the program's own imports must not see it).
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
    import debugpy  # already imported by _import_pydevd (sys.path no longer has it)

    _keep_wakeups(pydevd)

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
            import attach_script  # debugpy's helper, importable only from helper_dir

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

    # pydevd's runpy, hidden from stacks like debugpy's own; importable once pydevd is.
    from _pydevd_bundle import pydevd_runpy as runpy

    if module:
        sys.path.insert(0, "")
        runpy._run_module_as_main(module, alter_argv=True)
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(program)))
        runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv)
