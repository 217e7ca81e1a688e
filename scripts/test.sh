#!/usr/bin/env bash
# Sets up (or reuses) a virtual environment with canarist and its test extras,
# then runs the linters and the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
ensure_venv test
"$VENV/bin/ruff" check webhook tests scripts
"$VENV/bin/mypy"
"$VENV/bin/pytest" "$@"
