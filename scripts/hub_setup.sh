#!/usr/bin/env bash
# Build what the real-hub tests (tests/hub/) run: a virtualenv with JupyterHub
# (tests/hub/requirements.txt) and this package, and configurable-http-proxy from npm
# (tests/hub/proxy/, locked, installed with `npm ci`). Prints the venv's path as its last
# line. Safe to run again: the package is reinstalled only when its source changed.
#
# Where the venv goes: $JDS_HUB_VENV if set; else build/hub/venv in this checkout, unless
# we run as root and other users cannot reach this checkout (the OS-isolation tests spawn
# single-user servers as other users, who must be able to run the venv's Python): then
# /opt/jupyter-debug-server-tests/hub-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022  # the spawned users read and run this venv
repo=$PWD

# True when an unprivileged user could run a program inside $1 (every folder on the way
# searchable, the folder readable): asked of the kernel as `nobody`, not guessed from modes.
reachable_by_others() {
  setpriv --reuid=65534 --regid=65534 --clear-groups -- test -r "$1" -a -x "$1" 2>/dev/null
}

venv=${JDS_HUB_VENV:-}
if [ -z "$venv" ]; then
  if [ "$(id -u)" = 0 ] && ! reachable_by_others "$repo"; then
    venv=/opt/jupyter-debug-server-tests/hub-venv
  else
    venv=$repo/build/hub/venv
  fi
fi

# The system interpreter, not .venv's (scripts/test.sh puts .venv/bin first on PATH): a
# venv made from it points at /usr/bin/python3, which every user can run.
python=$(command -v /usr/bin/python3 || command -v python3)
if [ ! -x "$venv/bin/python" ]; then
  echo "hub_setup: creating $venv" >&2
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
fi
"$venv/bin/python" -m pip install -q -r tests/hub/requirements.txt >&2

# This package, installed as a copy (not editable: the spawned users may not reach this
# checkout), again whenever a file of it changed since the last install.
stamp="$venv/.jupyter-debug-server-source"
source_hash=$(find jupyter_debug_server pyproject.toml jupyter-config -type f \
  ! -path '*/__pycache__/*' ! -path 'jupyter_debug_server/labextension/*' -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$source_hash" ]; then
  echo "hub_setup: installing jupyter-debug-server into $venv" >&2
  "$venv/bin/python" -m pip install -q --force-reinstall --no-deps "$repo" >&2
  "$venv/bin/python" -m pip install -q "$repo" >&2  # its dependencies, if any are new
  echo "$source_hash" >"$stamp"
fi

# configurable-http-proxy, exactly as locked (the hub starts it from there).
if [ ! -x tests/hub/proxy/node_modules/.bin/configurable-http-proxy ] \
   || [ tests/hub/proxy/package-lock.json -nt tests/hub/proxy/node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --prefix tests/hub/proxy >&2
fi
echo "$venv"
