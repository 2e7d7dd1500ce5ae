#!/usr/bin/env bash
# Set up everything on a fresh Debian machine: system packages, a virtualenv in
# .venv, and this package (with the test extra when called with "test").
# Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-}

apt_packages=(gcc g++ gdb)
# node and npm build the JupyterLab extension (labextension/) from source; a wheel needs neither.
command -v npm >/dev/null 2>&1 || apt_packages+=(nodejs npm)
# lldb-dap for the lldb worker's tests (only one lldb version may be installed); openssl
# makes the certificate of the TLS WebSocket test; Debian's Chromium runs the browser tests
# (ui-tests/: Playwright never downloads a browser here).
if [ "$extra" = test ]; then
  apt_packages+=(lldb-19 openssl chromium)
fi
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: please install ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# The editable install builds labextension/ into jupyter_debug_server/labextension/ (jlpm,
# from jupyterlab, installs the locked npm packages) unless a build is already there;
# `jlpm --cwd labextension build:prod` rebuilds it after a change.
if [ "$extra" = test ]; then
  .venv/bin/python -m pip install -q -e ".[test]"
else
  .venv/bin/python -m pip install -q -e ".[lab]"
fi
# An editable install copies the built extension once; a link makes JupyterLab serve the
# build folder itself, so that a rebuild shows on the next page load.
PATH="$PWD/.venv/bin:$PATH" .venv/bin/jupyter labextension develop --overwrite . >/dev/null

# Node packages for the DebugClient test (tests/js, see tests/js/README.md).
if [ "$extra" = test ]; then
  npm ci --no-audit --no-fund --prefix tests/js
fi
