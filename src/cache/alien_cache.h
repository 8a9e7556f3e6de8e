// numaslab — alien arrays: objects freed on one node whose home is another,
// queued to go home in a batch (the kernel's alien caches, struct
// array_cache **alien in kmem_list3).
//
// Contract:
//  * A node's alien set is num_nodes pointers, one AlienArray per other node
//    (none for itself), allocated on the node it serves by alloc_alien_set()
//    and installed in NodeLists::alien by the CPU up steps (cpu_up_down.h);
//    only the DEAD path of the node's last CPU and cache destroy detach it.
//  * free_alien() — the kernel's cache_free_alien: an object of node `home`
//    freed by a CPU of `node` goes into node's alien array for home, which is
//    drained home first when full (alien_overflows), or straight home when
//    the node has no alien set (one node, or being torn down).
//  * drain_alien() — the kernel's __drain_alien_cache: the objects go into the
//    home node's shared array first if it has one (a later kernel fix), the
//    rest to its slabs. drain_alien_set() — the kernel's drain_alien_cache — does that
//    for every array of a set.
//  * 0 <= ac.avail <= ac.limit; every object in an alien array has bufctl
//    state kBufctlCached and lives on home_node.
// Locks: AlienArray::lock guards the array; it ranks after the slot lock and
// before any node's list_lock (draining takes the *home* node's list_lock
// under it). Slabs emptied by a drain go to `dead`, destroyed by the caller
// after every lock is released (R3).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/lock.h"
#include "cache/cache.h"
#include "slab/array_cache.h"

namespace numaslab::detail {

struct AlienArray {
  SpinLock lock{LockRank::kAlien};
  int home_node = -1;
  ArrayCache ac;  // must be last: its entries follow

  static std::size_t bytes_for(std::uint32_t limit) {
    return offsetof(AlienArray, ac) + ArrayCache::bytes_for(limit);
  }
};

// The kernel maps any alien limit > 1 to 12 entries.
inline constexpr std::uint32_t kAlienLimit = 12;

// nullptr on one node (nothing is ever alien) or out of memory.
AlienArray** alloc_alien_set(int node, std::uint32_t limit);
void free_alien_set(AlienArray** set);

// The caller holds the slot lock of an online CPU of `node`, which keeps the
// node's alien set attached.
void free_alien(Cache* c, CpuSlot& s, int node, int home, void* obj, SlabQueue* dead)
    NS_REQUIRES(s.lock);
void drain_alien(Cache* c, AlienArray* a, SlabQueue* dead) NS_REQUIRES(a->lock);
// Takes each array's lock in turn. The set must stay attached or detached
// meanwhile (registry mutex, or detached by the caller).
void drain_alien_set(Cache* c, AlienArray** set, SlabQueue* dead);

}  // namespace numaslab::detail
