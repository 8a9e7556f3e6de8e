#!/usr/bin/env bash
# The shim needs no C++ runtime: its dynamic section names no libstdc++ or
# libgcc_s, and a C program under it (cat) never loads either. That a C++
# program still gets std::bad_alloc and its new-handler through the weak
# references of new_delete.cc is the contract tests' part.
#
# Usage: no_cxx_runtime.sh SHIM
set -euo pipefail

shim=$(realpath -- "$1")
fail() {
  echo "no_cxx_runtime.sh: $*" >&2
  exit 1
}

needed=$(readelf -d "$shim" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[[ -n $needed ]] || fail "readelf shows no NEEDED entry in $shim: not a shared library?"
for lib in $needed; do
  case $lib in
    libstdc++* | libgcc_s*) fail "$shim needs $lib" ;;
  esac
done
echo "needed: $(echo $needed)"

maps=$(NUMASLAB_VERBOSE=0 LD_PRELOAD=$shim cat /proc/self/maps)
grep -q "$(basename "$shim")" <<< "$maps" || fail "the shim is not mapped into cat: LD_PRELOAD ignored?"
if grep -E 'libstdc\+\+|libgcc_s' <<< "$maps"; then
  fail "a C program under the shim loaded the C++ runtime (above)"
fi
echo "cat under the shim: no libstdc++ or libgcc_s mapped"
