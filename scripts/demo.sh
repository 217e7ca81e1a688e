#!/usr/bin/env bash
# Installs canarist into .venv (first run only) and runs the guided demo on the embedded cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
ensure_venv fast
exec "$VENV/bin/canarist" demo "$@"
