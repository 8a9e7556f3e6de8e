#!/usr/bin/env bash
# Builds numaslab and runs the test suite.
# Usage: scripts/test.sh [preset ...]   (default: release asan tsan, plus the
# clang thread-safety analysis build, then the fuzzer for NUMASLAB_FUZZ_SECONDS,
# default 60). Presets are in CMakePresets.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

presets=("$@")
fuzz=0
[[ ${#presets[@]} -eq 0 ]] && { presets=(release asan tsan tsa); fuzz=1; }

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
if [[ $fuzz -eq 1 ]]; then
  scripts/fuzz.sh "${NUMASLAB_FUZZ_SECONDS:-60}"
  presets+=(fuzz)
fi
echo "=== numaslab: all tests passed (${presets[*]}) ==="
