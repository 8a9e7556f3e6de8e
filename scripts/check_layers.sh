#!/usr/bin/env bash
# Checks the include order of src/: every #include "layer/..." must name the
# file's own layer or one listed before it in src/README.md. Reports upward
# includes, pairs of layers that include each other, and layer directories
# the README does not list.
# Usage: scripts/check_layers.sh [src-dir]   (default: the src/ of this tree)
set -euo pipefail
src=${1:-"$(dirname "$0")/../src"}
readme="$src/README.md"
[[ -f $readme ]] || { echo "check_layers: $readme not found" >&2; exit 2; }

# The order: the numbered list of `dir/` entries in the README.
declare -A rank=()
n=0
while read -r layer; do
  rank[$layer]=$n
  n=$((n + 1))
done < <(sed -nE 's/^ *[0-9]+\. `([a-z_]+)\/`.*/\1/p' "$readme")
[[ $n -gt 1 ]] || { echo "check_layers: no layer list in $readme" >&2; exit 2; }

fail=0
declare -A edge=()
for dir in "$src"/*/; do
  layer=$(basename "$dir")
  if [[ -z ${rank[$layer]+x} ]]; then
    echo "check_layers: src/$layer/ is not a layer listed in src/README.md"
    fail=1
    continue
  fi
  while IFS=: read -r file line inc; do
    [[ -n ${rank[$inc]+x} ]] || continue  # a public or system header
    [[ $inc == "$layer" ]] && continue
    edge[$layer>$inc]=1
    if ((rank[$inc] > rank[$layer])); then
      echo "check_layers: ${file#"$src"/}:$line: $layer/ includes $inc/, a layer above it"
      fail=1
    fi
  done < <(grep -rnE --include='*.h' --include='*.cc' --include='*.S' \
             '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[a-z_]+/' "$dir" |
           sed -E 's/^([^:]+):([0-9]+):.*#[[:space:]]*include[[:space:]]+"([a-z_]+)\/.*/\1:\2:\3/')
done
for e in "${!edge[@]}"; do
  a=${e%%>*} b=${e#*>}
  if [[ -n ${edge[$b>$a]+x} && $a < $b ]]; then
    echo "check_layers: $a/ and $b/ include each other"
    fail=1
  fi
done
if [[ $fail -ne 0 ]]; then
  echo "check_layers: FAIL (the order is the list in src/README.md)"
  exit 1
fi
echo "check_layers: $n layers, no upward include"
