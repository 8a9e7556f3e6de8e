// numaslab-core-bench: Google Benchmark microbenchmarks of numaslab's core
// paths, with plain malloc/free in the same process as the reference.
//
// The topology comes from NUMASLAB_TOPOLOGY ("real" when unset) and is set
// once in main() before any benchmark runs, so every benchmark sees the same
// allocator. Run under "real" and "sim:2x1" (bench/run_core.sh does both):
// the sim run is what exercises the cross-node (alien) free path on a
// single-node machine.
//
// Time columns are per benchmark iteration. Where an iteration is not one
// object (the batches) or the iteration count is summed over two threads (the
// cross-CPU pipelines), the "per_obj" counter gives the time per object
// (an inverted rate, printed as e.g. "25.1ns") and items_per_second counts
// objects.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "numaslab/numaslab.h"
#include "spsc_ring.h"

namespace {

// ---------------------------------------------------------------------------
// Shared state, set up once in main() after numaslab_init().

constexpr std::size_t kCacheSizes[] = {16, 64, 256, 1024, 4096};
// The cross-CPU and remote-node benchmarks use one mid-sized object: the cost
// being measured is the routing of the object, not its size.
constexpr std::size_t kXferSize = 64;

numaslab_cache* g_caches[std::size(kCacheSizes)];

numaslab_cache* cache_for(std::size_t size) {
  for (std::size_t i = 0; i < std::size(kCacheSizes); ++i)
    if (kCacheSizes[i] == size) return g_caches[i];
  std::fprintf(stderr, "numaslab-core-bench: no cache of size %zu\n", size);
  std::abort();
}

bool sim_mode() { return std::strcmp(numaslab_topology_mode(), "sim") == 0; }

void bind_or_die(int cpu) {
  int rc = numaslab_bind_thread_to_cpu(cpu);
  if (rc != 0) {
    // Only reachable if a CPU went down after the pre-checks; carrying on
    // would leave the other thread spinning on the ring forever.
    std::fprintf(stderr, "numaslab-core-bench: bind to CPU %d failed: %s\n", cpu,
                 std::strerror(-rc));
    std::abort();
  }
}

// Time per object as a counter: a rate inverted gives seconds per object,
// which stays right however the iteration count is summed over threads.
void report_objects(benchmark::State& state, std::int64_t objects) {
  state.SetItemsProcessed(objects);
  state.counters["per_obj"] = benchmark::Counter(
      static_cast<double>(objects), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---------------------------------------------------------------------------
// 1-2, 4. Alloc/free pairs. Each pair stays on one CPU, so after the first
// iteration numaslab serves it from the per-CPU array (the fast path).

void BM_CacheAllocFree(benchmark::State& state) {
  numaslab_cache* c = cache_for(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    void* p = numaslab_cache_alloc(c);
    benchmark::DoNotOptimize(p);
    numaslab_cache_free(c, p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CacheAllocFree)->Arg(16)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096);

void BM_KmallocFree(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = numaslab_kmalloc(size);
    benchmark::DoNotOptimize(p);
    numaslab_kfree(p);
  }
  state.SetItemsProcessed(state.iterations());
}
// 65536 is above the largest size class, so it measures the page-run path.
BENCHMARK(BM_KmallocFree)->Arg(16)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096)->Arg(65536);

void BM_GlibcMallocFree(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    // DoNotOptimize matters here: the compiler knows malloc/free and would
    // otherwise delete the pair, measuring an empty loop.
    void* p = std::malloc(size);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GlibcMallocFree)->Arg(16)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096)->Arg(65536);

// ---------------------------------------------------------------------------
// 3-4. Batches: n allocations then n frees. Past the per-CPU array limit this
// forces refills from and flushes to the node (shared array, slab lists,
// slab growth), which the pairs above never reach.

void BM_Batch(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  numaslab_cache* c = cache_for(kXferSize);
  std::vector<void*> objs(n);
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i) {
      objs[i] = numaslab_cache_alloc(c);
      benchmark::DoNotOptimize(objs[i]);
    }
    for (std::size_t i = 0; i < n; ++i) numaslab_cache_free(c, objs[i]);
  }
  report_objects(state, state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_Batch)->Arg(100)->Arg(1000)->Arg(10000);

void BM_GlibcBatch(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<void*> objs(n);
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i) {
      objs[i] = std::malloc(kXferSize);
      benchmark::DoNotOptimize(objs[i]);
    }
    // Keeps the two phases apart: without it the compiler may interleave
    // the loops, and the benchmark would no longer hold n objects at once.
    benchmark::ClobberMemory();
    for (std::size_t i = 0; i < n; ++i) std::free(objs[i]);
  }
  report_objects(state, state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_GlibcBatch)->Arg(100)->Arg(1000)->Arg(10000);

// ---------------------------------------------------------------------------
// 5. Cross-CPU frees: thread 0 allocates into a single-producer,
// single-consumer ring, thread 1 frees what comes out. Every free therefore
// happens on a CPU other than the allocating one, so the freeing CPU's array
// fills and flushes while the allocating CPU's array keeps refilling.

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Spin briefly, then yield: on a 2-core machine a third runnable thread (the
// benchmark's main thread between runs, numaslab's watcher) would otherwise
// stall a pure spinner for a whole time slice.
struct Backoff {
  unsigned spins = 0;
  void wait() {
    if (++spins < 256) {
      cpu_relax();
    } else {
      spins = 0;
      std::this_thread::yield();
    }
  }
};


SpscRing g_ring;
// CPUs seen by each side on its first iteration, for the xcpu/xnode counters.
std::atomic<int> g_seen_cpu[2];

// Both threads run exactly state.max_iterations iterations, so the consumer
// pops exactly what the producer pushed and the ring is empty at the end.
void run_pipeline(benchmark::State& state, numaslab_cache* c) {
  const int me = state.thread_index();
  bool first = true;
  Backoff backoff;
  if (me == 0) {
    for (auto _ : state) {
      if (first) {
        g_seen_cpu[0].store(numaslab_current_cpu(), std::memory_order_relaxed);
        first = false;
      }
      void* p = numaslab_cache_alloc(c);
      benchmark::DoNotOptimize(p);
      while (!g_ring.push(p)) backoff.wait();
    }
  } else {
    for (auto _ : state) {
      if (first) {
        g_seen_cpu[1].store(numaslab_current_cpu(), std::memory_order_relaxed);
        first = false;
      }
      void* p;
      while ((p = g_ring.pop()) == nullptr) backoff.wait();
      numaslab_cache_free(c, p);
    }
  }
  // Only thread 0 reports: counters are summed over threads, and both threads
  // ran the same iterations, so reporting on both would count objects twice.
  // The stop barrier at the end of the loop makes thread 1's store visible.
  if (me == 0) {
    report_objects(state, state.iterations());
    const int a = g_seen_cpu[0].load(std::memory_order_relaxed);
    const int b = g_seen_cpu[1].load(std::memory_order_relaxed);
    state.counters["xcpu"] = a != b;
    state.counters["xnode"] = numaslab_cpu_to_node(a) != numaslab_cpu_to_node(b);
  }
}

int first_online_cpu() {
  for (int cpu = 0; cpu < numaslab_num_possible_cpus(); ++cpu)
    if (numaslab_cpu_online(cpu) == 1) return cpu;
  return -1;
}

// In sim mode the consumer is put on another CPU of the producer's node if
// there is one, else on any other CPU (so on sim:2x1 it is the other node).
// Without binding, sim mode hands out virtual CPUs round-robin per thread and
// the two sides would share a CPU on every other run. In real mode the kernel
// places the threads; with two busy threads they run on different cores, and
// the xcpu counter shows whether they did.
int pick_consumer_cpu(int producer) {
  const int n = numaslab_num_possible_cpus();
  const int node = numaslab_cpu_to_node(producer);
  int other = -1;
  for (int cpu = 0; cpu < n; ++cpu) {
    if (cpu == producer || numaslab_cpu_online(cpu) != 1) continue;
    if (numaslab_cpu_to_node(cpu) == node) return cpu;
    if (other < 0) other = cpu;
  }
  return other;
}

void BM_CrossCpuFree(benchmark::State& state) {
  // Every check below gives the same answer in both threads, so both skip
  // together: a thread that skipped alone would leave the other spinning.
  const bool sim = sim_mode();
  const int producer = sim ? first_online_cpu() : -1;
  const int consumer = sim ? pick_consumer_cpu(producer) : -1;
  if (sim ? consumer < 0 : std::thread::hardware_concurrency() < 2) {
    state.SkipWithError("needs two online CPUs");
    return;
  }
  int saved = -1;
  if (sim) {
    if (state.thread_index() == 0) {
      // Thread 0 is the benchmark's main thread: remember its CPU so the
      // single-threaded benchmarks that follow keep running where they were.
      saved = numaslab_current_cpu();
      bind_or_die(producer);
    } else {
      bind_or_die(consumer);
    }
  }
  run_pipeline(state, cache_for(kXferSize));
  if (saved >= 0) bind_or_die(saved);
}
BENCHMARK(BM_CrossCpuFree)->Threads(2)->UseRealTime();

// As above with the placement the alien path needs spelled out: CPU 0 and the
// last CPU, which sim:NxM puts on node 0 and node N-1.
void BM_CrossNodeFree(benchmark::State& state) {
  const int last = numaslab_num_possible_cpus() - 1;
  if (!sim_mode()) {
    state.SkipWithError("needs NUMASLAB_TOPOLOGY=sim:NxM (threads are bound to virtual CPUs)");
    return;
  }
  if (numaslab_cpu_to_node(0) == numaslab_cpu_to_node(last)) {
    state.SkipWithError("CPU 0 and the last CPU are on the same node");
    return;
  }
  if (numaslab_cpu_online(0) != 1 || numaslab_cpu_online(last) != 1) {
    state.SkipWithError("CPU 0 or the last CPU is offline");
    return;
  }
  int saved = -1;
  if (state.thread_index() == 0) {
    saved = numaslab_current_cpu();
    bind_or_die(0);
  } else {
    bind_or_die(last);
  }
  run_pipeline(state, cache_for(kXferSize));
  if (saved >= 0) bind_or_die(saved);
}
BENCHMARK(BM_CrossNodeFree)->Threads(2)->UseRealTime();

// ---------------------------------------------------------------------------
// 6. Allocation from another node's slabs. numaslab_cache_alloc_node for a
// remote node bypasses the per-CPU array and takes the node's list lock; the
// free then goes through this node's alien array back to the home node.

void BM_AllocNodeRemote(benchmark::State& state) {
  const int nodes = numaslab_num_nodes();
  if (nodes < 2) {
    state.SkipWithError("needs two or more nodes (try NUMASLAB_TOPOLOGY=sim:2x1)");
    return;
  }
  const int other = (numaslab_current_node() + 1) % nodes;
  numaslab_cache* c = cache_for(kXferSize);
  for (auto _ : state) {
    void* p = numaslab_cache_alloc_node(c, other);
    benchmark::DoNotOptimize(p);
    numaslab_cache_free(c, p);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("node " + std::to_string(numaslab_current_node()) + " -> " +
                 std::to_string(other));
}
BENCHMARK(BM_AllocNodeRemote);

// ---------------------------------------------------------------------------
// Console output plus a numaslab/glibc ratio table at the end, so one run
// answers "how far from malloc are we" without post-processing.

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      // CPU time per iteration: the same basis Google Benchmark uses for its
      // own rates, and less disturbed by preemption than wall time.
      Sample& s = samples_[r.benchmark_name()];
      s.sum += r.GetAdjustedCPUTime();
      s.unit = benchmark::GetTimeUnitString(r.time_unit);
      ++s.count;
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void PrintRatios() const {
    struct Pair {
      std::string ours, ref;
    };
    std::vector<Pair> pairs;
    for (std::size_t size : kCacheSizes)
      pairs.push_back({"BM_CacheAllocFree/" + std::to_string(size),
                       "BM_GlibcMallocFree/" + std::to_string(size)});
    for (std::size_t size : {16, 64, 256, 1024, 4096, 65536})
      pairs.push_back(
          {"BM_KmallocFree/" + std::to_string(size), "BM_GlibcMallocFree/" + std::to_string(size)});
    for (int n : {100, 1000, 10000})
      pairs.push_back({"BM_Batch/" + std::to_string(n), "BM_GlibcBatch/" + std::to_string(n)});

    bool header = false;
    for (const Pair& p : pairs) {
      auto a = samples_.find(p.ours);
      auto b = samples_.find(p.ref);
      if (a == samples_.end() || b == samples_.end() || a->second.unit != b->second.unit) continue;
      if (!header) {
        std::printf("\nnumaslab vs glibc (CPU time per iteration; ratio > 1: numaslab slower)\n");
        std::printf("%-24s %14s  %-24s %14s %8s\n", "numaslab", "time", "glibc", "time", "ratio");
        header = true;
      }
      const double ta = a->second.mean(), tb = b->second.mean();
      std::printf("%-24s %11.2f %-2s  %-24s %11.2f %-2s %8.3f\n", p.ours.c_str(), ta,
                  a->second.unit.c_str(), p.ref.c_str(), tb, b->second.unit.c_str(), ta / tb);
    }
    std::fflush(stdout);
  }

 private:
  struct Sample {
    double sum = 0;
    int count = 0;
    std::string unit;
    double mean() const { return sum / count; }
  };
  std::map<std::string, Sample> samples_;
};

// The ratio reporter replaces the display reporter, which would silently
// override --benchmark_format; so it is used only for console output, and
// the console flags it would bypass are honoured here.
bool wants_console(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with("--benchmark_format=") && a != "--benchmark_format=console") return false;
  }
  return true;
}

benchmark::ConsoleReporter::OutputOptions console_options(int argc, char** argv) {
  int opts = benchmark::ConsoleReporter::OO_None;
  bool color = isatty(STDOUT_FILENO) != 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--benchmark_counters_tabular" || a == "--benchmark_counters_tabular=true")
      opts |= benchmark::ConsoleReporter::OO_Tabular;
    if (a == "--benchmark_color=false" || a == "--benchmark_color=no") color = false;
    if (a == "--benchmark_color=true" || a == "--benchmark_color=yes") color = true;
  }
  if (color) opts |= benchmark::ConsoleReporter::OO_Color;
  return static_cast<benchmark::ConsoleReporter::OutputOptions>(opts);
}

}  // namespace

int main(int argc, char** argv) {
  // Decided before Initialize(), which removes the flags it recognises.
  const bool console = wants_console(argc, argv);
  const auto options = console_options(argc, argv);

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // Explicit initialisation, so the topology is fixed (and a bad spec fails
  // loudly) before the first timed call rather than inside it.
  const char* topo = std::getenv("NUMASLAB_TOPOLOGY");
  if (!topo || !*topo) topo = "real";
  if (int rc = numaslab_init(topo); rc != 0) {
    std::fprintf(stderr, "numaslab-core-bench: numaslab_init(\"%s\") failed: %s\n", topo,
                 std::strerror(-rc));
    return 1;
  }
  for (std::size_t i = 0; i < std::size(kCacheSizes); ++i) {
    const std::string name = "bench-" + std::to_string(kCacheSizes[i]);
    g_caches[i] = numaslab_cache_create(name.c_str(), kCacheSizes[i], 0, 0, nullptr);
    if (!g_caches[i]) {
      std::fprintf(stderr, "numaslab-core-bench: cache_create(%zu) failed: %s\n", kCacheSizes[i],
                   std::strerror(errno));
      return 1;
    }
  }
  // numaslab's hotplug watcher thread runs in "real" mode only, and a process
  // that has ever had a second thread makes glibc take its arena locks for
  // good (its single-thread shortcut is off). Starting one thread here puts
  // the glibc reference in that multi-threaded state under every topology,
  // which is also the state of any program a NUMA allocator is meant for;
  // otherwise the glibc numbers would differ between the real and sim runs
  // for reasons unrelated to numaslab.
  std::thread([] {}).join();

  benchmark::AddCustomContext("numaslab_topology", topo);
  benchmark::AddCustomContext("numaslab_nodes", std::to_string(numaslab_num_nodes()));
  benchmark::AddCustomContext("numaslab_cpus", std::to_string(numaslab_num_possible_cpus()));

  if (console) {
    RatioReporter reporter(options);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    reporter.PrintRatios();
  } else {
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  return 0;
}
