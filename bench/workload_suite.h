// numaslab-bench --workloads: the classic allocator benchmarks under every
// allocator — wall time, peak RSS, ratios to the best peer, and a correctness
// check on the way.
//
// Each workload is a program of its own (workloads/workload.h has their
// contract), built next to numaslab-bench in workloads/wl-<name>. For every
// round, workload and allocator the parent runs
//   numaslab-bench --launch <library to preload> workloads/wl-<name> <scale>
// and takes from the launcher (child_process.h: why there is one) the wall
// time and the peak RSS (ru_maxrss) of the program, and from the program its
// checksum. Within a round the allocators of each workload run in an order
// rotated by round and workload, so a burst of load from elsewhere is spread
// over allocators. Values are medians over rounds.
//
// Allocators: glibc (nothing preloaded), jemalloc, mimalloc, tcmalloc, tbb
// (the peers of kAllocators) and "numaslab", numaslab's malloc shim
// (libnumaslab-malloc.so), which is not a peer. A workload's checksum must be
// the same under all of them: the reference is glibc's (else the first
// allocator's in report order that produced one); a different checksum, a
// crash, a non-zero exit or a timeout is a failure of that allocator on that
// workload, listed in the reports, and it makes the exit status 1. Failed runs
// give no time or RSS sample.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "report_common.h"

namespace peer_bench {

struct WorkloadInfo {
  const char* name;  // the program is workloads/wl-<name>
  const char* what;  // for the reports
};

inline constexpr WorkloadInfo kWorkloads[] = {
    {"larson",
     "server: 4 threads per round on arrays of 8..1000 B objects the previous round's "
     "threads allocated (new[]/delete[])"},
    {"cfrac",
     "continued-fraction factoring on a bignum library: small short-lived allocations of "
     "varying size, 1 thread"},
    {"xmalloc",
     "4 threads only allocate (8 B..8 KiB), 4 others only free, batches through a "
     "bounded queue"},
    {"cache-scratch",
     "passive false sharing: 4 threads write 8 B objects; each first frees one "
     "the main thread allocated"},
    {"cache-thrash", "active false sharing: 4 threads allocate, write and free 8 B objects"},
    {"mstress",
     "6 threads per round: retained sets, malloc/calloc/realloc/free of 16 B..1 MiB, "
     "objects swapped through shared slots"},
    {"rptest",
     "4 threads, random sizes 32 B..16 KiB in a sliding window, 1 in 5 frees by another "
     "thread"},
    {"alloc-test",
     "2 threads, random replacement in 8 192 slots, one size range at a time "
     "(8..64, ..512, ..4096, 8..4096 log-uniform)"},
    {"glibc-simple",
     "alloc N blocks then free them, N = 25..1600, 16 B..4 KiB; single-threaded, "
     "in a thread, multi-threaded"},
    {"glibc-thread",
     "1 then 4 threads replace random blocks of a 1 024-slot set, sizes 8 B..32 KiB "
     "with p ~ 1/size^2"},
    {"malloc-large",
     "16 blocks of 64 KiB..32 MiB replaced (malloc/calloc) or grown by realloc, "
     "touched sparsely"},
};
const WorkloadInfo* find_workload(const std::string& name);

inline constexpr const char* kShimName = "numaslab";  // the shim's column

// Names --allocators accepts in this mode, in report order.
std::vector<std::string> suite_allocator_names();

struct SuiteOptions {
  bool quick = false;
  int rounds = 0;                       // 0: 5, --quick 3
  double scale = 0;                     // 0: 1, --quick 0.1
  std::string shim;                     // the shim's path; "": its column is skipped
  std::string shim_origin;              // how the path was chosen, for the notes
  std::string workload_dir;             // "": workloads/ beside this program
  std::vector<std::string> allocators;  // empty: all
  std::vector<std::string> workloads;   // empty: all
};

struct SuiteResults : RunInfo {
  double scale = 1;
  std::string shim;                     // "" when numaslab was not measured
  std::vector<std::string> workloads;   // in report order
  std::vector<std::string> allocators;  // measured, in report order
  // [workload][allocator]: wall seconds and peak RSS bytes of the runs that passed.
  std::map<std::string, std::map<std::string, Series>> time, rss;
  std::map<std::string, std::string> checksums;         // [workload]: the reference
  std::map<std::string, std::string> checksum_sources;  // [workload]: whose it is
  std::vector<std::string> failures;                    // "<workload> under <allocator>: why"
  // [workload][allocator] of the failures, for the tables.
  std::map<std::string, std::map<std::string, bool>> failed;
};

SuiteResults run_suite(const SuiteOptions& o, const std::string& command);

// Reports. Time: median seconds; RSS: median peak bytes (shown in MiB); the
// ratio is to the best peer of the workload, for time and for RSS
// separately; the geomean row is the geometric mean of an allocator's ratios
// over the workloads where it and a peer both have values.
std::string format_suite_table(const SuiteResults& r);
std::string format_suite_csv(const SuiteResults& r);
std::string format_suite_markdown(const SuiteResults& r);
std::string plot_suite(const SuiteResults& r, const std::string& png);

}  // namespace peer_bench
