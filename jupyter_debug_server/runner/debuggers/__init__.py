"""The worker side: everything that runs in a worker process or inside the debuggee.

A worker is `python -m jupyter_debug_server.runner.debuggers.<name>_adapter`; each of
`debugpy_adapter`, `gdb_adapter` and `lldb_adapter` is its adapter's entry point and
composition root. The harness (worker.py, stdio.py) runs an adapter on its channel;
registry.py turns DAP requests into handler calls; base.py is what every adapter
shares. Families are folders: debugpy/ (pydevd_boot.py runs inside the debuggee),
native/ (launch plan, exec_stub.py, which becomes the debuggee; shared checks),
gdb/ and lldb/. Nothing here imports the server side (runner/, api/, store/): only
dap/ and itself. The server imports a few rules from here that both sides must apply
alike (processes.py, attachable.py, native/checks.py, lldb/discovery.py).
"""
