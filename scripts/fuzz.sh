#!/usr/bin/env bash
# A longer coverage-guided fuzzing run of every parser of untrusted input (scripts/fuzz.py):
#     scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default 300 s, every target)
# Findings (crash-*, timeout-*, oom-*) land in .fuzz/findings/<target>/, the growing corpus in
# .fuzz/corpus/<target>/ (kept between runs). Exit status 1 if any target found something.
set -u
cd "$(dirname "$0")/.."
. scripts/venv.sh && ensure_venv test
seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(annotations yaml routes review regex)
status=0
for target in "${targets[@]}"; do
    mkdir -p ".fuzz/corpus/$target" ".fuzz/findings/$target"
    echo "== $target (${seconds}s)"
    if ! "$VENV/bin/python" scripts/fuzz.py "$target" -max_total_time="$seconds" -timeout=5 \
            -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix=".fuzz/findings/$target/" ".fuzz/corpus/$target"; then
        echo "!! $target: findings in .fuzz/findings/$target/"
        status=1
    fi
done
exit $status
