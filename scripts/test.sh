#!/usr/bin/env bash
# Builds numaslab and runs the test suite.
# Usage: scripts/test.sh [preset ...]   (default: the include-order check,
# release, asan-ubsan (AddressSanitizer and UndefinedBehaviorSanitizer in one
# build) and tsan, plus clang-tidy with the clang thread-safety analysis
# (preset tsa), then the fuzzer for NUMASLAB_FUZZ_SECONDS, default 60).
# Presets are in CMakePresets.json (asan and ubsan exist on their own too).
# Under a sanitizer the tests that do not depend on the build (the Promela
# models, packaging) are not run again, nor are the fork tests: the sanitizer
# runtimes' own allocators are not fork-safe while other threads run (TSan
# refuses threads in such a child; ASan's child can hang on its allocator's
# lock).
# The release preset also runs the cache, hotplug and stress tests again at
# NUMASLAB_CHECK=full.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

echo "=== numaslab: include order (src/README.md), formatting (at ${SECONDS} s) ==="
scripts/check_layers.sh
tests/layers/check_layers_test.sh .
scripts/check_format.sh

presets=("$@")
fuzz=0
[[ ${#presets[@]} -eq 0 ]] && { presets=(release asan-ubsan tsan tsa); fuzz=1; }

for p in "${presets[@]}"; do
  echo "=== numaslab: preset $p (at ${SECONDS} s) ==="
  cmake --preset "$p" >/dev/null
  if [[ "$p" == tsa ]]; then
    # One clang pass over the library: clang-tidy, with -Wthread-safety
    # -Werror=thread-safety from the preset's flags.
    scripts/tidy.sh "build/$p"
    echo "clang -Wthread-safety: clean"
    continue
  fi
  cmake --build --preset "$p"
  skip=()
  case $p in
    release | debug) ;;
    *) skip=(-LE '^(model|packaging|bench|fork|debug_tools)$') ;;
  esac
  ctest --preset "$p" "${skip[@]}"
  if [[ "$p" == release ]]; then
    echo "=== numaslab: preset release at NUMASLAB_CHECK=full (cache, hotplug, stress) (at ${SECONDS} s) ==="
    NUMASLAB_CHECK=full ctest --preset "$p" -L '^(cache|hotplug|stress)$'
  fi
done
if [[ $fuzz -eq 1 ]]; then
  scripts/fuzz.sh "${NUMASLAB_FUZZ_SECONDS:-60}"
  presets+=(fuzz)
fi
echo "=== numaslab: all tests passed (${presets[*]}) (at ${SECONDS} s) ==="
