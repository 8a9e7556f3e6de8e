// Multi-thread stress machinery shared by the stress tests.
//
// Workers (one per virtual CPU, bound to it) allocate from a few object
// caches with constructors and from kmalloc with mixed sizes, stamp every
// object (tests/support/stamp.h: owner, size, sequence), and pass most
// objects to other workers — preferably on the other node — through
// mutex-protected inboxes, so most frees happen on another thread, CPU and
// node than the allocation.
// The working set grows and shrinks with time. Every free checks the stamp
// and the constructor's state. At the end everything is drained from the
// main thread and the caller checks numaslab_verify.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "numaslab/numaslab.h"
#include "support/sanitizers.h"
#include "support/stamp.h"

namespace numaslab_stress {

using numaslab::test_support::kSanitized;

// Run time of one stress test: NUMASLAB_STRESS_MS, else 3 s (2 s sanitized).
inline std::chrono::milliseconds stress_duration() {
  if (const char* e = std::getenv("NUMASLAB_STRESS_MS"))
    return std::chrono::milliseconds(std::atoi(e));
  return std::chrono::milliseconds(kSanitized ? 2000 : 3000);
}

inline constexpr std::uint64_t kCtorMagic = 0xc7c7c7c7a5a5a5a5ULL;

using numaslab::test_support::Stamp;  // (owner, size, sequence) at an object's head

// Constructor state lives in the last 8 bytes of an object and is never
// touched by the workers: it must be intact on every allocation and free.
template <std::size_t kSize>
void tail_ctor(void* obj) {
  std::memcpy(static_cast<char*>(obj) + kSize - 8, &kCtorMagic, 8);
}

struct CacheSpec {
  const char* name;
  std::size_t size;
  unsigned flags;
  void (*ctor)(void*);
};
inline const CacheSpec kCacheSpecs[] = {
    {"stress_small", 48, 0, tail_ctor<48>},
    {"stress_mid", 200, NUMASLAB_HWCACHE_ALIGN, tail_ctor<200>},
    {"stress_big", 1500, 0, tail_ctor<1500>},
};
inline constexpr int kNumCaches = 3;
inline constexpr int kKmalloc = kNumCaches;  // Item::kind for kmalloc blocks

struct Item {
  void* p;
  std::uint64_t seq;
  std::uint32_t owner;
  std::uint32_t size;
  int kind;       // 0..kNumCaches-1, or kKmalloc
  int want_node;  // node asked for with *_node, else -1
};

struct Inbox {
  std::mutex mu;
  std::vector<Item> items;
};

struct Failure {
  std::atomic<int> count{0};
  std::mutex mu;
  std::string first;
  void report(const std::string& what) {
    if (count.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> g(mu);
      first = what;
    }
  }
};

class Stress {
 public:
  explicit Stress(int workers) : inboxes_(workers), owned_(workers), stats_(workers) {
    for (int i = 0; i < kNumCaches; ++i) {
      const CacheSpec& s = kCacheSpecs[i];
      caches_[i] = numaslab_cache_create(s.name, s.size, 0, s.flags, s.ctor);
      EXPECT_NE(caches_[i], nullptr) << s.name;
    }
  }

  numaslab_cache* cache(int i) const { return caches_[i]; }
  int workers() const { return static_cast<int>(inboxes_.size()); }
  Failure& failure() { return failure_; }

  struct WorkerStats {
    std::uint64_t allocs = 0, frees = 0, sent = 0, received = 0, remote_node_frees = 0;
    std::size_t peak = 0;
  };
  const WorkerStats& stats(int w) const { return stats_[w]; }
  std::uint64_t wrong_node_allocs() const { return wrong_node_.load(); }

  // Body of worker `id`, bound to CPU `cpu`, until `stop`.
  void run_worker(int id, int cpu, const std::atomic<bool>& stop) {
    std::mt19937_64 rng(0x9e3779b97f4a7c15ULL * (id + 1));
    std::vector<Item>& owned = owned_[id];
    WorkerStats& st = stats_[id];
    numaslab_bind_thread_to_cpu(cpu);
    const int nodes = numaslab_num_nodes();
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t seq = 0;
    for (std::uint64_t iter = 0; !stop.load(std::memory_order_relaxed); ++iter) {
      if (failure_.count.load(std::memory_order_relaxed)) return;
      if ((iter & 255) == 0) numaslab_bind_thread_to_cpu(cpu);  // back home after migrations
      // Working set: a triangle wave between 20 and 1200 objects, period ~0.5 s.
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
      const long phase = (ms + id * 97) % 500;
      const std::size_t target =
          20 + static_cast<std::size_t>((phase < 250 ? phase : 500 - phase) * 1180 / 250);

      const unsigned op = static_cast<unsigned>(rng() % 100);
      if (op < 50 && owned.size() < target) {
        Item it = allocate(id, ++seq, rng, nodes);
        if (!it.p) return;
        owned.push_back(it);
        ++st.allocs;
        if (owned.size() > st.peak) st.peak = owned.size();
      } else if (op < 85 && !owned.empty()) {
        // Hand an object to another worker, preferably on the other node.
        std::size_t k = rng() % owned.size();
        Item it = owned[k];
        owned[k] = owned.back();
        owned.pop_back();
        int to;
        if (rng() % 10 < 7 && workers() >= 4) {
          to = (id + workers() / 2 + static_cast<int>(rng() % 2)) % workers();  // other node
        } else {
          to = (id + 1 + static_cast<int>(rng() % (workers() - 1))) % workers();
        }
        {
          std::lock_guard<std::mutex> g(inboxes_[to].mu);
          inboxes_[to].items.push_back(it);
        }
        ++st.sent;
      } else if (!owned.empty() && (owned.size() > target / 2 || op >= 95)) {
        std::size_t k = rng() % owned.size();
        Item it = owned[k];
        owned[k] = owned.back();
        owned.pop_back();
        release(it);
        ++st.frees;
      }
      if ((iter & 15) == 0) drain_inbox(id, st);
    }
  }

  // Frees everything still held by anyone (call after the workers stopped).
  void drain_all() {
    for (int w = 0; w < workers(); ++w) {
      drain_inbox(w, stats_[w]);
      for (Item& it : owned_[w]) {
        release(it);
        ++stats_[w].frees;
      }
      owned_[w].clear();
    }
  }

  void destroy_caches() {
    for (int i = 0; i < kNumCaches; ++i) {
      if (!caches_[i]) continue;
      // Every object was freed: one shrink empties every array and slab, and
      // destroy finds nothing in use (objects waiting in alien arrays included).
      EXPECT_EQ(numaslab_cache_shrink(caches_[i]), 0) << kCacheSpecs[i].name;
      EXPECT_EQ(numaslab_cache_destroy(caches_[i]), 0) << kCacheSpecs[i].name << " leaked objects";
      caches_[i] = nullptr;
    }
  }

 private:
  std::size_t kmalloc_size(std::mt19937_64& rng) {
    unsigned r = static_cast<unsigned>(rng() % 100);
    if (r < 60) return sizeof(Stamp) + 1 + rng() % 232;  // room for stamp + tail byte
    if (r < 90) return 257 + rng() % 3840;
    if (r < 99) return 4097 + rng() % 28672;
    return 32769 + rng() % 300000;
  }

  Item allocate(int id, std::uint64_t seq, std::mt19937_64& rng, int nodes) {
    Item it{};
    it.kind = static_cast<int>(rng() % (kNumCaches + 1));
    it.owner = static_cast<std::uint32_t>(id);
    it.seq = seq;
    it.want_node = -1;
    const bool on_node = rng() % 100 < 15;
    const int node = static_cast<int>(rng() % nodes);
    if (it.kind == kKmalloc) {
      it.size = static_cast<std::uint32_t>(kmalloc_size(rng));
      if (on_node) {
        it.p = numaslab_kmalloc_node(it.size, node);
        it.want_node = node;
      } else {
        it.p = numaslab_kmalloc(it.size);
      }
      if (!it.p) {
        failure_.report("kmalloc(" + std::to_string(it.size) + ") returned NULL");
        return it;
      }
      if (numaslab_ksize(it.p) < it.size) failure_.report("ksize smaller than the request");
    } else {
      numaslab_cache* c = caches_[it.kind];
      it.size = static_cast<std::uint32_t>(kCacheSpecs[it.kind].size);
      if (on_node) {
        it.p = numaslab_cache_alloc_node(c, node);
        it.want_node = node;
      } else {
        it.p = numaslab_cache_alloc(c);
      }
      if (!it.p) {
        failure_.report(std::string("alloc from ") + kCacheSpecs[it.kind].name + " returned NULL");
        return it;
      }
      check_ctor(it, "allocation");
    }
    if (it.want_node >= 0 && numaslab_node_of(it.p) != it.want_node) {
      // Only possible when the thread migrated to another node inside the
      // allocator (hotplug): Arrays.AllocNodeKeepsItsNodeWhenTheThreadMigrates
      // pins that down deterministically; here it is counted, and the caller
      // decides whether it may happen.
      wrong_node_.fetch_add(1, std::memory_order_relaxed);
    }
    std::string why;
    if (!numaslab::test_support::stamp(it.p, it.owner, it.size, seq, &why)) report_stamp(it, &why);
    if (it.kind == kKmalloc)
      static_cast<unsigned char*>(it.p)[it.size - 1] = static_cast<unsigned char>(seq);
    return it;
  }

  void report_stamp(const Item& it, std::string* why) {
    why->append(" (kind ").append(std::to_string(it.kind)).append(")");
    failure_.report(*why);
  }

  void check_ctor(const Item& it, const char* when) {
    std::uint64_t v;
    std::memcpy(&v, static_cast<char*>(it.p) + it.size - 8, 8);
    if (v != kCtorMagic)
      failure_.report(std::string("constructed state lost at ") + when + " in " +
                      kCacheSpecs[it.kind].name);
  }

  void release(const Item& it) {
    // unstamp() kills the stamp, so a stale copy would no longer match.
    std::string why;
    if (!numaslab::test_support::unstamp(it.p, it.owner, it.size, it.seq, &why)) {
      report_stamp(it, &why);
      return;  // leave it: freeing a damaged object could cascade
    }
    if (it.kind == kKmalloc) {
      if (static_cast<unsigned char*>(it.p)[it.size - 1] != static_cast<unsigned char>(it.seq))
        failure_.report("tail byte of a kmalloc block damaged");
      numaslab_kfree(it.p);
    } else {
      check_ctor(it, "free");
      numaslab_cache_free(caches_[it.kind], it.p);
    }
  }

  void drain_inbox(int id, WorkerStats& st) {
    std::vector<Item> got;
    {
      std::lock_guard<std::mutex> g(inboxes_[id].mu);
      got.swap(inboxes_[id].items);
    }
    const int here = numaslab_current_node();
    for (const Item& it : got) {
      ++st.received;
      if (numaslab_node_of(it.p) != here) ++st.remote_node_frees;
      release(it);
      ++st.frees;
    }
  }

  numaslab_cache* caches_[kNumCaches] = {};
  std::vector<Inbox> inboxes_;
  std::vector<std::vector<Item>> owned_;
  std::vector<WorkerStats> stats_;
  Failure failure_;
  std::atomic<std::uint64_t> wrong_node_{0};
};

// Counters summed over every CPU slot of a cache (read under the slot locks
// by the caller's helper).
struct Totals {
  std::uint64_t remote_frees = 0, alien_overflows = 0, alloc_hit = 0, free_hit = 0;
};

}  // namespace numaslab_stress
