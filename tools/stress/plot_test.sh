#!/usr/bin/env bash
# numaslab-stress --plot FILE.png draws the run; a bad file name is a usage error.
# Usage: plot_test.sh NUMASLAB_STRESS OUT.png
set -euo pipefail
stress=$1 png=$2
fail() { echo "stress plot: FAIL: $*"; exit 1; }
rm -f "$png"
"$stress" --topology sim:2x2 --threads 2 --seconds 3 --hotplug-interval-ms 50 --plot "$png" \
  >"$png.log" 2>&1 || { cat "$png.log"; fail "the run failed"; }
grep -q "verdict: PASS" "$png.log" || { cat "$png.log"; fail "no PASS verdict"; }
grep -qE "plot of [0-9]+ samples written to $png" "$png.log" || { cat "$png.log"; fail "no plot line"; }
samples=$(sed -n 's/.*plot of \([0-9]*\) samples.*/\1/p' "$png.log")
(( samples >= 20 )) || fail "only $samples samples in 3 s (one per 100 ms expected)"
[[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]] || fail "$png is not a PNG"
size=$(stat -c %s "$png")
(( size > 20000 )) || fail "$png is only $size bytes: the panels are missing"
# 1200x1000: the four panels.
[[ "$(od -An -tu1 -j16 -N8 "$png" | awk '{print $3*256+$4, $7*256+$8}')" == "1200 1000" ]] ||
  fail "$png is not 1200x1000"
set +e
"$stress" --seconds 1 --plot "$png.txt" >/dev/null 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--plot with a non-PNG name exited $rc, not 2"
echo "stress plot: PASS"
