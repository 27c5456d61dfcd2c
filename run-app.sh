#!/usr/bin/env bash
# Set up (first run only) and start the posture app on http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup-env.sh app
exec .venv/bin/streamlit run app.py --server.address localhost --server.port "${PORT:-8501}" \
    --browser.gatherUsageStats false "$@"
