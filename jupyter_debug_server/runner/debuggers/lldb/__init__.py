"""The lldb adapter: lldb-dap behind our exec stub, with its differences from DAP smoothed."""
