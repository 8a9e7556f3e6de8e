// numaslab-bench, child side: one allocator, the timed workloads, one line
// per result to the parent's pipe.
//
// A peer child runs with the peer's library preloaded and calls plain
// malloc/free; a numaslab child has nothing preloaded and calls the C API.
// Every workload is a template over a tiny allocator policy, so the loop
// around the allocator calls is the same machine code shape for everyone.
//
// Each workload is run once untimed (a tenth of the work: first-touch page
// faults, cache creation, thread-cache set-up) and then once timed. The
// parent repeats the whole child several times (rounds) and takes the median.
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "numaslab/numaslab.h"
#include "peer_bench.h"
#include "spsc_ring.h"

namespace peer_bench {
namespace {

// ---------------------------------------------------------------------------
// Output and timing.

int g_out_fd = 1;
bool g_numaslab = false;  // a numaslab child: numaslab_* calls are allowed

void emit(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void emit(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > static_cast<int>(sizeof buf) - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  for (int off = 0; off < n;) {
    ssize_t w = ::write(g_out_fd, buf + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    off += static_cast<int>(w);
  }
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "numaslab-bench child: %s\n", what);
  std::abort();
}

double now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// The pointer escapes: the compiler knows malloc/free and would otherwise
// delete an unused pair, leaving an empty loop to time.
inline void escape(void* p) { asm volatile("" : : "r"(p) : "memory"); }
inline void clobber() { asm volatile("" : : : "memory"); }

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Spin briefly, then yield: on a 2-CPU machine a third runnable thread would
// otherwise stall a pure spinner for a whole time slice.
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

bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

bool cpus_allowed(int a, int b) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return false;
  return CPU_ISSET(a, &set) && CPU_ISSET(b, &set);
}

// ---------------------------------------------------------------------------
// Allocator policies.

struct Malloc {
  void* alloc(std::size_t n) { return std::malloc(n); }
  void free(void* p) { std::free(p); }
};

struct Kmalloc {
  void* alloc(std::size_t n) { return numaslab_kmalloc(n); }
  void free(void* p) { numaslab_kfree(p); }
};

// One object cache: the size argument is the cache's own.
struct Cache {
  numaslab_cache* c;
  void* alloc(std::size_t) { return numaslab_cache_alloc(c); }
  void free(void* p) { numaslab_cache_free(c, p); }
};

// ---------------------------------------------------------------------------
// Work per workload.

struct Counts {
  long pairs;         // alloc+free pairs per size
  long batch_rounds;  // rounds of 1 000 allocs + 1 000 frees
  long objects;       // prodcons / crossnode objects
  long larson_ops;    // alloc+free pairs per larson thread
};
constexpr Counts kFull{4'000'000, 5'000, 2'000'000, 2'000'000};
constexpr Counts kQuick{400'000, 500, 200'000, 200'000};

// Timed run after an untimed tenth-size run of the same function.
template <class F>
double warm_then_time(F&& run, long n) {
  run(std::max(1L, n / 10));
  return run(n);
}

// 1. alloc+free pairs, LIFO, one thread.
template <class A>
double pairs(A& a, std::size_t size, long n) {
  const double t0 = now_ns();
  for (long i = 0; i < n; ++i) {
    void* p = a.alloc(size);
    escape(p);
    a.free(p);
  }
  return (now_ns() - t0) / static_cast<double>(n);
}

// 2. 1 000 allocs then 1 000 frees (in allocation order); ns per operation.
constexpr int kBatch = 1000;
constexpr std::size_t kObjSize = 64;

template <class A>
double batch(A& a, long rounds) {
  std::vector<void*> objs(kBatch);
  const double t0 = now_ns();
  for (long r = 0; r < rounds; ++r) {
    for (int i = 0; i < kBatch; ++i) {
      objs[i] = a.alloc(kObjSize);
      escape(objs[i]);
    }
    clobber();  // keeps the phases apart: kBatch objects are live at once
    for (int i = 0; i < kBatch; ++i) a.free(objs[i]);
  }
  return (now_ns() - t0) / (static_cast<double>(rounds) * 2 * kBatch);
}

// 3. Producer on CPU 0 allocates, consumer on CPU 1 frees; a bounded
// single-producer single-consumer ring between them (Lamport ring with cached
// opposite indices, spsc_ring.h).

struct PipelineCpus {
  int producer = -1, consumer = -1;  // sched_getcpu() when the timed part ended
};

// Wall time from the start signal until both threads are done, per object.
// The producer writes a sequence number into each object and the consumer
// checks it: the object's line travels with it, as in a real hand-off.
template <class A>
double prodcons(A& a, long n, PipelineCpus* seen) {
  auto ring = std::make_unique<SpscRing>();
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<bool> pinned_ok{true};

  std::thread producer([&] {
    if (!pin_to(0)) pinned_ok = false;
    ready.fetch_add(1);
    Backoff start;
    while (!go.load(std::memory_order_acquire)) start.wait();
    Backoff b;
    for (long i = 0; i < n; ++i) {
      auto* p = static_cast<std::uint64_t*>(a.alloc(kObjSize));
      if (!p) die("prodcons: allocation failed");
      *p = static_cast<std::uint64_t>(i);
      while (!ring->push(p)) b.wait();
    }
    seen->producer = sched_getcpu();
  });
  std::thread consumer([&] {
    if (!pin_to(1)) pinned_ok = false;
    ready.fetch_add(1);
    Backoff start;
    while (!go.load(std::memory_order_acquire)) start.wait();
    Backoff b;
    for (long i = 0; i < n; ++i) {
      void* p;
      while ((p = ring->pop()) == nullptr) b.wait();
      if (*static_cast<std::uint64_t*>(p) != static_cast<std::uint64_t>(i))
        die("prodcons: object arrived out of order or corrupted");
      a.free(p);
    }
    seen->consumer = sched_getcpu();
  });
  while (ready.load() < 2) std::this_thread::yield();
  const double t0 = now_ns();
  go.store(true, std::memory_order_release);
  producer.join();
  consumer.join();
  const double t = now_ns() - t0;
  if (!pinned_ok) return NAN;
  return t / static_cast<double>(n);
}

// 4. Larson-like server loop. Two threads (pinned to CPU 0 and 1) each work
// on an array of kSlots objects of random sizes 16..1024: free a random slot,
// allocate a new random size into it. Every kSwapEvery operations both
// threads meet at a barrier and swap arrays, so in the next stretch about 63%
// of the frees (1 - 1/e) are of objects the other thread allocated.
// ns per alloc+free pair = wall time / pairs done by both threads together.
constexpr int kSlots = 1000;
constexpr long kSwapEvery = 1000;

struct SpinBarrier {
  std::atomic<int> count{0};
  std::atomic<unsigned> generation{0};
  int parties;
  explicit SpinBarrier(int n) : parties(n) {}
  void wait() {
    const unsigned g = generation.load(std::memory_order_acquire);
    if (count.fetch_add(1, std::memory_order_acq_rel) + 1 == parties) {
      count.store(0, std::memory_order_relaxed);
      generation.store(g + 1, std::memory_order_release);
    } else {
      Backoff b;
      while (generation.load(std::memory_order_acquire) == g) b.wait();
    }
  }
};

struct Rng {  // xorshift64*
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
  }
};

struct Obj {
  unsigned char* p;
  std::uint32_t size;
};

inline unsigned char tag_of(std::uint32_t size) { return static_cast<unsigned char>(size * 31u + 7u); }

template <class A>
Obj larson_new(A& a, std::uint32_t size) {
  auto* p = static_cast<unsigned char*>(a.alloc(size));
  if (!p) die("larson: allocation failed");
  p[0] = tag_of(size);
  p[size - 1] = tag_of(size);
  return {p, size};
}

template <class A>
double larson(A& a, long ops) {
  std::vector<Obj> arrays[2] = {std::vector<Obj>(kSlots), std::vector<Obj>(kSlots)};
  SpinBarrier barrier(2);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<bool> pinned_ok{true};

  auto worker = [&](int t) {
    if (!pin_to(t)) pinned_ok = false;
    Rng rng{0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(t + 1)};
    for (Obj& o : arrays[t]) o = larson_new(a, 16 + static_cast<std::uint32_t>(rng.next() % 1009));
    ready.fetch_add(1);
    Backoff start;
    while (!go.load(std::memory_order_acquire)) start.wait();
    int cur = t;
    for (long done = 0; done < ops;) {
      const long chunk = std::min(kSwapEvery, ops - done);
      std::vector<Obj>& arr = arrays[cur];
      for (long k = 0; k < chunk; ++k) {
        const std::uint64_t r = rng.next();
        Obj& o = arr[r % kSlots];
        if (o.p[0] != tag_of(o.size) || o.p[o.size - 1] != tag_of(o.size))
          die("larson: object corrupted");
        a.free(o.p);
        o = larson_new(a, 16 + static_cast<std::uint32_t>((r >> 32) % 1009));
      }
      done += chunk;
      barrier.wait();  // both are done with their arrays: swap
      cur ^= 1;
    }
  };
  std::thread t0(worker, 0), t1(worker, 1);
  while (ready.load() < 2) std::this_thread::yield();
  const double start = now_ns();
  go.store(true, std::memory_order_release);
  t0.join();
  t1.join();
  const double t = now_ns() - start;
  for (auto& arr : arrays)
    for (Obj& o : arr) a.free(o.p);
  if (!pinned_ok) return NAN;
  return t / (2.0 * static_cast<double>(ops));
}

// ---------------------------------------------------------------------------
// Driving one allocator through the selected workloads.

void report(const std::string& bench, double ns) {
  if (std::isnan(ns)) {
    emit("note %s: could not pin threads to CPUs 0 and 1; not measured", bench.c_str());
    return;
  }
  emit("result %s %.4f", bench.c_str(), ns);
}

bool has(const std::vector<std::string>& list, const char* w) {
  return std::find(list.begin(), list.end(), w) != list.end();
}

template <class A>
void run_pipeline(A& a, const char* bench, long n) {
  if (!cpus_allowed(0, 1)) {
    emit("note %s: CPUs 0 and 1 are not both available; not measured", bench);
    return;
  }
  PipelineCpus seen;
  double ns = warm_then_time([&](long k) { return prodcons(a, k, &seen); }, n);
  report(bench, ns);
  emit("meta %s_cpus %d %d", bench, seen.producer, seen.consumer);
  if (g_numaslab && seen.producer >= 0 && seen.consumer >= 0)
    emit("meta %s_nodes %d %d", bench, numaslab_cpu_to_node(seen.producer),
         numaslab_cpu_to_node(seen.consumer));
}

template <class A>
void run_larson(A& a, long ops) {
  if (!cpus_allowed(0, 1)) {
    emit("note larson: CPUs 0 and 1 are not both available; not measured");
    return;
  }
  report("larson", warm_then_time([&](long k) { return larson(a, k); }, ops));
}

numaslab_cache* make_cache(std::size_t size) {
  const std::string name = "peer-bench-" + std::to_string(size);
  numaslab_cache* c = numaslab_cache_create(name.c_str(), size, 0, 0, nullptr);
  if (!c) {
    std::fprintf(stderr, "numaslab-bench child: cache_create(%zu): %s\n", size,
                 std::strerror(errno));
    std::exit(1);
  }
  return c;
}

std::string malloc_origin() {
  Dl_info info{};
  // Through the GOT: the definition the dynamic linker bound, i.e. the
  // preloaded library's when the preload took effect.
  void* (*volatile fn)(std::size_t) = &std::malloc;
  if (dladdr(reinterpret_cast<void*>(fn), &info) && info.dli_fname) return info.dli_fname;
  return "?";
}

}  // namespace

int run_child(const ChildConfig& cfg) {
  g_out_fd = cfg.result_fd;
  const AllocatorInfo* info = find_allocator(cfg.allocator);
  if (!info) {
    std::fprintf(stderr, "numaslab-bench child: unknown allocator '%s'\n", cfg.allocator.c_str());
    return 2;
  }
  const bool numaslab = is_numaslab(cfg.allocator);
  g_numaslab = numaslab;
  if (numaslab) {
    if (int rc = numaslab_init(cfg.topology.c_str()); rc != 0) {
      std::fprintf(stderr, "numaslab-bench child: numaslab_init(\"%s\"): %s\n",
                   cfg.topology.c_str(), std::strerror(-rc));
      return 1;
    }
    emit("meta slots_policy %s", numaslab_slots_policy());
    emit("meta topology %s", cfg.topology.c_str());
    emit("meta topology_mode %s", numaslab_topology_mode());
    emit("meta nodes %d", numaslab_num_nodes());
  } else {
    emit("meta malloc_from %s", malloc_origin().c_str());
  }
  // Puts glibc (and anyone else with a single-thread shortcut) into the
  // multi-threaded state every child ends up in anyway (the pipelines start
  // threads; numaslab's watcher is a thread), before the first measurement.
  std::thread([] {}).join();

  // Callgrind mode: N pairs of 64 bytes, nothing else.
  if (cfg.pairs_only > 0) {
    const long n = cfg.pairs_only;
    if (cfg.allocator == "numaslab-cache") {
      Cache a{make_cache(64)};
      pairs(a, 64, n);
    } else if (cfg.allocator == "numaslab-kmalloc") {
      Kmalloc a;
      pairs(a, 64, n);
    } else {
      Malloc a;
      pairs(a, 64, n);
    }
    return 0;
  }

  const Counts& c = cfg.quick ? kQuick : kFull;
  const std::vector<std::string> work = split(cfg.workloads, ',');

  if (cfg.allocator == "numaslab-cache") {
    numaslab_cache* caches[std::size(kPairSizes)];
    for (std::size_t i = 0; i < std::size(kPairSizes); ++i) caches[i] = make_cache(kPairSizes[i]);
    Cache c64{caches[1]};
    if (has(work, "pair"))
      for (std::size_t i = 0; i < std::size(kPairSizes); ++i) {
        Cache a{caches[i]};
        report("pair/" + std::to_string(kPairSizes[i]),
               warm_then_time([&](long k) { return pairs(a, kPairSizes[i], k); }, c.pairs));
      }
    if (has(work, "batch"))
      report("batch1000", warm_then_time([&](long k) { return batch(c64, k); }, c.batch_rounds));
    if (has(work, "prodcons")) run_pipeline(c64, "prodcons", c.objects);
    if (has(work, "crossnode")) run_pipeline(c64, "crossnode", c.objects);
    if (has(work, "larson")) emit("note larson: not applicable to a fixed-size object cache");
  } else {
    auto drive = [&](auto& a) {
      if (has(work, "pair"))
        for (std::size_t size : kPairSizes)
          report("pair/" + std::to_string(size),
                 warm_then_time([&](long k) { return pairs(a, size, k); }, c.pairs));
      if (has(work, "batch"))
        report("batch1000", warm_then_time([&](long k) { return batch(a, k); }, c.batch_rounds));
      if (has(work, "prodcons")) run_pipeline(a, "prodcons", c.objects);
      if (has(work, "crossnode")) run_pipeline(a, "crossnode", c.objects);
      if (has(work, "larson")) run_larson(a, c.larson_ops);
    };
    if (numaslab) {
      Kmalloc a;
      drive(a);
    } else {
      Malloc a;
      drive(a);
    }
  }
  if (numaslab) {
    // The policy once more: it must not have changed during the run.
    emit("meta slots_policy_end %s", numaslab_slots_policy());
  }
  return 0;
}

}  // namespace peer_bench
