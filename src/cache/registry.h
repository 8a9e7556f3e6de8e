// numaslab — the registry of caches (the kernel's cache_chain and
// cache_chain_mutex), the bootstrap, and the self-hosted metadata allocators.
//
// Contract:
//  * boot(spec) builds the topology, the page allocator, the cache of caches
//    and the kmalloc caches, then switches the bootstrap caches from static
//    node lists to node lists allocated from the kmalloc caches, then gives
//    every cache its per-CPU arrays and alien sets (the kernel's
//    kmem_cache_init; a node's shared array comes at its first flush). It starts no thread: the
//    services and the lazy start on first use belong to the layer above (runtime/). Every function
//    below other than boot() expects booted().
//  * The registry mutex serialises create, destroy, shrink, tune, hotplug and
//    verify, and guards the cache list. Node lists and per-CPU arrays of a
//    cache change only under it. There is no per-cache lock.
//  * Metadata (Cache descriptors, NodeLists, ArrayCaches, alien sets) comes
//    from the allocator itself: descriptors from the "kmem_cache" cache, the
//    rest from kmalloc_node on the node they serve.
// Locks: registry mutex (kRegistry) is the outermost lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/lock.h"
#include "cache/cache.h"
#include "topology/topology.h"

namespace numaslab::detail {

enum class BootState : int { kNone = 0, kFull = 2 };

struct Registry {
  Mutex mutex{LockRank::kRegistry, LockName{"registry_mutex", nullptr, -1}};
  Cache* head NS_GUARDED_BY(mutex) = nullptr;
  std::atomic<int> state{0};  // BootState
};

Registry& registry();
inline bool booted() {
  return registry().state.load(std::memory_order_acquire) == static_cast<int>(BootState::kFull);
}

// Under the registry mutex (taken here). Returns 1 if this call built
// everything, 0 if it was already built with the same (or no) spec, -EINVAL
// (bad topology; reason in err), -EBUSY (already built with another spec),
// -ENOMEM (nothing is left of the attempt: a later call starts afresh).
int boot(const TopologySpec& parsed, const char* spec, char* err, std::size_t errlen);
// Why the slots policy was chosen ("glibc rseq area, ...").
const char* slots_reason();

Cache* cache_cache();

// Create/destroy/shrink (create.cc). cache_create returns nullptr with errno
// EINVAL (bad arguments), EEXIST (name taken) or ENOMEM.
Cache* cache_create(const char* name, std::size_t size, std::size_t align, unsigned flags,
                    CtorFn ctor) NS_EXCLUDES(registry().mutex);
// 0 or -EBUSY (objects in use; cache unchanged)
int cache_destroy(Cache* c) NS_EXCLUDES(registry().mutex);
int cache_shrink(Cache* c) NS_EXCLUDES(registry().mutex);  // 0 if no slab remains, else 1
Cache* cache_find(const char* name) NS_REQUIRES(registry().mutex);

// Empties every array of the cache (per-CPU, shared, alien) into the slabs.
void drain_all_arrays(Cache* c) NS_REQUIRES(registry().mutex);

// Metadata allocation (arrays.cc).
ArrayCache* alloc_array(int node, std::uint32_t limit, std::uint32_t batch);
void free_array(ArrayCache* a);
// A CPU's entries block: an ArrayHeader {size, batch} and `size` pointers;
// returns the first entry (what CpuSlot::base points at).
void** alloc_entries(int node, std::uint32_t size, std::uint32_t batch);
void free_entries(void** entries);
// Entries a CPU's first block holds: one batch (at most the limit). The
// block grows with the array's capacity (capacity_grow), so a cache a CPU
// barely uses costs a few hundred bytes there, not its whole limit.
inline std::uint32_t initial_entries(std::uint32_t limit, std::uint32_t batch) {
  return batch && batch < limit ? batch : limit;
}

}  // namespace numaslab::detail
