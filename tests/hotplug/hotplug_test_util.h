// Shared by the hotplug tests: start-up, snapshots of a cache's per-node and
// per-CPU state read under the right locks, metadata accounting, verify.
//
// Lock discipline (the debug build runs the lock-rank validator): the helpers
// take at most registry mutex -> slot lock -> alien lock -> list_lock, one
// at a time or in that order, never the reverse.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cache/alien_cache.h"
#include "cache/cache.h"
#include "cache/kmalloc.h"
#include "cache/registry.h"
#include "cpu/cpu_slots.h"
#include "numaslab/numaslab.h"
#include "stats/slabinfo.h"

namespace numaslab::hotplug_test {

using detail::LockGuard;
using detail::Mutex;
using detail::SpinLock;

using detail::AlienArray;
using detail::ArrayCache;
using detail::Cache;
using detail::CpuSlot;
using detail::NodeLists;

inline constexpr std::uint32_t kSharedSentinelBatch = 0xbaadf00d;

inline Cache* internals(numaslab_cache* c) { return reinterpret_cast<Cache*>(c); }

// Initialises numaslab with `spec` and pins the calling thread to CPU 0.
// The background reaper is off unless `reaper_ms` > 0 (then it visits each
// CPU every reaper_ms): most tests count objects in arrays exactly, and a
// reaper draining them in between would make that a race.
// Use as ASSERT_NO_FATAL_FAILURE(start("sim:2x2")).
inline void start(const char* spec, int reaper_ms = 0) {
  // Options are read once, at the first numaslab call: set them before it.
  if (reaper_ms > 0) {
    ASSERT_EQ(setenv("NUMASLAB_REAP", "1", 1), 0);
    ASSERT_EQ(setenv("NUMASLAB_REAP_MS", std::to_string(reaper_ms).c_str(), 1), 0);
    ASSERT_EQ(setenv("NUMASLAB_RELEASE_DELAY_MS", "1", 1), 0);
  } else {
    ASSERT_EQ(setenv("NUMASLAB_REAP", "0", 1), 0);
  }
  ASSERT_EQ(numaslab_init(spec), 0) << spec;
  ASSERT_STREQ(numaslab_topology_mode(), "sim");
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
}

inline std::vector<Cache*> all_caches() {
  std::vector<Cache*> v;
  LockGuard<Mutex> g(detail::registry().mutex);
  for (Cache* c = detail::registry().head; c; c = c->next) v.push_back(c);
  return v;
}

inline Cache* kmalloc_cache_for(std::size_t bytes) {
  return detail::kmalloc_cache(detail::size_class(bytes));
}

// One node's lists of one cache, read under its list_lock.
struct NodeSnap {
  NodeLists* nl = nullptr;
  std::uint64_t free_objects = 0;
  std::uint64_t free_limit = 0;
  std::uint64_t active = 0;       // objects out of slabs (arrays + users)
  std::uint64_t destroyed = 0;    // slabs destroyed so far
  std::uint64_t node_allocs = 0;  // objects handed out by alloc_node from this node
  std::size_t free_slabs = 0, partial_slabs = 0, full_slabs = 0;
  ArrayCache* shared = nullptr;
  std::uint32_t shared_avail = 0, shared_limit = 0, shared_batch = 0;
  std::vector<void*> shared_entries;
  AlienArray** alien = nullptr;
};

inline NodeSnap node_snap(Cache* c, int n) {
  NodeSnap s;
  s.nl = c->node(n);
  if (!s.nl) return s;
  LockGuard<SpinLock> g(s.nl->list_lock);
  s.free_objects = s.nl->free_objects;
  s.free_limit = s.nl->free_limit;
  s.active = s.nl->stats.active;
  s.destroyed = s.nl->stats.destroyed;
  s.node_allocs = s.nl->stats.node_allocs;
  s.free_slabs = s.nl->free.count;
  s.partial_slabs = s.nl->partial.count;
  s.full_slabs = s.nl->full.count;
  s.shared = s.nl->shared.load(std::memory_order_acquire);
  if (s.shared) {
    s.shared_avail = s.shared->avail;
    s.shared_limit = s.shared->limit;
    s.shared_batch = s.shared->batchcount;
    s.shared_entries.assign(s.shared->entries(), s.shared->entries() + s.shared->avail);
  }
  s.alien = s.nl->alien.load(std::memory_order_acquire);
  return s;
}

// One CPU's slot of one cache, read under the slot lock.
struct SlotSnap {
  void** ac = nullptr;  // the CPU's entries block (nullptr: no array)
  std::uint32_t avail = 0, limit = 0, batch = 0;
};

inline SlotSnap slot_snap(Cache* c, int cpu) {
  SlotSnap s;
  CpuSlot& slot = c->slot(cpu);
  LockGuard<SpinLock> g(slot.lock);
  s.ac = slot.base;
  if (s.ac) {
    s.avail = slot.avail();
    s.limit = c->limit.load();
    s.batch = slot.batchcount();
  }
  return s;
}

// Objects sitting in node `node`'s alien array for `home` (nullopt-like -1 if
// there is no such array). Holds the registry mutex so hotplug cannot free
// the alien set under us.
inline long alien_avail(Cache* c, int node, int home, std::vector<void*>* entries = nullptr) {
  LockGuard<Mutex> g(detail::registry().mutex);
  NodeLists* nl = c->node(node);
  AlienArray** set = nl ? nl->alien.load(std::memory_order_acquire) : nullptr;
  AlienArray* a = set ? set[home] : nullptr;
  if (!a) return -1;
  LockGuard<SpinLock> ga(a->lock);
  if (entries) entries->assign(a->ac.entries(), a->ac.entries() + a->ac.avail);
  return a->ac.avail;
}

// Objects of `c` held by users right now: objects out of slabs minus objects
// in any array (per-CPU, shared, alien). For a kmalloc cache this is the live
// metadata (node lists, arrays, alien sets) plus whatever the test holds.
inline std::uint64_t objects_in_user_hands(Cache* c) {
  LockGuard<Mutex> g(detail::registry().mutex);
  detail::CacheTotals t = detail::cache_totals(c);
  std::uint64_t in_arrays = 0;
  for (std::uint32_t cpu = 0; cpu < c->num_slots; ++cpu) {
    CpuSlot& s = c->slot(static_cast<int>(cpu));
    LockGuard<SpinLock> gs(s.lock);
    in_arrays += s.avail();
  }
  const int nodes = numaslab_num_nodes();
  for (int n = 0; n < nodes; ++n) {
    NodeLists* nl = c->node(n);
    if (!nl) continue;
    AlienArray** set = nl->alien.load(std::memory_order_acquire);
    if (set) {
      for (int m = 0; m < nodes; ++m) {
        if (AlienArray* a = set[m]) {
          LockGuard<SpinLock> ga(a->lock);
          in_arrays += a->ac.avail;
        }
      }
    }
    LockGuard<SpinLock> gl(nl->list_lock);
    if (ArrayCache* sh = nl->shared.load(std::memory_order_relaxed)) in_arrays += sh->avail;
  }
  EXPECT_GE(t.active_objs, in_arrays) << c->name;
  return t.active_objs - in_arrays;
}

// The per-CPU entries blocks, by the kmalloc cache they come from: their
// sizes follow each array's history (they grow with its capacity and go back
// to one batch when it is emptied), so counts per cache leave them out.
inline std::map<std::string, std::uint64_t> entries_blocks_by_cache() NS_NO_THREAD_SAFETY_ANALYSIS {
  std::map<std::string, std::uint64_t> m;
  for (Cache* c : all_caches())
    for (std::uint32_t cpu = 0; cpu < c->num_slots; ++cpu) {
      CpuSlot& s = c->slot(static_cast<int>(cpu));
      LockGuard<SpinLock> g(s.lock);
      if (!s.base) continue;
      const int cls = detail::size_class(sizeof(detail::ArrayHeader) + s.size() * sizeof(void*));
      ++m[detail::kmalloc_cache(cls)->name];
    }
  return m;
}

inline std::uint64_t num_slabs(Cache* c);

// objects_in_user_hands() of every cache, by name, leaving out entries blocks
// and off-slab slab descriptors (how many slabs hold the entries blocks
// depends on how they are packed).
inline std::map<std::string, std::uint64_t> user_objects_by_cache() {
  std::map<std::string, std::uint64_t> m;
  const std::vector<Cache*> caches = all_caches();
  for (Cache* c : caches) m[c->name] = objects_in_user_hands(c);
  for (Cache* c : caches)
    if (c->geo.off_slab && c->slabp_cache) m[c->slabp_cache->name] -= num_slabs(c);
  for (const auto& [name, n] : entries_blocks_by_cache()) m[name] -= n;
  return m;
}

inline std::uint64_t num_slabs(Cache* c) {
  LockGuard<Mutex> g(detail::registry().mutex);
  return detail::cache_totals(c).num_slabs;
}

// Like user_objects_by_cache(), but not counting off-slab slab descriptors
// (objects of a small kmalloc cache, one per slab of an off-slab cache): what
// is left is the metadata that hotplug allocates and frees — node lists,
// per-CPU, shared and alien arrays — plus whatever the test holds.
inline std::map<std::string, std::int64_t> metadata_objects_by_cache() {
  std::map<std::string, std::int64_t> m;
  const std::vector<Cache*> caches = all_caches();
  for (Cache* c : caches) m[c->name] += static_cast<std::int64_t>(objects_in_user_hands(c));
  for (Cache* c : caches)
    if (c->geo.off_slab && c->slabp_cache)
      m[c->slabp_cache->name] -= static_cast<std::int64_t>(num_slabs(c));
  for (const auto& [name, n] : entries_blocks_by_cache()) m[name] -= static_cast<std::int64_t>(n);
  return m;
}

// "name: before -> after" for every entry that differs.
template <typename Map>
std::string map_diff(const Map& before, const Map& after) {
  std::string out;
  for (const auto& [name, v] : before) {
    auto it = after.find(name);
    if (it == after.end()) {
      out += name + ": gone\n";
    } else if (it->second != v) {
      out += name + ": " + std::to_string(v) + " -> " + std::to_string(it->second) + "\n";
    }
  }
  for (const auto& [name, v] : after)
    if (!before.count(name)) out += name + ": new\n";
  return out;
}

inline std::uint64_t active_objs(Cache* c) {
  LockGuard<Mutex> g(detail::registry().mutex);
  return detail::cache_totals(c).active_objs;
}

// Drains every array of every cache and frees every free slab. Several passes:
// destroying an off-slab cache's slabs frees descriptors into kmalloc caches.
inline void shrink_everything() {
  for (int pass = 0; pass < 3; ++pass)
    for (Cache* c : all_caches()) detail::cache_shrink(c);
}

inline std::size_t node_bytes_total() {
  std::size_t b = 0;
  for (int n = 0; n < numaslab_num_nodes(); ++n) b += numaslab_node_bytes(n);
  return b;
}

// numaslab_verify() with its report as the failure message.
#define HP_EXPECT_VERIFY_OK()                                             \
  do {                                                                    \
    static char hp_verify_buf[16384];                                     \
    int hp_errors = numaslab_verify(hp_verify_buf, sizeof hp_verify_buf); \
    EXPECT_EQ(hp_errors, 0) << hp_verify_buf;                             \
  } while (0)

// Waits (yielding) until pred() holds; false after `seconds`.
inline bool wait_until(const std::function<bool()>& pred, double seconds = 60) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Runs fn on a fresh thread bound to virtual CPU `cpu` and joins it.
inline void run_on_cpu(int cpu, const std::function<void()>& fn) {
  std::thread t([&] {
    EXPECT_EQ(numaslab_bind_thread_to_cpu(cpu), 0);
    EXPECT_EQ(numaslab_current_cpu(), cpu);
    fn();
  });
  t.join();
}

// Number of caches whose slot for `cpu` has an array.
inline int caches_with_array_on(int cpu) {
  int n = 0;
  for (Cache* c : all_caches())
    if (slot_snap(c, cpu).ac) ++n;
  return n;
}

inline std::uint64_t expected_free_limit(Cache* c, int online_cpus_of_node) {
  return static_cast<std::uint64_t>(1 + online_cpus_of_node) *
             c->batchcount.load(std::memory_order_relaxed) +
         c->geo.num;
}

inline numaslab_hotplug_stats hotplug_stats() {
  numaslab_hotplug_stats s{};
  numaslab_get_hotplug_stats(&s);
  return s;
}

}  // namespace numaslab::hotplug_test
