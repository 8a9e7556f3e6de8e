#!/usr/bin/env bash
# Runs clang-tidy-14 (the checks in .clang-tidy; any finding fails) over every
# library source, two at a time. With the tsa preset's compilation database
# (the default) the same pass is the clang -Wthread-safety analysis: its
# flags make every thread-safety finding an error.
# Usage: scripts/tidy.sh [build-dir]   (default: build/tsa, configured here)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/tsa}
[[ $# -eq 0 ]] && cmake --preset tsa >/dev/null
[[ -f $dir/compile_commands.json ]] || { echo "tidy: no $dir/compile_commands.json" >&2; exit 2; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! run-clang-tidy-14 -p "$dir" -j "${NUMASLAB_TIDY_JOBS:-2}" -quiet "$PWD/src/.*\\.cc\$" >"$log" 2>&1 ||
   grep -qE '(warning|error):' "$log"; then
  sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E -A3 '(warning|error):' >&2 || cat "$log" >&2
  echo "clang-tidy: FAIL" >&2
  exit 1
fi
echo "clang-tidy: $(grep -cE "\"file\": \".*/src/.*\\.cc\"" "$dir/compile_commands.json") library sources clean"
