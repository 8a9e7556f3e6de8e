// numaslab — NodeLists: one cache's slabs on one node (the kernel's kmem_list3).
//
// Contract:
//  * Three lists — partial, full, free — and the counters that describe them.
//    Invariants (at any moment the list_lock is free):
//      free_objects == Σ over partial and free slabs of (num - inuse);
//      a slab is on the list chosen by its inuse (slab.h);
//      free_limit == (1 + online CPUs of the node) * batchcount + num.
//  * shared and alien are installed and detached under list_lock (hotplug
//    rules R2/R4; shared at the node's first flush, alien at CPU up) and published with release
//    stores, so a reader holding the CPU slot of an online CPU of this node may load them without
//    the lock: they cannot be detached while a CPU of the node is online. Every consumer tolerates
//    nullptr (a node with no CPU has neither).
//  * Free slabs beyond free_limit: a slab that becomes free while free_objects
//    exceeds free_limit is kept (one of `surplus`) if the node's SurplusRoom
//    has room for its pages, else destroyed — so a cache whose working set
//    comes and goes in rounds does not build and destroy its slabs every
//    round. surplus <= free.count: a free slab that leaves the list (taken
//    for objects, or destroyed) is one of the surplus while there is any,
//    and gives its room back. The cache layer takes surplus back when the
//    node needs the memory (surplus.cc), the reaper when the slabs stay
//    unused.
//  * A NodeLists lives as long as its cache (R1); it is never freed on CPU down.
//  * The operations here never allocate and never free into the allocator:
//    a slab that must be destroyed is unlinked and appended to the caller's
//    `dead` queue, for the caller to destroy after releasing every lock (R3).
// Locks: list_lock (rank kListLock) guards everything but the atomics.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/lock.h"
#include "slab/array_cache.h"
#include "slab/slab.h"
#include "slab/slab_of.h"

namespace numaslab::detail {

struct AlienArray;  // cache/alien_cache.h: the lists only hold the set

struct NodeStats {
  std::uint64_t list_allocs = 0;     // objects taken out of slabs (num_allocations)
  std::uint64_t active = 0;          // objects out of slabs now (num_active)
  std::uint64_t high_mark = 0;       // max of active
  std::uint64_t grown = 0;           // slabs created
  std::uint64_t reaped = 0;          // slabs destroyed by the reaper/shrink
  std::uint64_t destroyed = 0;       // slabs destroyed for any reason
  std::uint64_t node_allocs = 0;     // objects allocated through alloc_node on this node
  std::uint64_t node_fallbacks = 0;  // alloc_node requests for this node served elsewhere
  std::uint64_t max_freeable = 0;    // max free slabs seen at a flush
};

// The bytes of free slabs that all caches together may keep beyond their
// free_limit on one node. Lock-free: taken and given back under different
// caches' list_locks.
class SurplusRoom {
 public:
  bool take(std::uint64_t bytes) {
    const std::uint64_t cap = capacity_.load(std::memory_order_relaxed);
    std::uint64_t cur = used_.load(std::memory_order_relaxed);
    do {
      if (cur + bytes > cap) return false;
    } while (!used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed));
    return true;
  }
  void give(std::uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  std::uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  void set_capacity(std::uint64_t bytes) { capacity_.store(bytes, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> capacity_{0};
  std::atomic<std::uint64_t> used_{0};
};

// Node n's room (n < kMaxNodes).
SurplusRoom& surplus_room(int node);

struct NodeLists {
  SpinLock list_lock{LockRank::kListLock};
  SlabQueue partial NS_GUARDED_BY(list_lock);
  SlabQueue full NS_GUARDED_BY(list_lock);
  SlabQueue free NS_GUARDED_BY(list_lock);
  std::uint64_t free_objects NS_GUARDED_BY(list_lock) = 0;
  std::uint64_t free_limit NS_GUARDED_BY(list_lock) = 0;
  std::uint32_t colour_next NS_GUARDED_BY(list_lock) = 0;
  bool free_touched NS_GUARDED_BY(list_lock) = false;
  std::uint32_t surplus NS_GUARDED_BY(list_lock) = 0;  // free slabs kept beyond free_limit
  int node = 0;
  std::atomic<ArrayCache*> shared{nullptr};  // install/detach under list_lock
  std::atomic<AlienArray**> alien{nullptr};  // [num_nodes]; install/detach under list_lock
  std::uint64_t next_reap = 0;               // reaper only
  NodeStats stats NS_GUARDED_BY(list_lock);

  void init(int node_id, const char* cache_name);

  // Moves up to n objects out of the slabs (partial first, then free) into
  // out[], marking them kBufctlCached. Returns how many were moved.
  std::uint32_t take_batch(const SlabGeometry& g, void** out, std::uint32_t n)
      NS_REQUIRES(list_lock);

  // Returns objects to their slabs (the kernel's free_block). Slabs that
  // become free while free_objects exceeds free_limit are kept as surplus
  // while the node's room allows, else unlinked onto `dead`.
  void free_block(const SlabGeometry& g, void* const* objs, std::uint32_t n, SlabQueue* dead)
      NS_REQUIRES(list_lock);

  // Adds a freshly built slab (inuse == 0) at the tail of the free list.
  void add_new_slab(const SlabGeometry& g, Slab* s) NS_REQUIRES(list_lock);

  // Unlinks up to max free slabs (from the tail) onto `dead`; returns how many.
  std::uint32_t unlink_free_slabs(const SlabGeometry& g, std::uint32_t max, SlabQueue* dead)
      NS_REQUIRES(list_lock);
  // The same for at most the surplus slabs: free_limit's worth stays.
  std::uint32_t unlink_surplus(const SlabGeometry& g, std::uint32_t max, SlabQueue* dead)
      NS_REQUIRES(list_lock);

  // The list invariants by a full walk: every slab on the list its inuse
  // chooses, list counts right, free_objects the sum over partial and free
  // slabs. For NS_EXPENSIVE after each batch.
  bool lists_consistent(const SlabGeometry& g) const NS_REQUIRES(list_lock);

  // Returns n objects to the shared array (room permitting); returns how many fit.
  std::uint32_t push_shared(void* const* objs, std::uint32_t n) NS_REQUIRES(list_lock);
};

// Lays out a new slab over `pages` (2^g.order pages on `node`): picks the
// descriptor (on-slab at pages + colour offset, or `offslab_desc`), links the
// bufctl free list 0 → 1 → … → num-1. Does not run constructors.
Slab* slab_format(const SlabGeometry& g, void* pages, std::uint32_t colour_index, int node,
                  void* offslab_desc);

}  // namespace numaslab::detail
