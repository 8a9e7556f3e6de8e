#!/usr/bin/env bash
# Installs numaslab to a temporary prefix and uses it as an outside project
# would. Usage: install_test.sh BUILD_DIR SOURCE_DIR CMAKE CXX
set -euo pipefail
build=$1 src=$2 cmake=$3 cxx=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install consumers: FAIL: $*"; exit 1; }
step() { echo "--- $*"; }
export NUMASLAB_WATCH_MS=0

prefix=$tmp/prefix
step "cmake --install to a temporary prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "install"; }
libdir=$(dirname "$(find "$prefix" -name libnumaslab.a | head -1)")
[[ -d "$libdir" ]] || fail "no libnumaslab.a installed"
for f in include/numaslab/numaslab.h include/numaslab/numaslab.hpp \
         bin/numaslab-stress bin/numaslab-top bin/numaslab-slabinfo \
         share/man/man3/numaslab.3 share/man/man7/numaslab.7 share/man/man1/numaslab-stress.1 \
         share/man/man1/numaslab-top.1 share/man/man1/numaslab-slabinfo.1 \
         share/man/man1/numaslab-bench.1 share/doc/numaslab/LICENSE; do
  [[ -e "$prefix/$f" ]] || fail "$f not installed"
done
for f in libnumaslab.so libnumaslab.so.0 pkgconfig/numaslab.pc cmake/numaslab/numaslab-config.cmake; do
  [[ -e "$libdir/$f" ]] || fail "$libdir/$f not installed"
done
soname=$(readelf -d "$libdir/libnumaslab.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ "$soname" == libnumaslab.so.0 ]] || fail "SONAME is '$soname', not libnumaslab.so.0"
! command -v man >/dev/null || man -l "$prefix/share/man/man3/numaslab.3" 2>/dev/null | grep -q numaslab_cache_create \
  || fail "numaslab(3) does not render or lacks numaslab_cache_create"

step "exported symbols == the functions numaslab.h declares"
grep -oE '^NUMASLAB_API [^(]*\bnumaslab_[a-z0-9_]+\(' "$prefix/include/numaslab/numaslab.h" |
  sed -E 's/.*[^a-z0-9_](numaslab_[a-z0-9_]+)\($/\1/' | sort -u >"$tmp/api.txt"
nm -D --defined-only "$libdir/libnumaslab.so" | awk '$2 != "A" {print $3}' | sed 's/@.*//' |
  sort -u >"$tmp/exported.txt"
[[ $(wc -l <"$tmp/api.txt") -ge 30 ]] || fail "could not read the API from numaslab.h"
diff -u "$tmp/api.txt" "$tmp/exported.txt" >"$tmp/sym.diff" ||
  { cat "$tmp/sym.diff"; fail "libnumaslab.so exports differ from numaslab.h (- header only, + library only)"; }

version=$(sed -n 's/^#define NUMASLAB_VERSION "\(.*\)"/\1/p' "$src/include/numaslab/numaslab.h")
for t in "$prefix"/bin/numaslab-*; do
  [[ "$("$t" --version)" == "$(basename "$t") $version" ]] || fail "$t --version does not say $version"
done

export PKG_CONFIG_PATH=$libdir/pkgconfig
pkg-config --exists numaslab || fail "pkg-config does not find numaslab"
[[ "$(pkg-config --modversion numaslab)" == "$version" ]] || fail "numaslab.pc version differs from numaslab.h"

step "C11 through pkg-config, shared"
cflags=(-std=c11 -pedantic -Werror -Wall -Wextra)
# shellcheck disable=SC2046
gcc "${cflags[@]}" "$src/tests/packaging/consumer/consumer.c" -o "$tmp/c_shared" \
  $(pkg-config --cflags --libs numaslab) || fail "gcc with pkg-config --libs"
readelf -d "$tmp/c_shared" | grep -q 'NEEDED.*libnumaslab.so.0' || fail "c_shared does not need libnumaslab.so.0"
LD_LIBRARY_PATH=$libdir "$tmp/c_shared" | grep -q "consumer: ok" || fail "c_shared did not run"

step "C11 through pkg-config --static"
static_libs=$(pkg-config --static --libs numaslab | sed 's/-lnumaslab\b/-l:libnumaslab.a/')
# shellcheck disable=SC2046,SC2086
gcc "${cflags[@]}" "$src/tests/packaging/consumer/consumer.c" -o "$tmp/c_static" \
  $(pkg-config --cflags numaslab) $static_libs || fail "gcc with pkg-config --static --libs"
readelf -d "$tmp/c_static" | grep -q 'libnumaslab' && fail "c_static still needs libnumaslab.so"
"$tmp/c_static" | grep -q "consumer: ok" || fail "c_static did not run"

step "C++ through find_package (shared, static, -fno-exceptions -fno-rtti, C static)"
"$cmake" -S "$src/tests/packaging/consumer" -B "$tmp/cpp" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/cpp.log" 2>&1 ||
  { cat "$tmp/cpp.log"; fail "find_package configure"; }
"$cmake" --build "$tmp/cpp" -j 2 >>"$tmp/cpp.log" 2>&1 || { cat "$tmp/cpp.log"; fail "find_package build"; }
for t in consumer_shared consumer_static consumer_noexcept consumer_c; do
  "$tmp/cpp/$t" | grep -q "ok" || fail "$t did not run"
done
readelf -d "$tmp/cpp/consumer_shared" | grep -q 'NEEDED.*libnumaslab.so.0' || fail "consumer_shared is not dynamic"
readelf -d "$tmp/cpp/consumer_static" | grep -q 'libnumaslab' && fail "consumer_static needs libnumaslab.so"

step "add_subdirectory without test or benchmark dependencies"
"$cmake" -S "$src/tests/packaging/consumer" -B "$tmp/sub" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DNUMASLAB_SOURCE="$src" -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON >"$tmp/sub.log" 2>&1 ||
  { cat "$tmp/sub.log"; fail "add_subdirectory configure"; }
"$cmake" --build "$tmp/sub" -j 2 --target consumer_shared consumer_c >>"$tmp/sub.log" 2>&1 ||
  { cat "$tmp/sub.log"; fail "add_subdirectory build"; }
"$tmp/sub/consumer_shared" | grep -q ok || fail "add_subdirectory consumer_shared did not run"
"$tmp/sub/consumer_c" | grep -q ok || fail "add_subdirectory consumer_c did not run"

echo "install consumers: PASS"
