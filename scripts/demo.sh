#!/usr/bin/env bash
# The main job: set up, then start JupyterLab with the extension and a demo session
# stopped at a breakpoint, the Debug Sessions panel open on it (the printed URL; a local
# browser is opened when there is one). Ctrl-C stops the server and ends the session.
# The server's URL and token go to an env file in Jupyter's runtime directory (mode 0600,
# outside the served root directory); in another terminal, from this checkout:
#   source "$(.venv/bin/jupyter --runtime-dir)/jupyter-debug-server-demo.env"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/jupyter-debug-server serve --demo "$@"
