#!/usr/bin/env bash
# Counts the instructions of the hand-written fast paths' hit paths, from the
# entry point to the return, in a built numaslab library (the disassembly is
# straight-line up to the first `ret`: every branch before it leaves for the
# slow path). Fails if an allocation takes more than 20 or a free more than 30.
# Usage: bench/fast_path_count.sh [path/to/libnumaslab.a|.so]
set -eu
lib=${1:-build/release/libnumaslab.a}
[[ -r $lib ]] || { echo "fast_path_count: cannot read $lib" >&2; exit 2; }
status=0
count() {  # symbol limit
  local sym=$1 limit=$2 n
  n=$(objdump -d --no-show-raw-insn "$lib" |
      awk -v s="<$sym>:" '$0 ~ s {on=1; next} on && /^$/ {exit} on && NF > 1 {n++; if ($2 == "ret") {print n; exit}}')
  if [[ -z $n ]]; then
    echo "fast_path_count: $sym not found in $lib" >&2
    status=1
    return
  fi
  local verdict=ok
  (( n > limit )) && { verdict="OVER (limit $limit)"; status=1; }
  printf '%-22s %3d instructions  (limit %d)  %s\n' "$sym" "$n" "$limit" "$verdict"
}
count numaslab_cache_alloc 20
count numaslab_kmalloc 20
count numaslab_cache_free 30
count numaslab_kfree 30
exit $status
