#!/usr/bin/env bash
# Install the test dependencies and run every check and test. Exits non-zero on
# any failure, and when no test ran at all.
#   bash scripts/test.sh                  everything: checks, the main suite, the hardening suite,
#                                         the real-hub suite, the extension's unit tests, the
#                                         wheel check with ui-tests
#   bash scripts/test.sh tests/x.py -k y  checks, then only the pytest arguments given
# HARDENING_SCALE=0.05 runs the hardening suite at 5 % of its volume (a quick local run);
# CI runs it at full volume (1.0, the default).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"
ruff check jupyter_debug_server tests bench scripts ui-tests
mypy
# The real-hub suite (tests/hub/) runs a JupyterHub, its proxy and single-user servers from
# a venv of their own that scripts/hub_setup.sh builds (its last line is the venv's path).
setup_hub() {
  JDS_HUB_VENV=$(bash scripts/hub_setup.sh | tail -n 1)
  export JDS_HUB_VENV
  export HUB_REPORT_DIR="$PWD/build/hub"
  rm -f "$HUB_REPORT_DIR/report"
}
if [ "$#" -gt 0 ]; then
  case " $* " in *tests/hub*) setup_hub ;; esac
  exec python -m pytest -p no:cacheprovider "$@"
fi
# tests/hardening and tests/hub each run in a pytest process of their own, below.
python -m pytest -p no:cacheprovider --ignore=tests/hardening --ignore=tests/hub
# The hardening suite runs in its own process (its servers are killed on purpose) and
# leaves its counts in build/hardening/, printed and checked last.
export HARDENING_REPORT_DIR="$PWD/build/hardening"
rm -rf "$HARDENING_REPORT_DIR"
python -m pytest -p no:cacheprovider tests/hardening
python scripts/hardening_summary.py
# A real JupyterHub with users alice and bob (and, as root, jds-alice and jds-bob spawned as
# OS users), in a pytest process of its own like the hardening suite: one hub and its
# servers live for the whole suite. build/hub/report lists every cross-user attempt with
# the status it got; it is printed whether the suite passed or not.
setup_hub
hub_status=0
python -m pytest -p no:cacheprovider tests/hub || hub_status=$?
cat "$HUB_REPORT_DIR/report" 2>/dev/null || true
[ "$hub_status" = 0 ] || exit "$hub_status"
# The JupyterLab extension: its TypeScript unit tests (jest, configured in labextension/),
# then issue 15's acceptance: a wheel built from a fresh clone, installed into a fresh
# venv, serves the extension; the browser tests (ui-tests/, in a pytest process of their
# own) run once, against that install (scripts/wheel_check.sh).
(cd labextension && jlpm install --immutable >/dev/null && jlpm test)
bash scripts/wheel_check.sh
