#!/usr/bin/env bash
# Builds numaslab and runs the test suite.
# Usage: scripts/test.sh [preset ...]   (default: release asan tsan, plus the
# clang thread-safety analysis build). Presets are in CMakePresets.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

presets=("$@")
[[ ${#presets[@]} -eq 0 ]] && presets=(release asan tsan tsa)

for p in "${presets[@]}"; do
  echo "=== numaslab: preset $p ==="
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p"
  if [[ "$p" == tsa ]]; then
    echo "clang -Wthread-safety: clean"
    continue
  fi
  ctest --preset "$p"
done
echo "=== numaslab: all tests passed (${presets[*]}) ==="
