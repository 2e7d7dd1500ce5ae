"""What the gdb and lldb adapters share: the launch plan and the stub that parks a native
program before exec (exec_stub.py becomes the debuggee), start-up, and request checks."""
