#!/usr/bin/env bash
# The main job: set up, then start Jupyter with the extension and a demo session
# stopped at a breakpoint. Ctrl-C stops the server and ends the session.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/jupyter-debug-server serve --demo "$@"
