"""Start a program as our child and ptrace-seize it, so no debugger can attach to it.

    python tracer.py PROGRAM [ARGS...]

Prints the child's pid, then holds it traced until stdin closes. Being the parent,
we may trace it even under Yama's ptrace_scope 1.
"""

import ctypes
import os
import signal
import subprocess
import sys

PTRACE_SEIZE = 0x4206

child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
assert child.stdout is not None
child.stdout.readline()  # "ready": it runs
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
if libc.ptrace(PTRACE_SEIZE, child.pid, None, None) != 0:
    sys.exit(f"PTRACE_SEIZE failed: {os.strerror(ctypes.get_errno())}")
print(child.pid, flush=True)
sys.stdin.read()
os.kill(child.pid, signal.SIGKILL)
