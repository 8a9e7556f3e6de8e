#!/usr/bin/env bash
# Builds numaslab-core-bench and runs it twice: on the real topology and on a
# simulated 2-node x 1-CPU machine (the run that exercises cross-node frees on
# a single-node host).
#
# Usage: bench/run_core.sh [BUILD_DIR] [-- extra benchmark flags...]
#   BUILD_DIR defaults to build/release (configured with `cmake --preset
#   release` when missing). A BUILD_DIR that is not configured yet is
#   configured as a Release build. Numbers from non-Release builds are not
#   worth reading.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

build=""
if [[ $# -gt 0 && $1 != -- ]]; then
  build=$1
  shift
fi
[[ ${1:-} == -- ]] && shift

if [[ -z $build ]]; then
  build=$root/build/release
  if [[ ! -f $build/CMakeCache.txt ]]; then
    (cd "$root" && cmake --preset release)
  fi
elif [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
if [[ $build_type != Release ]]; then
  echo "warning: $build is a '$build_type' build; timings will not be representative" >&2
fi

# Only the benchmark target: the build directory may also hold tests and
# tools that are not needed here.
cmake --build "$build" --target numaslab-core-bench

bin=$build/bench/numaslab-core-bench
for topo in real sim:2x1; do
  echo
  echo "=== NUMASLAB_TOPOLOGY=$topo ==="
  # Debian's Google Benchmark 1.7.1 takes --benchmark_min_time as plain seconds.
  NUMASLAB_TOPOLOGY=$topo "$bin" --benchmark_min_time=0.2 "$@"
done
