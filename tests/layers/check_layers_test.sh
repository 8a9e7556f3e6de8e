#!/usr/bin/env bash
# The include-order check passes on src/ and fails, naming the file and the
# layers, on an upward include and on two layers that include each other.
# Usage: check_layers_test.sh <source-dir>
set -euo pipefail
root=${1:-"$(dirname "$0")/../.."}
check="$root/scripts/check_layers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$check" "$root/src" >"$tmp/out" || fail "src/ does not pass: $(cat "$tmp/out")"

fresh() { rm -rf "$tmp/src"; cp -r "$root/src" "$tmp/src"; }
expect_failure() {  # message pattern
  if "$check" "$tmp/src" >"$tmp/out" 2>&1; then fail "accepted: $1"; fi
  grep -qE "$1" "$tmp/out" || fail "no '$1' in: $(cat "$tmp/out")"
}

# An upward include: base/ reaching cache/.
fresh
echo '#include "cache/cache.h"' >>"$tmp/src/base/check.h"
expect_failure 'base/check\.h:[0-9]+: base/ includes cache/, a layer above it'

# Two layers that include each other (slab/ already includes page/).
fresh
printf '#pragma once\n#include "slab/slab.h"\n' >"$tmp/src/page/upward.h"
expect_failure 'page/ and slab/ include each other'

# A .S file counts, and so does an indented directive.
fresh
echo ' #  include "malloc/replace.h"' >>"$tmp/src/api/fast_path_x86_64.S"
expect_failure 'api/ includes malloc/'

# A directory the written order does not list.
fresh
mkdir "$tmp/src/extra" && echo '#include "base/check.h"' >"$tmp/src/extra/x.h"
expect_failure 'src/extra/ is not a layer listed'

echo "check_layers_test: PASS"
