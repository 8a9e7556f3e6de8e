// numaslab — run-time options: the one table of NUMASLAB_* variables.
//
// Contract: options() returns the values parsed once, on first call, from the
// environment (getenv only: no allocation). Every option is listed in
// kOptionTable with its default and meaning; README's table and numaslab(7)
// are made from it (a test checks the README). Bad values fall back to the
// default; every one of them, and every NUMASLAB_* name within
// kMaxSuggestionDistance edits of an option, is a line of options_problem().
// Booleans accept 0/1, true/false, yes/no, on/off (any case).
#pragma once

#include <cstddef>

namespace numaslab::detail {

struct Options {
  const char* topology;  // NUMASLAB_TOPOLOGY
  int watch_ms;          // NUMASLAB_WATCH_MS
  bool reap;             // NUMASLAB_REAP
  int reap_ms;           // NUMASLAB_REAP_MS
  int release_delay_ms;  // NUMASLAB_RELEASE_DELAY_MS
  bool publish;          // NUMASLAB_PUBLISH
  bool lockcheck;        // NUMASLAB_LOCKCHECK
  bool verbose;          // NUMASLAB_VERBOSE
  bool rseq;             // NUMASLAB_RSEQ
  bool check_full;       // NUMASLAB_CHECK=full
  long cpu_cache_bytes;  // NUMASLAB_CPU_CACHE_BYTES
  bool stats;            // NUMASLAB_STATS
  long keep_free_bytes;  // NUMASLAB_KEEP_FREE_BYTES
  unsigned debug;        // NUMASLAB_DEBUG: kDebugOpt* bits
};

// NUMASLAB_DEBUG words (debug/slab_debug.h turns them into cache flags).
inline constexpr unsigned kDebugOptRedZone = 1;  // redzone
inline constexpr unsigned kDebugOptPoison = 2;   // poison
inline constexpr unsigned kDebugOptUser = 4;     // user
inline constexpr unsigned kDebugOptLeaks = 8;    // leaks
inline constexpr unsigned kDebugOptAll = 15;     // all

struct OptionInfo {
  const char* name;
  const char* default_value;
  const char* meaning;
};

inline constexpr OptionInfo kOptionTable[] = {
    {"NUMASLAB_TOPOLOGY", "real", "topology: real, sim:NxM or map:C=N,..."},
    {"NUMASLAB_WATCH_MS", "100",
     "real/map modes: how often the watcher looks for CPUs going offline/online or leaving the "
     "allowed set (0: no watcher thread)"},
    {"NUMASLAB_REAP", "1", "0 disables the background reaper"},
    {"NUMASLAB_REAP_MS", "2000", "reap period of each CPU (visits are staggered across CPUs)"},
    {"NUMASLAB_RELEASE_DELAY_MS", "4000",
     "free pages are returned to the OS (madvise) after staying free this long"},
    {"NUMASLAB_PUBLISH", "0", "1 publishes statistics to /dev/shm/numaslab.<pid> for numaslab-top"},
    {"NUMASLAB_LOCKCHECK", "0", "1 turns the lock-rank validator on (always on in debug builds)"},
    {"NUMASLAB_VERBOSE", "0", "1 prints a start-up line with the configuration"},
    {"NUMASLAB_RSEQ", "1",
     "real/map modes: 0 forces locked per-CPU slots instead of restartable sequences"},
    {"NUMASLAB_CHECK", "fast",
     "fast: a free checks the pointer is a slab object of the right cache; full: also header "
     "magic, object boundary and double free at once (README: what each level catches)"},
    {"NUMASLAB_CPU_CACHE_BYTES", "4194304",
     "per-CPU budget: bytes the arrays of all caches together may hold on one CPU"},
    {"NUMASLAB_KEEP_FREE_BYTES", "8388608",
     "free memory a node keeps resident for reuse at least (half its memory in use if more); a "
     "free beyond it returns memory to the OS at once (the rest goes after "
     "NUMASLAB_RELEASE_DELAY_MS). Also the room per node for emptied slabs that caches keep "
     "beyond their free limit: they serve the next round of the same size without rebuilding, "
     "and are destroyed when another size needs the pages or the reaper finds them unused"},
    {"NUMASLAB_STATS", "0",
     "1 prints a statistics summary (totals, memory, array hits, reaper, hotplug events, "
     "slabinfo of every cache used) to stderr at exit"},
    {"NUMASLAB_DEBUG", "none",
     "debug every cache: a comma list of redzone, poison, user (call sites), leaks (report at "
     "exit), or all; the fast paths then close (README: Debugging)"},
};

inline constexpr int kMaxSuggestionDistance = 3;

const Options& options();
// The problems found, one line each ("NAME=\"value\" is not ...; using D"),
// or nullptr.
const char* options_problem();

// The parse behind options(), into *out; problems (which it starts) gets
// one line per problem. For the start-up check, which must not fix the values
// options() returns.
void parse_options(Options* out, char* problems, std::size_t len);
// Writes each line of problems as a warning; text already reported is not
// repeated. Thread-safe.
void report_option_problems(const char* problems);
// 1, 0, or -1 when v is none of 0/1, true/false, yes/no, on/off.
int parse_bool(const char* v);
// Edit distance, case-insensitive (for "did you mean").
int option_name_distance(const char* a, const char* b);

}  // namespace numaslab::detail
