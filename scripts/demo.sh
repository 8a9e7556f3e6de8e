#!/usr/bin/env bash
# The demo: the seed patch's test — CPUs going down and up under a
# file-server-like load — on a simulated 2-node, 4-CPU machine.
# Usage: scripts/demo.sh [numaslab-stress options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target numaslab-stress
args=("$@")
[[ ${#args[@]} -eq 0 ]] && args=(--topology sim:2x2 --threads 4 --seconds 20)
exec build/release/tools/numaslab-stress "${args[@]}"
