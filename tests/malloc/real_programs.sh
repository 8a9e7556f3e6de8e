#!/usr/bin/env bash
# Runs a real program's short workload twice, under glibc's malloc and under
# libnumaslab-malloc.so (LD_PRELOAD, inherited by the program's children), and
# fails unless stdout and the exit status are the same. The shim run has
# NUMASLAB_VERBOSE=1, and its start-up line on stderr proves the shim served it.
#
# Usage: real_programs.sh SHIM CASE
#   CASE: python3 perl sqlite3 git gcc sort xz, or a variant with options:
#   python3-check-full (NUMASLAB_CHECK=full), sqlite3-no-rseq (NUMASLAB_RSEQ=0),
#   perl-stats (NUMASLAB_STATS=1: the summary must appear on stderr),
#   sort-valgrind (sort under valgrind --tool=none: numaslab with locked slots).
# Exit status 77 (a skip for ctest) when the program is not installed.
set -euo pipefail

shim=$(realpath -- "$1")  # the workloads change directory
case_name=$2
program=${case_name%%-*}
variant_env=()
case $case_name in
  python3-check-full) variant_env=(NUMASLAB_CHECK=full) ;;
  sqlite3-no-rseq) variant_env=(NUMASLAB_RSEQ=0) ;;
  perl-stats) variant_env=(NUMASLAB_STATS=1) ;;
  sort-valgrind) command -v valgrind > /dev/null || exit 77 ;;
  python3 | perl | sqlite3 | git | gcc | sort | xz) ;;
  *)
    echo "real_programs.sh: unknown case '$case_name'" >&2
    exit 2
    ;;
esac
[[ -f $shim ]] || {
  echo "real_programs.sh: no shim at $shim" >&2
  exit 2
}
if ! command -v "$program" > /dev/null; then
  echo "real_programs.sh: $program is not installed: skipped"
  exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- workloads: each writes its results to stdout; "${run[@]}" prefixes the
# program under test (empty for the glibc run). They run in a fresh directory,
# with errexit and pipefail: no pipeline may end early (head reads a file).

wl_python3() {
  PYTHONHASHSEED=0 "${run[@]}" python3 - << 'EOF'
import collections, hashlib, json
d = {}
for i in range(50000):
    d["k%d" % i] = [i, str(i) * (i % 7), {"v": i * 3, "s": "x" * (i % 50)}]
text = json.dumps(d, sort_keys=True)
back = json.loads(text)
assert back == d
words = collections.Counter(ch for k in list(d)[:30000] for ch in k)
top = sorted(d.items(), key=lambda kv: -kv[1][0])[:3]
lists = [list(range(i % 100)) for i in range(20000)]
print(len(text), hashlib.sha256(text.encode()).hexdigest())
print(words.most_common(5), sum(map(len, lists)))
print(top)
EOF
}

wl_perl() {
  PERL_HASH_SEED=0 "${run[@]}" perl - << 'EOF'
my %h;
for my $i (1 .. 150000) { $h{"key$i"} = join(",", map { $_ * $i } 1 .. 5); }
my ($n, $sum) = (0, 0);
for my $k (sort keys %h) {
  if ($h{$k} =~ /^(\d+),(\d*7\d*),/) { $n++; $sum += $1; }
}
my %count;
for my $i (1 .. 50000) {
  (my $s = "w$i") =~ s/(\d)/chr(97 + $1)/ge;
  $count{substr($s, 0, 3)}++;
}
delete $h{"key$_"} for grep { $_ % 3 } 1 .. 150000;
print "$n $sum ", scalar(keys %h), "\n";
print join(" ", map { "$_=$count{$_}" } sort keys %count), "\n";
EOF
}

wl_sqlite3() {
  "${run[@]}" sqlite3 :memory: << 'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t SELECT x, printf('name-%08d', x * 7919 % 100000), x % 97, x * 0.5 FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(val), min(name), max(name) FROM t;
SELECT grp, count(*), sum(id) FROM t GROUP BY grp ORDER BY grp LIMIT 5;
SELECT name FROM t WHERE name LIKE 'name-0001%' ORDER BY name DESC LIMIT 3;
SELECT length(group_concat(name, ',')) FROM (SELECT name FROM t ORDER BY val DESC);
DELETE FROM t WHERE id % 2 = 0;
SELECT count(*), total(grp) FROM t;
EOF
}

wl_git() {
  export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=numaslab GIT_COMMITTER_NAME=numaslab
  export GIT_AUTHOR_EMAIL=numaslab@example.com GIT_COMMITTER_EMAIL=numaslab@example.com
  export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
  "${run[@]}" git init -q -b main repo
  cd repo
  local i
  for i in $(seq 1 300); do
    printf 'file %d\n%s\n' "$i" "$(seq "$i" $((i + 40)))" > "f$i.txt"
  done
  "${run[@]}" git add -A
  "${run[@]}" git commit -q -m first
  for i in $(seq 1 300 | grep 7); do echo "change $i" >> "f$i.txt"; done
  "${run[@]}" git commit -q -a -m second
  "${run[@]}" git log --stat --format='%H %s' > ../log
  tail -n 5 ../log
  "${run[@]}" git diff --shortstat HEAD~1
  "${run[@]}" git rev-list --objects --all > ../objects
  wc -l < ../objects
  "${run[@]}" git gc -q
  "${run[@]}" git count-objects -v | grep -E '^(count|in-pack|packs):'
  "${run[@]}" git fsck --no-progress
}

wl_gcc() {
  cat > prog.c << 'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

int main(void) {
  enum { N = 100000 };
  char** v = malloc(N * sizeof *v);
  for (int i = 0; i < N; ++i) {
    v[i] = malloc(16 + i % 64);
    snprintf(v[i], 16, "%d", (i * 7919) % N);
  }
  qsort(v, N, sizeof *v, cmp);
  unsigned long h = 5381;
  for (int i = 0; i < N; ++i) {
    for (const char* p = v[i]; *p; ++p) h = h * 33 + (unsigned char)*p;
    v[i] = realloc(v[i], 1000 + i % 3000);
    free(v[i]);
  }
  free(v);
  printf("%s %lu\n", v ? "sorted" : "none", h);
  return 0;
}
EOF
  "${run[@]}" gcc -O2 -Wall -o prog prog.c
  "${run[@]}" ./prog
}

wl_sort() {
  local lines=200000
  [[ $case_name == sort-valgrind ]] && lines=20000
  awk -v n="$lines" 'BEGIN { srand(1); for (i = 0; i < n; i++) printf "%08d %s line %d\n", int(rand() * 1e8), (i % 13 ? "b" : "a"), i }' > input
  "${run[@]}" sort -S 16M --parallel=2 -k2,2 -k1,1n input | sha256sum
  "${run[@]}" sort -u -r input > unique
  head -n 3 unique
  "${run[@]}" sort -t ' ' -k4,4n input > numeric
  tail -n 2 numeric
}

wl_xz() {
  { seq 1 150000; awk 'BEGIN { srand(2); for (i = 0; i < 20000; i++) print rand() }'; } > input
  "${run[@]}" xz -6 -T2 --block-size=1MiB -c input > input.xz
  sha256sum < input.xz
  "${run[@]}" xz -dc input.xz | sha256sum
  "${run[@]}" xz -l --robot input.xz | cut -f 1-5
  "${run[@]}" xz -1 -c input | "${run[@]}" xz -d | cmp - input && echo round trip
}

# ---- one run: results in $work/<name>.{out,err,status}

run_once() {
  local name=$1 status=0
  mkdir "$work/$name.dir"
  set +e
  (
    set -e
    cd "$work/$name.dir"
    "wl_$program"
  ) > "$work/$name.out" 2> "$work/$name.err"
  status=$?
  set -e
  echo "$status" > "$work/$name.status"
}

run=()
run_once glibc
run=(env "LD_PRELOAD=$shim" NUMASLAB_VERBOSE=1 "${variant_env[@]}")
# memcheck puts its own malloc in place of any; --tool=none runs numaslab under
# valgrind (no rseq there: locked slots).
[[ $case_name == sort-valgrind ]] && run+=(valgrind -q --tool=none)
run_once shim

failed=0
fail() {
  echo "FAIL: $*"
  failed=1
}
[[ $(cat "$work/glibc.status") == 0 ]] || fail "the workload fails under glibc's malloc"
[[ $(cat "$work/glibc.status") == "$(cat "$work/shim.status")" ]] ||
  fail "exit status $(cat "$work/shim.status") under the shim, $(cat "$work/glibc.status") under glibc"
cmp -s "$work/glibc.out" "$work/shim.out" || {
  fail "stdout differs"
  diff "$work/glibc.out" "$work/shim.out" | head -n 20 || true
}
grep -q '^numaslab: topology ' "$work/shim.err" || fail "the shim did not serve $program"
if grep -q 'numaslab: fatal' "$work/shim.err"; then fail "numaslab reported a fatal error"; fi
if [[ $case_name == sort-valgrind ]] && ! grep -q 'slots locked' "$work/shim.err"; then
  fail "under valgrind numaslab did not run with locked slots"
fi
if [[ $case_name == perl-stats ]]; then
  if ! grep -q '^numaslab: statistics (pid [0-9]*): topology' "$work/shim.err" ||
    ! grep -q 'kmalloc-' "$work/shim.err"; then
    fail "NUMASLAB_STATS=1 printed no summary"
  fi
fi

if ((failed)); then
  echo "--- stderr under the shim (head)"
  head -n 30 "$work/shim.err"
  echo "--- stderr under glibc (head)"
  head -n 10 "$work/glibc.err"
  exit 1
fi
echo "$case_name: same output under glibc and the shim ($(wc -l < "$work/shim.out") lines)"
