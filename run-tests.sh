#!/usr/bin/env bash
# Set up everything the test suite needs (first run only) and run it, then ruff.
# Extra arguments go to pytest, e.g. ./run-tests.sh -k contract
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup-env.sh app,test
# The offline-build tests (tests/test_models.py) build the pose model from the mediapipe
# 0.10.21 wheel. `models fetch` leaves that wheel in the cache only when it had to build
# offline; where Google's storage was reachable it is absent, so fetch it here (pip
# download from PyPI, never installed). Under CI a missing wheel fails those tests.
.venv/bin/python - <<'PY'
import subprocess, zipfile
from posture import models
src = models.cache_dir() / "sources"
if not any(zipfile.is_zipfile(w) for w in src.glob(models.SOURCE_WHEEL_GLOB)):
    print("==> downloading the mediapipe 0.10.21 wheel for the offline-build tests")
    src.mkdir(parents=True, exist_ok=True)
    subprocess.run(models.pip_download_command(src), check=True)
PY
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
# A Unicode font for the PDF report's tests (present with chromium, but not only then).
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && [ "$(id -u)" = 0 ] \
        && command -v apt-get >/dev/null; then
    echo "==> installing fonts-dejavu-core (Debian) for the PDF report"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends fonts-dejavu-core >/dev/null
fi
# Noto fonts (Debian) for names in every script in the PDF report; without them those
# tests skip.
if [ ! -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] && [ "$(id -u)" = 0 ] \
        && command -v apt-get >/dev/null; then
    echo "==> installing Noto fonts (Debian) for the PDF report"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends fonts-noto-core fonts-noto-cjk >/dev/null
fi
# Symbola (Debian, outlines) for emoji in names in the PDF report (Noto's emoji font is
# colour bitmaps, which fpdf2 cannot embed).
if [ ! -f /usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf ] && [ "$(id -u)" = 0 ] \
        && command -v apt-get >/dev/null; then
    echo "==> installing fonts-symbola (Debian) for emoji in the PDF report"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends fonts-symbola >/dev/null
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
