#!/usr/bin/env bash
# Set up everything the test suite needs (first run only) and run it, then ruff.
# Extra arguments go to pytest, e.g. ./run-tests.sh -k contract
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup-env.sh app,test
# The browser tests need Debian's Chromium; install it where we can (root), else they skip.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing chromium (Debian) for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium fonts-dejavu-core >/dev/null
fi
# The clinic-store tests start a throwaway PostgreSQL cluster (tests/test_store_postgres.py).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing postgresql (Debian) for the clinic-store tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql >/dev/null
fi
# Noto fonts (Debian) for names in every script in the PDF report; without them those
# tests skip.
if [ ! -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] && [ "$(id -u)" = 0 ] \
        && command -v apt-get >/dev/null; then
    echo "==> installing Noto fonts (Debian) for the PDF report"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends fonts-noto-core fonts-noto-cjk >/dev/null
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
echo "==> installing test and dev-tool requirements"
.venv/bin/python -m pip install -q -r requirements-dev.txt
echo "==> installing the optional Ray engine (posture[cluster]) for its tests"
.venv/bin/python -m pip install -q -r requirements-cluster.txt
if [ -f tools/synth/requirements.txt ]; then
    # torch first, from the CPU build pip finds locally, or pip pulls a multi-GB CUDA build
    .venv/bin/python -m pip install -q "$(grep -E '^torch==' tools/synth/requirements.txt)"
    .venv/bin/python -m pip install -q -r tools/synth/requirements.txt
fi
echo "==> pytest"
.venv/bin/python -m pytest -q "$@"
echo "==> ruff"
.venv/bin/ruff check .
