#!/usr/bin/env bash
# Installs the Debian 12 packages numaslab needs to build, test and demo.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds the peer allocators)
set -euo pipefail

pkgs=(build-essential cmake ninja-build g++ clang-14 libgtest-dev libgmock-dev
      pkg-config go-md2man gnuplot-nox clang-format-14 clang-tidy-14
      libbenchmark-dev libcli11-dev nlohmann-json3-dev spin libclang-rt-14-dev
      python3 perl sqlite3 git gcc xz-utils coreutils valgrind)  # the last line: programs the malloc tests run
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev libtbb-dev gnuplot-nox valgrind)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "numaslab: installing ${missing[*]}" >&2
sudo=()
[[ $(id -u) -ne 0 ]] && sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
  "${sudo[@]}" apt-get update
  "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
