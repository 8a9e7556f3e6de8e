#!/usr/bin/env bash
# Builds numaslab-fuzz (preset "fuzz": clang, ASan, libFuzzer) and runs it
# against a model for a bounded time, starting from the seed corpus in
# fuzz/corpus (left unchanged: new inputs go to a scratch directory).
# Usage: scripts/fuzz.sh [seconds]   (default 60; exit status is the fuzzer's)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "=== numaslab: fuzzing for ${seconds} s ==="
set +e
ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=0 \
  build/fuzz/fuzz/numaslab-fuzz -max_total_time="$seconds" -print_final_stats=1 \
  -rss_limit_mb=3072 -max_len=4096 -timeout=30 -artifact_prefix="$work/" \
  "$work" fuzz/corpus >"$work/log" 2>&1
status=$?
set -e
grep -E "numaslab-fuzz:|MODEL MISMATCH|ERROR|stat::number_of_executed_units|^Done" "$work/log" || true
if [[ $status -ne 0 ]]; then
  tail -60 "$work/log"
  for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
    [[ -e "$f" ]] && { echo "reproducer (hex):"; od -An -tx1 "$f" | head -20; }
  done
  echo "=== numaslab: fuzzer FAILED ==="
  exit "$status"
fi
echo "=== numaslab: fuzzer passed ==="
