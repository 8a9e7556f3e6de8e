// A cache's per-CPU and per-node state read under the right locks, and the
// accounting the tests check it against (objects in user hands, metadata,
// memory per node).
//
// Lock discipline (the debug build runs the lock-rank validator): the helpers
// take at most registry mutex -> slot lock -> alien lock -> list_lock, one
// at a time or in that order, never the reverse. Call them at quiescent
// points, or with no hotplug event running concurrently.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cache/alien_cache.h"
#include "cache/cache.h"
#include "cache/kmalloc.h"
#include "cache/registry.h"
#include "cpu/cpu_slots.h"
#include "platform/options.h"
#include "stats/slabinfo.h"
#include "support/handles.h"

namespace numaslab::test_support {

// One CPU's slot of one cache, read under the slot lock. Free hits are
// derived (cpu/cpu_slots.h), exact at the quiescent points where tests read
// them.
struct SlotStats {
  std::uint64_t alloc_hit = 0, alloc_miss = 0, free_hit = 0, free_miss = 0;
  std::uint64_t remote_frees = 0, alien_overflows = 0;
};
struct SlotView {
  void** ac = nullptr;  // the CPU's entries block (nullptr: no array)
  SlotStats stats;
  // limit: the cache's; size: entries the CPU's block holds (<= limit).
  std::uint32_t avail = 0, limit = 0, size = 0, capacity = 0, batchcount = 0, touched = 0;
};
inline SlotView slot_view(Cache* c, int cpu) NS_NO_THREAD_SAFETY_ANALYSIS {
  SlotView v;
  CpuSlot& s = c->slot(cpu);
  LockGuard<SpinLock> g(s.lock);
  v.stats.alloc_hit = s.slot_read_hits();
  v.stats.alloc_miss = detail::slot_read(&s.stats.alloc_miss);
  v.stats.free_hit = s.free_hits();
  v.stats.free_miss = detail::slot_read(&s.stats.free_miss);
  v.stats.remote_frees = detail::slot_read(&s.stats.remote_frees);
  v.stats.alien_overflows = detail::slot_read(&s.stats.alien_overflows);
  v.ac = s.base;
  if (v.ac) {
    v.avail = s.avail();
    v.limit = c->limit.load();
    v.size = s.size();
    v.capacity = s.capacity();
    v.batchcount = s.batchcount();
    v.touched = s.idle_hint() ? 0 : 1;
  }
  return v;
}

// One node's lists of one cache, read under its list_lock (the alien
// arrays' avail under their own locks, after it).
struct NodeView {
  NodeLists* nl = nullptr;  // nullptr: the cache has no lists on the node
  std::uint64_t free_objects = 0, free_limit = 0;
  std::size_t partial = 0, full = 0, free = 0;  // slabs on each list
  std::uint32_t surplus = 0;                    // free slabs kept beyond free_limit
  detail::NodeStats stats;
  ArrayCache* shared = nullptr;
  std::uint32_t shared_avail = 0, shared_limit = 0, shared_batch = 0;
  std::vector<void*> shared_entries;
  AlienArray** alien = nullptr;  // the node's alien set (nullptr: none)
  std::uint32_t alien_avail[kMaxNodes] = {};
};
inline NodeView node_view(Cache* c, int node) NS_NO_THREAD_SAFETY_ANALYSIS {
  NodeView v;
  v.nl = c->node(node);
  if (!v.nl) return v;
  {
    LockGuard<SpinLock> g(v.nl->list_lock);
    v.free_objects = v.nl->free_objects;
    v.free_limit = v.nl->free_limit;
    v.partial = v.nl->partial.count;
    v.full = v.nl->full.count;
    v.free = v.nl->free.count;
    v.surplus = v.nl->surplus;
    v.stats = v.nl->stats;
    v.shared = v.nl->shared.load(std::memory_order_acquire);
    if (v.shared) {
      v.shared_avail = v.shared->avail;
      v.shared_limit = v.shared->limit;
      v.shared_batch = v.shared->batchcount;
      v.shared_entries.assign(v.shared->entries(), v.shared->entries() + v.shared->avail);
    }
    v.alien = v.nl->alien.load(std::memory_order_acquire);
  }
  if (v.alien) {
    for (int m = 0; m < detail::topology().num_nodes(); ++m) {
      if (AlienArray* a = v.alien[m]) {
        LockGuard<SpinLock> g(a->lock);
        v.alien_avail[m] = a->ac.avail;
      }
    }
  }
  return v;
}

// The room for surplus free slabs (slab/node_lists.h) set to `bytes` on every
// node for a scope, then back to what NUMASLAB_KEEP_FREE_BYTES gives.
class ScopedSurplusRoom {
 public:
  explicit ScopedSurplusRoom(std::uint64_t bytes) { detail::set_surplus_room(bytes); }
  ~ScopedSurplusRoom() {
    detail::set_surplus_room(static_cast<std::uint64_t>(detail::options().keep_free_bytes));
  }
  ScopedSurplusRoom(const ScopedSurplusRoom&) = delete;
  ScopedSurplusRoom& operator=(const ScopedSurplusRoom&) = delete;
};

// Sum of slabs grown over all nodes.
// What a CPU's first flush does on its node: after this every node with a
// CPU has the cache's shared array (if the cache has one at all).
inline void make_shared_arrays(Cache* c) {
  for (int n = 0; n < detail::topology().num_nodes(); ++n) detail::ensure_shared_array(c, n);
}

inline std::uint64_t slabs_grown(Cache* c) {
  std::uint64_t n = 0;
  for (int i = 0; i < detail::topology().num_nodes(); ++i) n += node_view(c, i).stats.grown;
  return n;
}

// Objects sitting in node `node`'s alien array for `home` (-1 if there is no
// such array). Holds the registry mutex so hotplug cannot free the alien set
// under us.
inline long alien_avail(Cache* c, int node, int home,
                        std::vector<void*>* entries = nullptr) NS_NO_THREAD_SAFETY_ANALYSIS {
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
inline std::uint64_t objects_in_user_hands(Cache* c) NS_NO_THREAD_SAFETY_ANALYSIS {
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

inline std::uint64_t num_slabs(Cache* c) NS_NO_THREAD_SAFETY_ANALYSIS {
  LockGuard<Mutex> g(detail::registry().mutex);
  return detail::cache_totals(c).num_slabs;
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

inline std::uint64_t active_objs(Cache* c) NS_NO_THREAD_SAFETY_ANALYSIS {
  LockGuard<Mutex> g(detail::registry().mutex);
  return detail::cache_totals(c).active_objs;
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

// Number of caches whose slot for `cpu` has an array.
inline int caches_with_array_on(int cpu) {
  int n = 0;
  for (Cache* c : all_caches())
    if (slot_view(c, cpu).ac) ++n;
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

}  // namespace numaslab::test_support
