// numaslab — Cache: one object type (the kernel's struct kmem_cache).
//
// Contract:
//  * alloc: pop from the current CPU's array (a restartable sequence under
//    RseqSlots, under the slot lock with LockedSlots); when empty, refill a
//    batch under the node's list_lock — shared array first, then partial
//    slabs, then free slabs — and grow a new slab (outside every lock) when
//    the node has none.
//  * free: an object whose home node is the current CPU's node is pushed on
//    the CPU's array; when full, a batch goes to the shared array, else back
//    to its slabs — the oldest batch with LockedSlots, the newest with
//    RseqSlots (a critical section cannot shift the array). An object of another node goes to this node's
//    alien array for its home and travels home in a batch when that fills
//    (shared array of the home node first, then its slabs).
//  * alloc_node(n): from node n's lists directly (bypassing arrays) unless n is
//    the local node; a node without memory falls back to the local node and
//    counts a node_fallback.
//  * Every object handed out has bufctl state kBufctlUser; every free checks
//    it (foreign pointer, wrong cache, interior pointer, double free → fatal,
//    named). The check costs one descriptor lookup per operation.
//  * nodes[n] is published once (release) and lives as long as the cache (R1).
//  * Tunables (limit, batchcount, shared) change only under the registry mutex.
//  * Conservation (R6), checked by verify(): at a quiescent point
//      user + Σ cpu arrays + Σ shared + Σ alien + free_in_slabs == num_slabs * num.
// Locks: slot → alien → list_lock; pages are allocated and slabs destroyed
// with no list_lock and no slot lock held (R3: never free into the allocator
// under a list_lock; the same rule keeps slot locks of different caches from
// nesting when an off-slab descriptor is allocated or freed).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/check.h"
#include "base/sanitizer.h"
#include "cpu/cpu_slots.h"
#include "page/page_map.h"
#include "slab/geometry.h"
#include "slab/node_lists.h"

namespace numaslab::detail {

inline constexpr std::size_t kCacheNameMax = 48;
using CtorFn = void (*)(void*);

struct Cache {
  char name[kCacheNameMax];
  std::size_t object_size;  // as requested
  unsigned flags;
  CtorFn ctor;
  SlabGeometry geo;
  Cache* slabp_cache;  // where off-slab descriptors come from
  bool is_kmalloc;
  // Set once by cache_destroy (registry mutex); read by misuse diagnostics.
  bool destroyed;

  // Tunables: written under the registry mutex, read anywhere (relaxed).
  std::atomic<std::uint32_t> limit;
  std::atomic<std::uint32_t> batchcount;
  std::atomic<std::uint32_t> shared;

  std::atomic<NodeLists*> nodes[kMaxNodes];

  Cache* next;  // guarded by: registry mutex
  Cache* prev;  // guarded by: registry mutex
  std::uint32_t num_slots;

  CpuSlot* slots() {
    return reinterpret_cast<CpuSlot*>(reinterpret_cast<char*>(this) + slots_offset());
  }
  CpuSlot& slot(int cpu) { return slots()[cpu]; }
  NodeLists* node(int n) const { return nodes[n].load(std::memory_order_acquire); }

  static constexpr std::size_t slots_offset() {
    return (sizeof(Cache) + kCacheLine - 1) & ~(kCacheLine - 1);
  }
  static std::size_t bytes_for(int possible_cpus) {
    return slots_offset() + sizeof(CpuSlot) * static_cast<std::size_t>(possible_cpus);
  }
};

[[noreturn]] void handed_out_twice(Cache* c, void* obj);

// ---- object paths (cache_alloc.cc, cache_free.cc) ----
void* cache_alloc(Cache* c);
void* cache_alloc_node(Cache* c, int node);
void cache_free(Cache* c, void* obj);           // checks obj belongs to c
void cache_free_checked(Cache* c, void* obj, const char* api);  // c already derived from obj
// The same with obj's page descriptor already looked up (must be kSlab of c).
void free_with_desc(Cache* c, PageDesc* d, void* obj, const char* api);
// Frees objects whose bufctl state is kBufctlCached straight into their home
// node's lists (no array), destroying slabs that become surplus.
void free_to_home(Cache* c, void* const* objs, std::uint32_t n);

// ---- slabs (grow.cc) ----
// Builds one slab on `node` and adds it to the node's free list. Returns false
// (errno ENOMEM) if pages or the off-slab descriptor could not be had.
bool cache_grow(Cache* c, int node);
// Destroys slabs unlinked by the node layer. Call with no lock held.
void destroy_slabs(Cache* c, SlabQueue* dead);

// ---- node layer helpers (cache_free.cc) ----
// Drains an alien array home (shared array of the home node first, then its
// slabs). Caller holds a->lock.
void drain_alien(Cache* c, AlienArray* a, SlabQueue* dead) NS_REQUIRES(a->lock);
// Returns n cached objects of node `node` to that node (shared first when
// use_shared, else slabs).
void return_to_node(Cache* c, int node, void* const* objs, std::uint32_t n, bool use_shared,
                    SlabQueue* dead);

// One object straight from node's slabs (no array), growing as needed.
void* alloc_from_node(Cache* c, int node, bool count_node_alloc);
// Object of node `home` freed on node `node`: into this node's alien array
// for `home` (drained home in a batch when full), or straight home when the
// node has no alien arrays. The caller holds the slot lock of an online CPU
// of `node`, which keeps the node's alien arrays attached.
void free_alien(Cache* c, CpuSlot& s, int node, int home, void* obj, SlabQueue* dead)
    NS_REQUIRES(s.lock);

// RseqSlots slow paths (rseq_paths.cc): refill with a batch push, flush with
// a batch pop, alien routing, CPUs without arrays.
void* alloc_slow_rseq(Cache* c);
void free_slow_rseq(Cache* c, void* obj, int home);

// LockedSlots paths (and every path in sim mode).
void* alloc_locked(Cache* c);
void free_locked(Cache* c, void* obj, int home);

// Marks an object leaving the allocator to the user (kBufctlCached → kBufctlUser).
// The object came out of one of our arrays, so the lookup is the trusted one;
// the debug tier re-checks what the free path checked when it went in.
inline void mark_user(Cache* c, void* obj) {
  PageDesc* d = page_lookup_trusted(obj);
  NS_ASSERT(page_lookup(obj) == d && d->kind == PageKind::kSlab && d->owner == c);
  Slab* s = static_cast<Slab*>(d->slab);
  const auto off = static_cast<std::uint32_t>(static_cast<char*>(obj) - s->s_mem);
  const std::uint32_t i = divide_by_size(c->geo, off);
  NS_ASSERT(slab_object_index(c->geo, s, obj) == static_cast<std::int64_t>(i));
  if (NS_UNLIKELY(s->load_bufctl(i) != kBufctlCached)) handed_out_twice(c, obj);
  s->store_bufctl(i, kBufctlUser);
  unpoison_object(obj, c->geo.buffer_size);
}

// Recomputes free_limit of node n from the online CPU count.
void update_free_limit(Cache* c, int n);

// Node of the calling thread's CPU, and a node that has memory to serve it.
int local_node();

}  // namespace numaslab::detail
