// The one worker loop of the multi-threaded tests: random allocations from a
// few object caches and kmalloc, frees, and hand-offs to other workers, so
// that objects are freed by another thread (another CPU, another node) than
// the one that allocated them. Every object is stamped when allocated and
// checked when freed (stamp.h).
//
// Each op is rng() % ops: below alloc_below it allocates (unless the worker
// holds max_held objects; a worker holding nothing always allocates), below
// free_below it frees one of its objects at random — the op free_below - 1
// hands it off instead — below take_below it frees what was handed to it,
// and the rest go to the test's extra_op.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "numaslab/numaslab.h"

namespace numaslab::test_support {

struct WorkloadSpec {
  std::vector<numaslab_cache*> caches;
  std::vector<std::uint32_t> sizes;     // object size of each cache (stamped)
  std::uint32_t kmalloc_spread = 1000;  // kmalloc sizes 24 .. 24 + spread - 1
  unsigned ops = 10, alloc_below = 5, free_below = 9, take_below = 10;
  std::size_t max_held = 600;
  int alloc_node_op = -1;  // this allocation op uses alloc_node on a random node of two
  // 1: one box shared by all; workers: a box each, hand-offs to a random one.
  int boxes = 1;
  std::chrono::microseconds churn{0};  // affinity churn period (0: none)
  int churn_cpus = 1;
  std::function<std::uint64_t(int worker)> seed = [](int w) { return w * 31 + 7; };
  std::function<void()> each_step;            // at the top of every step
  std::function<void(void* obj)> each_alloc;  // after each allocation
  std::function<void(std::mt19937_64& rng)> extra_op;

  template <class Size>
  void use_caches(numaslab_cache* const* c, const Size* size, int n) {
    caches.assign(c, c + n);
    sizes.assign(size, size + n);
  }
  void mix(unsigned n, unsigned alloc, unsigned free, unsigned take) {
    ops = n, alloc_below = alloc, free_below = free, take_below = take;
  }
};

class Workload {
 public:
  explicit Workload(WorkloadSpec spec);
  // The loop of worker w until stop, then it frees what it holds.
  void run_worker(int w, const std::atomic<bool>& stop);
  // Frees what is still in the boxes (after every worker has returned).
  void drain();

  std::atomic<long> allocs{0}, frees{0}, handoffs{0}, failures{0}, oom{0};
  std::string first_failure() const;
  void fail(const std::string& why);

 private:
  struct Obj {
    void* p;
    int kind;  // an index into caches, or caches.size(): kmalloc
    std::uint32_t size;
    std::uint32_t owner;
    std::uint64_t serial;
  };
  struct Box {
    std::mutex mu;
    std::vector<Obj> objs;
  };
  bool allocate(int w, unsigned op, std::mt19937_64& rng, Obj* o);
  void free_obj(const Obj& o, int by);

  WorkloadSpec spec_;
  std::vector<Box> boxes_;
  std::atomic<std::uint64_t> serial_{1};
  mutable std::mutex fail_mu_;
  std::string first_failure_;
};

}  // namespace numaslab::test_support
