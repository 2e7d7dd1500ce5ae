"""`python -m jupyter_debug_server.cli`: the same as `jupyter-debug-server`."""

from __future__ import annotations

import sys

from .parser import main

if __name__ == "__main__":
    sys.exit(main())
