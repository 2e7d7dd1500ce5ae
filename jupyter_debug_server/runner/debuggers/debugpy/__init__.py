"""The debugpy debugger: our own DAP front for pydevd, the debugger inside the debuggee.

pydevd_boot.py runs inside the debuggee (standard library and debugpy only);
pydevd_attach.py injects it into a running process.
"""
