#!/usr/bin/env bash
# numaslab-top and numaslab-slabinfo against a live process: the stress tool
# publishing its statistics. numaslab-top runs under a pseudo-terminal
# (script(1)), as a user would run it.
set -euo pipefail
stress=$1 top=$2 slabinfo=$3
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "live view: FAIL: $*"; for f in "$tmp"/*.out; do echo "--- $f"; cat "$f"; done; exit 1; }

NUMASLAB_PUBLISH=1 NUMASLAB_REAP_MS=200 "$stress" --topology sim:2x2 --threads 2 --seconds 15 \
  --no-hotplug >"$tmp/stress.out" 2>&1 &
pid=$!
for _ in $(seq 200); do [[ -e /dev/shm/numaslab.$pid ]] && break; sleep 0.05; done
[[ -e /dev/shm/numaslab.$pid ]] || fail "no /dev/shm/numaslab.$pid"
sleep 1.5

script -qfec "$top $pid --delay 0.4 --iterations 3 --sort active" /dev/null >"$tmp/top.raw" 2>&1 \
  || fail "numaslab-top exited with an error"
tr -d '\r' <"$tmp/top.raw" >"$tmp/top.out"
grep -q "numaslab-top  pid $pid  topology sim:2x2" "$tmp/top.out" || fail "no header"
for cache in inode dentry file buffer_head kmalloc-64; do
  grep -aqE "  ${cache}\$" "$tmp/top.out" || fail "cache $cache not shown"
done
grep -aqE "OBJS +ACTIVE .* N0 +N1 +NAME" "$tmp/top.out" || fail "no per-node columns"
[[ $(grep -ac $'\x1b\\[2J' "$tmp/top.out") -ge 3 ]] || fail "the screen was not redrawn 3 times"
# The busiest caches come first when sorted by active objects.
# Sorted by active objects: the first row of the last screen is the largest.
last=$(awk '/numaslab-top  pid/{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$tmp/top.out" |
       grep -aE '^ +[0-9]+ +[0-9]+ ' | awk '{print $2}')
[[ "$(echo "$last" | head -1)" == "$(echo "$last" | sort -n | tail -1)" ]] || fail "not sorted by active objects"

"$slabinfo" "$pid" >"$tmp/slabinfo.out" || fail "numaslab-slabinfo failed"
[[ "$(head -1 "$tmp/slabinfo.out")" == "slabinfo - version: 2.1 (statistics)" ]] || fail "bad header"
grep -qE '^inode +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ : tunables' "$tmp/slabinfo.out" || fail "no inode line"
"$slabinfo" --json "$pid" >"$tmp/json.out" || fail "numaslab-slabinfo --json failed"
python3 - "$tmp/json.out" <<'PY' || fail "JSON does not parse or lacks fields"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["nodes"] == 2 and d["possible_cpus"] == 4, d["nodes"]
names = {c["name"] for c in d["caches"]}
assert {"inode", "dentry", "file", "buffer_head"} <= names, names
assert all(len(c["per_cpu"]) == 4 for c in d["caches"])
PY
"$slabinfo" 1 >/dev/null 2>&1 && fail "numaslab-slabinfo accepted a pid that publishes nothing"
echo "live view: PASS"
