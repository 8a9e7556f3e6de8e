#!/usr/bin/env bash
# Model-checks hotplug.pml with spin: exhaustive safety search (assertions and
# invalid end states, i.e. deadlocks).
# Usage: model/check.sh [--expect-fail] [-DNAME ...]
#   --expect-fail: the variant must be caught (an assertion or deadlock found)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
expect_fail=0
[[ "${1:-}" == "--expect-fail" ]] && { expect_fail=1; shift; }
command -v spin >/dev/null || { echo "model: spin is not installed (Debian package spin)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$here/hotplug.pml" "$tmp/"
cd "$tmp"
# Two bounds: one down/up cycle with two operations per thread, and two
# cycles with one operation per thread. Each is an exhaustive search.
for bounds in "-DCYCLES=1 -DOPS=2" "-DCYCLES=2 -DOPS=1"; do
  # shellcheck disable=SC2086
  spin -a $bounds "$@" hotplug.pml >/dev/null
  cc -O2 -DSAFETY -DCOLLAPSE -DMEMLIM=2048 -o pan pan.c
  ./pan -m200000 >pan.out 2>&1 || true
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out)
  echo "model: $bounds $*: ${states:-?} states, ${errors:-?} errors"
  if grep -q "out of memory\|max search depth too small" pan.out; then
    cat pan.out
    echo "model: FAIL: the search was not exhaustive"
    exit 1
  fi
  if [[ $expect_fail -eq 1 ]]; then
    if [[ "${errors:-0}" -ge 1 ]]; then
      grep -E "assertion violated|invalid end state" pan.out | head -1
      # The counterexample, as the statements each process ran.
      # shellcheck disable=SC2086
      spin -t -p $bounds "$@" hotplug.pml 2>&1 | grep -E "assertion|proc" | tail -4
      echo "model: PASS: the variant is caught"
      exit 0
    fi
  elif [[ "${errors:-1}" -ne 0 ]]; then
    cat pan.out
    # shellcheck disable=SC2086
    spin -t -p $bounds "$@" hotplug.pml 2>&1 | tail -40
    echo "model: FAIL"
    exit 1
  fi
done
if [[ $expect_fail -eq 1 ]]; then
  echo "model: FAIL: the variant was not caught"
  exit 1
fi
echo "model: PASS"
