#!/usr/bin/env bash
# The tools treat their inputs as untrusted: numaslab-stress checks numeric
# ranges and fails a run whose summary cannot be written; numaslab-top and
# numaslab-slabinfo validate a publication file (counts, sizes, kind of
# file) and show control characters in names escaped.
set -euo pipefail
stress=$1 top=$2 slabinfo=$3
tmp=$(mktemp -d)
holder=
cleanup() {
  [[ -n "$holder" ]] && { kill "$holder" 2>/dev/null; rm -f "/dev/shm/numaslab.$holder"; }
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "untrusted input: FAIL: $*"; for f in "$tmp"/*.out; do [[ -e $f ]] && { echo "--- $f"; cat -v "$f"; }; done; exit 1; }

# --- numaslab-stress: an overflowing duration is a usage error, not a short PASS
set +e
"$stress" --seconds 1e99 >"$tmp/seconds.out" 2>&1; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--seconds 1e99: exit $rc, expected 2"
grep -q -- "--seconds" "$tmp/seconds.out" || fail "--seconds 1e99: the option is not named"
grep -q "verdict: PASS" "$tmp/seconds.out" && fail "--seconds 1e99 passed"
set +e
"$stress" --seconds 1 --verify-interval-s 1e300 >"$tmp/verify.out" 2>&1; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--verify-interval-s 1e300: exit $rc, expected 2"

# --- an unwritable summary fails the run
set +e
"$stress" --topology sim:1x2 --threads 1 --seconds 0.2 --json /nonexistent/dir/x.json \
  >"$tmp/json.out" 2>&1; rc=$?
set -e
[[ $rc -ne 0 ]] || fail "--json into a missing directory: exit 0"
grep -q "summary written" "$tmp/json.out" && fail "claims the summary was written"
grep -q "verdict: PASS" "$tmp/json.out" && fail "--json into a missing directory passed"
grep -q "cannot write" "$tmp/json.out" || fail "no 'cannot write' message"

# --- publication files: a live process that maps the path owns it (the
# viewers report a publisher that no longer maps its file as gone)
python3 -c '
import mmap, os, time
f = open("/dev/shm/numaslab.%d" % os.getpid(), "wb+")
f.write(b"\0" * 4096)
f.flush()
m = mmap.mmap(f.fileno(), 4096)
time.sleep(60)
' &
holder=$!
pub=/dev/shm/numaslab.$holder
for _ in $(seq 100); do [[ -e $pub ]] && break; sleep 0.05; done

# write_pub FILE JSON: a header (magic, version 1, pid, seq 0, length,
# updated_ms, capacity) followed by the JSON text.
write_pub() {
  python3 - "$1" "$holder" "$2" <<'PY'
import struct, sys
path, pid, text = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
hdr = b"NSLABPUB" + struct.pack("<IIQQQQ", 1, pid, 0, len(text), 0, 1 << 20)
with open(path, "wb") as f:
    f.write(hdr + text)
PY
}
valid_json() {  # $1: nodes, $2: cache name (JSON-escaped)
  python3 - "$1" "$2" <<'PY'
import json, sys
nodes, name = int(sys.argv[1]), json.loads('"' + sys.argv[2] + '"')
counters = ["active_objs", "num_objs", "objsize", "objperslab", "pagesperslab", "limit",
            "batchcount", "shared", "active_slabs", "num_slabs", "shared_avail", "listallocs",
            "maxobjs", "grown", "reaped", "error", "maxfreeable", "nodeallocs", "remotefrees",
            "alienoverflow", "allochit", "allocmiss", "freehit", "freemiss"]
cache = {k: 1 for k in counters}
cache.update(name=name, per_node=[{"node": 0, "bytes": 4096}], per_cpu=[])
print(json.dumps({"version": 1, "pid": 1, "topology": "sim:1x1", "mode": "sim", "slots": "locked",
                  "nodes": nodes, "possible_cpus": 1, "online": [0],
                  "node_bytes": [{"node": 0, "in_use": 4096, "free": 0}],
                  "reaper": {"visits": 0, "slabs_destroyed": 0, "bytes_released": 0},
                  "caches": [cache]}))
PY
}

# A sane file is shown (the checks below are not failing everything).
write_pub "$pub" "$(valid_json 1 plain)"
timeout 10 "$top" "$holder" --once >"$tmp/top_ok.out" 2>&1 || fail "numaslab-top rejected a valid file"
grep -q "  plain$" "$tmp/top_ok.out" || fail "numaslab-top did not show the cache"

# A node count far beyond numaslab's limit is rejected before anything is sized by it
# (under an address-space limit, so a regression fails fast instead of swapping;
# sanitizer builds reserve terabytes of shadow memory and cannot run under one).
limit_as=1000000
[[ -n "${NUMASLAB_SANITIZED:-}" ]] && limit_as=unlimited
write_pub "$pub" "$(valid_json 2000000000 plain)"
set +e
(ulimit -v "$limit_as"; timeout 10 "$top" "$holder" --once) >"$tmp/top_nodes.out" 2>&1; rc=$?
set -e
[[ $rc -eq 1 ]] || fail "numaslab-top with nodes=2000000000: exit $rc, expected 1"
grep -q "not a valid numaslab statistics file (\"nodes\" = 2000000000" "$tmp/top_nodes.out" ||
  fail "numaslab-top with nodes=2000000000: no reason given"
set +e
(ulimit -v "$limit_as"; timeout 10 "$slabinfo" "$holder") >"$tmp/slabinfo_nodes.out" 2>&1; rc=$?
set -e
[[ $rc -eq 1 ]] || fail "numaslab-slabinfo with nodes=2000000000: exit $rc, expected 1"

# A length beyond the file, and text that is not JSON.
python3 - "$pub" "$holder" <<'PY'
import struct, sys
hdr = b"NSLABPUB" + struct.pack("<IIQQQQ", 1, int(sys.argv[2]), 0, 1 << 40, 0, 1 << 20)
open(sys.argv[1], "wb").write(hdr + b"{}")
PY
set +e
timeout 10 "$slabinfo" "$holder" >"$tmp/len.out" 2>&1; rc=$?
set -e
[[ $rc -eq 1 ]] || fail "numaslab-slabinfo with a length beyond the file: exit $rc, expected 1"
write_pub "$pub" '{"nodes": [1'
set +e
timeout 10 "$slabinfo" "$holder" >"$tmp/notjson.out" 2>&1; rc=$?
set -e
[[ $rc -eq 1 ]] || fail "numaslab-slabinfo with broken JSON: exit $rc, expected 1"
grep -q "not valid JSON" "$tmp/notjson.out" || fail "broken JSON: no reason given"

# Terminal escape sequences in a name are shown escaped, never sent to the terminal.
write_pub "$pub" "$(valid_json 1 '\u001b[2J\u001b]0;owned\u0007evil')"
timeout 10 "$slabinfo" "$holder" >"$tmp/esc.out" 2>&1 || fail "numaslab-slabinfo rejected an escaped name"
grep -q $'\x1b' "$tmp/esc.out" && fail "numaslab-slabinfo copied an ESC byte to the terminal"
grep -qF '\x1b[2J\x1b]0;owned\x07evil' "$tmp/esc.out" || fail "numaslab-slabinfo: name not shown escaped"
timeout 10 "$top" "$holder" --once >"$tmp/top_esc.out" 2>&1 || fail "numaslab-top rejected an escaped name"
grep -q $'\x1b' "$tmp/top_esc.out" && fail "numaslab-top copied an ESC byte to the terminal"
grep -qF '\x1b[2J\x1b]0;owned' "$tmp/top_esc.out" || fail "numaslab-top: name not shown escaped"  # the name column is cut at 80 columns

# A FIFO at the path must not hang the readers in open().
rm -f "$pub"
mkfifo "$pub"
for tool in "$top" "$slabinfo"; do
  set +e
  timeout 10 "$tool" "$holder" >"$tmp/fifo.out" 2>&1; rc=$?
  set -e
  [[ $rc -eq 124 ]] && fail "$(basename "$tool") hangs on a FIFO"
  [[ $rc -eq 1 ]] || fail "$(basename "$tool") on a FIFO: exit $rc, expected 1"
  grep -q "is not a numaslab statistics file" "$tmp/fifo.out" || fail "$(basename "$tool"): FIFO not named"
done
rm -f "$pub"
echo "untrusted input: PASS"
