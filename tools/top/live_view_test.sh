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

# Long enough for every check under sanitizers; it is killed (-9) below.
NUMASLAB_PUBLISH=1 NUMASLAB_REAP_MS=200 "$stress" --topology sim:2x2 --threads 2 --seconds 120 \
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

# Every tool names the library's version.
version=$(sed -n 's/^#define NUMASLAB_VERSION "\(.*\)"/\1/p' "$(dirname "$0")/../../include/numaslab/numaslab.h")
for t in "$stress" "$top" "$slabinfo"; do
  [[ "$("$t" --version)" == "$(basename "$t") $version" ]] || fail "$t --version does not say $version"
done

# --help lists the keys, as slabtop's single letters.
"$top" --help >"$tmp/help.out"
grep -q "q  quit" "$tmp/help.out" && grep -q "a  active objects (active)" "$tmp/help.out" &&
  grep -q "v  active slabs" "$tmp/help.out" || fail "--help does not list the keys"
"$top" "$pid" --once -s z >/dev/null 2>&1 && fail "an unknown sort key was accepted"

# 80 columns, under a terminal of that size and with --width; the keys are on screen.
script -qfec "stty cols 80 rows 40; $top $pid --delay 0.3 --iterations 2 -s a" /dev/null \
  >"$tmp/top80.raw" 2>&1 || fail "numaslab-top at 80 columns exited with an error"
sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$tmp/top80.raw" | tr -d '\r' >"$tmp/top80.out"
long=$(awk 'length($0) > 80' "$tmp/top80.out" | head -3)
[[ -z "$long" ]] || fail "lines wider than 80 columns: $long"
grep -q "keys: q quit" "$tmp/top80.out" || fail "the keys are not on screen"
grep -aqE "  inode\$" "$tmp/top80.out" || fail "no inode row at 80 columns"
"$top" "$pid" --once -w 80 >"$tmp/w80.out" || fail "--width 80"
[[ -z "$(awk 'length($0) > 80' "$tmp/w80.out")" ]] || fail "--width 80 printed wider lines"
grep -qE "OBJS +ACTIVE +USE +OBJ SIZE .*CACHE .*NAME" "$tmp/w80.out" || fail "80 columns lack the main columns"
"$top" "$pid" --once -w 160 >"$tmp/w160.out" || fail "--width 160"
grep -qE "SLABS +OBJ/S +CACHE +HIT% +N0 +N1 +NAME" "$tmp/w160.out" || fail "160 columns do not show every column"
"$top" "$pid" --once -w 60 >"$tmp/w60.out" || fail "--width 60"
grep -q "N0" "$tmp/w60.out" && fail "60 columns still show the per-node columns"
[[ -z "$(awk 'length($0) > 60' "$tmp/w60.out")" ]] || fail "--width 60 printed wider lines"

# --list shows the live publisher and removes files left by dead processes.
dead=$(sh -c 'echo $$')
: >"/dev/shm/numaslab.$dead"
"$top" --list >"$tmp/list.out" || fail "--list failed"
grep -qE "^ +$pid +[0-9.]+s +numaslab-stress" "$tmp/list.out" || fail "--list does not show $pid"
grep -q "removed /dev/shm/numaslab.$dead" "$tmp/list.out" || fail "--list did not report the stale file"
[[ -e "/dev/shm/numaslab.$dead" ]] && fail "--list left the stale file"

# A publisher killed with SIGKILL (it cannot remove its file) is reported as gone.
kill -9 "$pid"
[[ -e /dev/shm/numaslab.$pid ]] || fail "the file vanished before the test could look"
set +e
"$top" "$pid" --delay 0.2 --iterations 3 >"$tmp/dead.out" 2>"$tmp/dead.err"
rc=$?
set -e
[[ $rc -eq 3 ]] || fail "numaslab-top on a dead publisher exited $rc, not 3"
grep -q "process $pid is gone" "$tmp/dead.err" || fail "numaslab-top did not say the process is gone"
[[ -s "$tmp/dead.out" ]] && fail "numaslab-top showed the stale figures of a dead process"
[[ -e /dev/shm/numaslab.$pid ]] && fail "the dead publisher's file was not removed"
wait "$pid" 2>/dev/null || true
pid=

# A publisher that exits normally removes its own file; one that starts
# removes the files of processes that are gone.
dead=$(sh -c 'echo $$')
: >"/dev/shm/numaslab.$dead"
NUMASLAB_PUBLISH=1 "$stress" --topology sim:1x2 --threads 1 --seconds 0.5 --no-hotplug >"$tmp/short.out" 2>&1 &
spid=$!
wait "$spid" || fail "the short publisher failed"
[[ -e /dev/shm/numaslab.$spid ]] && fail "a publisher that exited left /dev/shm/numaslab.$spid"
[[ -e /dev/shm/numaslab.$dead ]] && fail "a starting publisher left the stale /dev/shm/numaslab.$dead"
echo "live view: PASS"
