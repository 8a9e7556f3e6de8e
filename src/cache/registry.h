// numaslab — the registry of caches (the kernel's cache_chain and
// cache_chain_mutex), start-up, and the self-hosted metadata allocators.
//
// Contract:
//  * runtime_init(spec) builds the topology, the page allocator, the cache of
//    caches and the kmalloc caches, then switches the bootstrap caches from
//    static node lists to node lists allocated from the kmalloc caches, then
//    gives every cache its per-CPU, shared and alien arrays. Idempotent: a
//    second call with the same (or no) spec succeeds, with a different spec
//    fails with -EBUSY. ensure_init() runs it lazily from NUMASLAB_TOPOLOGY.
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

namespace numaslab::detail {

enum class BootState : int { kNone = 0, kPartial = 1, kFull = 2 };

struct Registry {
  Mutex mutex{LockRank::kRegistry, LockName{"registry_mutex", nullptr, -1}};
  Cache* head NS_GUARDED_BY(mutex) = nullptr;
  std::atomic<int> state{0};  // BootState
};

Registry& registry();
inline bool runtime_ready() {
  return registry().state.load(std::memory_order_acquire) == static_cast<int>(BootState::kFull);
}

// Returns 0, -EINVAL (bad spec; reason in err), -EBUSY (already initialised
// with another spec), -ENOMEM (nothing is left of the attempt: a later call
// starts afresh).
int runtime_init(const char* spec, char* err, std::size_t errlen);
// Initialises from NUMASLAB_TOPOLOGY on first use; a bad value is fatal, out
// of memory returns false with errno ENOMEM (callers fail the call).
bool ensure_init_slow();
inline bool ensure_init() {
  if (__builtin_expect(!runtime_ready(), 0)) return ensure_init_slow();
  return true;
}

// Background services (reaper, watcher) that could not start are retried
// from slow paths, at most once a second.
bool services_pending();
void services_retry_slow();
inline void services_retry() {
  if (__builtin_expect(services_pending(), 0)) services_retry_slow();
}
struct ServicesStatus {
  bool reaper_running = false;
  int reaper_error = 0;  // errno of the last failed start, 0 if none
  bool watcher_running = false;
  int watcher_error = 0;
  bool pending = false;  // a wanted service is not running and will be retried
  std::uint64_t start_failures = 0;
  std::uint64_t retries = 0;
};
ServicesStatus services_status();

Cache* cache_cache();

// Create/destroy/shrink (create.cc). cache_create returns nullptr with errno
// EINVAL (bad arguments), EEXIST (name taken) or ENOMEM.
Cache* cache_create(const char* name, std::size_t size, std::size_t align, unsigned flags,
                    CtorFn ctor);
int cache_destroy(Cache* c);       // 0 or -EBUSY (objects in use; cache unchanged)
int cache_shrink(Cache* c);        // 0 if no slab remains, else 1
Cache* cache_find(const char* name) NS_REQUIRES(registry().mutex);

// Per-cache steps of a CPU event, called by hotplug with the registry mutex
// held. prepare_cpu allocates outside locks and installs under them (R2);
// it returns -ENOMEM, having installed nothing it could not complete.
int cache_prepare_node(Cache* c, int node) NS_REQUIRES(registry().mutex);
int cache_prepare_cpu(Cache* c, int cpu) NS_REQUIRES(registry().mutex);
void cache_cpu_dead(Cache* c, int cpu) NS_REQUIRES(registry().mutex);
void cache_shrink_node(Cache* c, int node) NS_REQUIRES(registry().mutex);

// Empties every array of the cache (per-CPU, shared, alien) into the slabs.
void drain_all_arrays(Cache* c) NS_REQUIRES(registry().mutex);

// Metadata allocation (arrays.cc).
ArrayCache* alloc_array(int node, std::uint32_t limit, std::uint32_t batch);
void free_array(ArrayCache* a);
// A CPU's entries block: an ArrayHeader {limit, batch} and limit pointers;
// returns the first entry (what CpuSlot::base points at).
void** alloc_entries(int node, std::uint32_t limit, std::uint32_t batch);
void free_entries(void** entries);
AlienArray** alloc_alien_set(int node, std::uint32_t limit);
void free_alien_set(AlienArray** set);

}  // namespace numaslab::detail
