// numaslab-bench: numaslab side by side with other allocators, in one run.
//
// Shared declarations of the parts of the program:
//   peer_bench.cc      command line, the parent that re-runs the program once
//                      per allocator (fork + exec of /proc/self/exe with
//                      LD_PRELOAD set to the peer's library), callgrind mode;
//   peer_workloads.cc  the child: the timed workloads, results to a pipe;
//   peer_report.cc     tables (text, CSV, markdown) and the gnuplot chart;
//   workload_suite.h   --workloads: the classic allocator programs of
//                      workloads/ under every allocator (its own header);
//   child_process.h    spawning children, the --launch helper, peers' paths;
//   report_common.h    what both suites' reports share.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "child_process.h"
#include "report_common.h"

namespace peer_bench {

// ---------------------------------------------------------------------------
// Allocators. Peers are measured through plain malloc/free with their
// library preloaded; numaslab through its C API, without any preload.

struct AllocatorInfo {
  const char* name;
  const char* preload;  // soname, found through the dynamic linker's cache; nullptr: none
  bool peer;            // peers set the baseline; numaslab rows never do
};

inline constexpr AllocatorInfo kAllocators[] = {
    {"glibc", nullptr, true},
    {"jemalloc", "libjemalloc.so.2", true},
    {"mimalloc", "libmimalloc.so.2", true},
    {"tcmalloc", "libtcmalloc_minimal.so.4", true},
    {"tbb", "libtbbmalloc_proxy.so.2", true},
    {"numaslab-cache", nullptr, false},
    {"numaslab-kmalloc", nullptr, false},
};

const AllocatorInfo* find_allocator(const std::string& name);
inline bool is_numaslab(const std::string& name) { return name.rfind("numaslab", 0) == 0; }
// A peer sets the baseline of ratios; unknown names (the workload suite's
// "numaslab") are not peers.
inline bool is_peer(const std::string& name) {
  const AllocatorInfo* a = find_allocator(name);
  return a && a->peer;
}

// Benchmarks in report order. The per-size pairs come first.
inline constexpr std::size_t kPairSizes[] = {16, 64, 256, 1024, 4096};
std::vector<std::string> benchmark_names();  // pair/16 ... crossnode

// ---------------------------------------------------------------------------
// Child side.

struct ChildConfig {
  std::string allocator;  // one of kAllocators
  std::string topology;   // numaslab children: passed to numaslab_init
  std::string workloads;  // comma-separated: pair,batch,prodcons,larson,crossnode
  bool quick = false;
  int result_fd = 1;    // where the machine-readable lines go
  long pairs_only = 0;  // > 0: callgrind mode, run this many pair/64 and exit
};

// Runs the workloads and writes lines to result_fd:
//   meta <key> <value...>
//   result <benchmark> <ns_per_op>
//   note <text...>
// Returns the process exit code.
int run_child(const ChildConfig& cfg);

// ---------------------------------------------------------------------------
// Parent side: what the children reported.

struct Results : RunInfo {
  // results[benchmark][allocator]
  std::map<std::string, std::map<std::string, Series>> by_bench;
  std::vector<std::string> allocators;      // measured, in report order
  std::map<std::string, std::string> meta;  // "<allocator>/<key>" -> value
  std::string topology;                     // numaslab topology of the main run
  std::string crossnode_topology;
};

// Instruction counts from --callgrind.
struct CallgrindRow {
  std::string allocator;
  double ir_per_pair = 0;
  unsigned long long ir_n = 0, ir_2n = 0;
  std::string policy;  // numaslab rows: the slots policy seen under valgrind
  std::string error;
};
struct CallgrindResults {
  long n = 0;
  std::vector<CallgrindRow> rows;
};

// Reports. Value shown: the median over rounds; ratio: median / the fastest
// peer's median in the same benchmark. CSV columns:
// benchmark,allocator,min_ns,median_ns,max_ns,ratio.
std::string format_table(const Results& r);
std::string format_csv(const Results& r);
std::string format_markdown(const Results& r, const CallgrindResults* cg);
std::string format_callgrind(const CallgrindResults& cg);
// Draws the ratios with gnuplot; returns "" or an error message.
std::string plot_ratios(const Results& r, const std::string& png);

}  // namespace peer_bench
