#!/usr/bin/env bash
# Install the test dependencies and run every check and test. Exits non-zero on
# any failure, and when no test ran at all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"
ruff check jupyter_debug_server tests bench
mypy
python -m pytest -p no:cacheprovider "$@"
