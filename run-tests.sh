#!/usr/bin/env bash
# Set up everything the test suite needs (first run only) and run it, then ruff.
# Extra arguments go to pytest, e.g. ./run-tests.sh -k contract
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup-env.sh app,test
echo "==> installing test and dev-tool requirements"
.venv/bin/python -m pip install -q -r requirements-dev.txt
if [ -f tools/synth/requirements.txt ]; then
    # torch first, from the CPU build pip finds locally, or pip pulls a multi-GB CUDA build
    .venv/bin/python -m pip install -q "$(grep -E '^torch==' tools/synth/requirements.txt)"
    .venv/bin/python -m pip install -q -r tools/synth/requirements.txt
fi
echo "==> pytest"
.venv/bin/python -m pytest -q "$@"
echo "==> ruff"
.venv/bin/ruff check .
