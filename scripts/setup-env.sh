#!/usr/bin/env bash
# Create .venv (when missing) and install posture with the extras named in $1
# ("app" or "app,test"). Sourced by run-app.sh and run-tests.sh; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-app}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
echo "==> installing posture[$extras]"
.venv/bin/python -m pip install -q -r requirements.txt
.venv/bin/python -m pip install -q --no-deps -e ".[$extras]"
echo "==> provisioning the pose model (cached after the first run)"
.venv/bin/posture models fetch full
