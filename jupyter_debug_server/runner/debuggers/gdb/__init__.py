"""The gdb debugger: a DAP adapter of our own on top of gdb's machine interface (GDB/MI)."""
