#!/usr/bin/env bash
# Builds the Debian package with CPack from a configured build tree, checks
# its metadata and file list, installs it with dpkg into a temporary root
# (dpkg --root, its own database) and builds a C program against that root.
# Usage: deb_test.sh BUILD_DIR SOURCE_DIR    (exit 77: dpkg or cpack missing)
set -euo pipefail
build=$1 src=$2
command -v dpkg >/dev/null && command -v dpkg-deb >/dev/null && command -v cpack >/dev/null || exit 77
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "debian package: FAIL: $*"; exit 1; }

(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; fail "cpack"; }
deb=$(ls "$tmp"/out/*.deb 2>/dev/null | head -1)
[[ -f "$deb" ]] || { cat "$tmp/cpack.log"; fail "no .deb produced"; }
echo "package: $(basename "$deb")"
version=$(sed -n 's/^#define NUMASLAB_VERSION "\(.*\)"/\1/p' "$src/include/numaslab/numaslab.h")
[[ "$(dpkg-deb -f "$deb" Package)" == numaslab ]] || fail "package name"
[[ "$(dpkg-deb -f "$deb" Version)" == "$version" ]] || fail "package version is not $version"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$' | sort >"$tmp/files.txt"
echo "files:"; sed 's/^/  /' "$tmp/files.txt"
for f in /usr/include/numaslab/numaslab.h /usr/include/numaslab/numaslab.hpp \
         /usr/bin/numaslab-stress /usr/bin/numaslab-top /usr/bin/numaslab-slabinfo \
         /usr/share/man/man3/numaslab.3 /usr/share/man/man7/numaslab.7 \
         /usr/share/man/man1/numaslab-top.1 /usr/share/doc/numaslab/LICENSE; do
  grep -qx "$f" "$tmp/files.txt" || fail "$f is not in the package"
done
grep -qE '^/usr/lib/.*libnumaslab\.so\.0$' "$tmp/files.txt" || fail "no libnumaslab.so.0"
grep -qE '^/usr/lib/.*libnumaslab\.a$' "$tmp/files.txt" || fail "no libnumaslab.a"
grep -qE '^/usr/lib/.*pkgconfig/numaslab\.pc$' "$tmp/files.txt" || fail "no numaslab.pc"
grep -qE '^/usr/lib/.*cmake/numaslab/numaslab-config\.cmake$' "$tmp/files.txt" || fail "no CMake package"

# A real dpkg install, into a root of its own.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
: >"$root/var/lib/dpkg/status"
dpkg --root="$root" --force-depends --force-not-root --force-script-chrootless --log=/dev/null \
  -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -i"; }
dpkg --root="$root" -s numaslab 2>/dev/null | grep -q "^Status: install ok installed" ||
  fail "dpkg does not list numaslab as installed"
dpkg --root="$root" -L numaslab | grep -q "libnumaslab.so.0" || fail "dpkg -L lacks the library"
lib=$(dirname "$(find "$root/usr/lib" -name libnumaslab.so.0 | head -1)")
pc=$(dirname "$(find "$root/usr/lib" -name numaslab.pc | head -1)")
gcc -std=c11 -pedantic -Werror "$src/tests/packaging/consumer/consumer.c" -o "$tmp/c" \
  $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs numaslab) || fail "building against the package"
NUMASLAB_WATCH_MS=0 LD_LIBRARY_PATH=$lib "$tmp/c" | grep -q "consumer: ok $version" || fail "the program did not run"
[[ "$("$root/usr/bin/numaslab-top" --version)" == "numaslab-top $version" ]] || fail "installed numaslab-top"
dpkg --root="$root" --force-not-root --force-script-chrootless --log=/dev/null -r numaslab \
  >"$tmp/dpkg-r.log" 2>&1 || { cat "$tmp/dpkg-r.log"; fail "dpkg -r"; }
[[ -e "$lib/libnumaslab.so.0" ]] && fail "dpkg -r left the library"
echo "debian package: PASS"
