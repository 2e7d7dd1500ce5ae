#!/usr/bin/env bash
# Set up everything on a fresh Debian machine: system packages, a virtualenv in
# .venv, and this package (with the test extra when called with "test").
# Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-}

apt_packages=(gcc g++ gdb)
# lldb-dap for the lldb worker's tests (only one lldb version may be installed); openssl
# makes the certificate of the TLS WebSocket test.
if [ "$extra" = test ]; then
  apt_packages+=(lldb-19 openssl)
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
if [ "$extra" = test ]; then
  .venv/bin/python -m pip install -q -e ".[test]"
else
  .venv/bin/python -m pip install -q -e .
fi

# Node packages for the DebugClient test (tests/js, see tests/js/README.md).
if [ "$extra" = test ]; then
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      echo "setup: installing nodejs npm with apt-get"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq nodejs npm >/dev/null
    else
      echo "setup: please install node and npm (apt-get install nodejs npm)" >&2
      exit 1
    fi
  fi
  npm ci --no-audit --no-fund --prefix tests/js
fi
