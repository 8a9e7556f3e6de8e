// numaslab — Cache: one object type (the kernel's struct kmem_cache), and the
// object paths: ____cache_alloc / cache_alloc_refill (cache_alloc.cc),
// __cache_free / cache_flusharray (cache_free.cc), and their hand-written
// fast paths (api/fast_path_x86_64.S).
//
// Contract:
//  * alloc: pop from the current CPU's array — the fast path, one restartable
//    sequence with no lock and no atomic; when that cannot be done,
//    cache_alloc_refill takes a batch from the node — shared array first,
//    then partial slabs, then free slabs — growing a new slab (outside every
//    lock) when the node has none, and pushes it on the array.
//  * free: the page descriptor of the object gives its cache and home node;
//    an object of the current CPU's node is pushed on the CPU's array. When
//    the array is full, cache_flusharray grows its capacity within the CPU's
//    byte budget or sends its hottest batch to the shared array (made at the
//    node's first flush), else back to the slabs. An object of another node goes to this node's
//    alien array for its home and travels home in a batch when that fills (shared array of the home
//    node first, then its slabs).
//  * alloc_node(n): from node n's lists directly (bypassing arrays) unless n is
//    the local node; a node without memory falls back to the local node and
//    counts a node_fallback.
//  * Check levels (NUMASLAB_CHECK, fixed at start-up):
//      fast — a free checks what the fast path needs anyway: the pointer is in
//        a registered segment, on a slab page, of this cache (kfree: of some
//        cache). Interior pointers are caught on every slow-path free;
//        double frees and interior pointers when the object goes back to its
//        slab (flush, drain, reap, shrink) and by verify(). Objects with the
//        user keep bufctl state kBufctlCached.
//      full — also the segment header magic, the object boundary and the
//        bufctl state on every free, and the state on every hand-out: every
//        object handed out is kBufctlUser, so a double free is fatal at once.
//        The fast paths are closed (every operation takes the C++ path).
//  * Debug caches (NUMASLAB_RED_ZONE/POISON/STORE_USER, NUMASLAB_DEBUG) and,
//    under a memory checker (base/sanitizer.h), every cache are `watched`:
//    their slots carry kStopFast for good, so the hand-written fast paths
//    fall to the slow paths here, which call debug_hooks.cc at the hand-out
//    (hand_out), the free (free_with_desc), slab creation and destruction.
//    Other caches pay one test of a flag on their slow paths, nothing on the
//    fast paths.
//  * Per-CPU byte budget: Σ over caches of capacity × buffer_size of one CPU's
//    arrays never exceeds NUMASLAB_CPU_CACHE_BYTES (budget.cc). An array
//    starts with no capacity; each time it needs room (a refill, a free into a
//    full array) the capacity doubles (at least one batch) up to its limit, as
//    far as the budget allows (a spent budget first takes room from other
//    caches' arrays on that CPU: budget.cc); the capacity goes back when the reaper finds
//    the array idle for long and when it is detached.
//  * Memory idle caches hold serves the caches that grow: every
//    kIdleDrainEveryBytes of slabs a CPU builds, its arrays and its node's
//    shared arrays unused since the last such drain give their objects back
//    (idle_drain.cc; the growing cache and other CPUs keep theirs); a cache
//    about to take pages the node does not hold resident first has the other
//    caches' surplus free slabs destroyed (surplus.cc).
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
#include "cpu/slots.h"
#include "debug/slab_debug.h"
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
  // Immutable after construction. watched: a debug cache, or a memory
  // checker watches the process (base/sanitizer.h); its slots carry kStopFast
  // and its slow paths call debug_hooks.cc.
  bool watched;
  DebugLayout debug;

  // Tunables: written under the registry mutex, read anywhere (relaxed).
  std::atomic<std::uint32_t> limit;
  std::atomic<std::uint32_t> batchcount;
  std::atomic<std::uint32_t> shared;

  std::atomic<NodeLists*> nodes[kMaxNodes];

  Cache* next;  // guarded by: registry mutex
  Cache* prev;  // guarded by: registry mutex
  std::uint32_t num_slots;
  // Two all-zero slots just below slots()[0], never written: the fast paths
  // index with the rseq cpu_id sign-extended, so an unregistered thread's
  // -1 / -2 lands here and falls back (a zero slot is empty, full and
  // without an array) — no bounds check on the fast path.
  alignas(kCacheLine) unsigned char fast_path_guard[2 * sizeof(CpuSlot)];

  CpuSlot* slots() {
    return reinterpret_cast<CpuSlot*>(reinterpret_cast<char*>(this) + slots_offset());
  }
  CpuSlot& slot(int cpu) { return slots()[cpu]; }
  SlotTable table() { return SlotTable{slots(), num_slots}; }
  NodeLists* node(int n) const { return nodes[n].load(std::memory_order_acquire); }

  static constexpr std::size_t slots_offset() {
    return (sizeof(Cache) + kCacheLine - 1) & ~(kCacheLine - 1);
  }
  static constexpr std::size_t bytes_for(int possible_cpus) {
    return slots_offset() + sizeof(CpuSlot) * static_cast<std::size_t>(possible_cpus);
  }
};

[[noreturn]] void handed_out_twice(Cache* c, void* obj);

// ---- check level (cache_alloc.cc) ----
extern bool g_check_full;  // NUMASLAB_CHECK=full; set once at start-up
inline bool check_full() { return g_check_full; }

// Slot table size: every possible CPU of the topology and every CPU number the
// kernel may report (the fast paths index with the kernel's, unchecked).
std::uint32_t slot_count();

// ---- object paths (cache_alloc.cc, cache_free.cc) ----
// The entry points are the C API's (api/fast_path_x86_64.S); these forward.
void* cache_alloc(Cache* c);
void cache_free(Cache* c, void* obj);  // checks obj belongs to c
void* cache_alloc_node(Cache* c, int node);
// The paths behind the fast path, for any policy and check level.
void* cache_alloc_slow(Cache* c);
void cache_free_slow(Cache* c, void* obj, const char* api);
// Frees obj, whose page descriptor d (kind kSlab, owner c) is known.
void free_with_desc(Cache* c, PageDesc* d, void* obj, const char* api);
// Frees objects whose bufctl state is kBufctlCached straight into their home
// node's lists (no array), destroying slabs that become surplus.
void free_to_home(Cache* c, void* const* objs, std::uint32_t n);

// ---- slabs (grow.cc) ----
// Builds one slab on `node` and adds it to the node's free list (the kernel's
// cache_grow). Returns false (errno ENOMEM) if pages or the off-slab
// descriptor could not be had.
bool cache_grow(Cache* c, int node);
// Destroys slabs unlinked by the node layer. Call with no lock held.
void destroy_slabs(Cache* c, SlabQueue* dead);

// ---- surplus free slabs (surplus.cc; slab/node_lists.h) ----
// The pages of a slab or a large block: resident free pages of the node if it
// has them (every kIdleDrainEveryBytes of slabs the calling CPU builds, idle
// arrays give their objects back first: drain_idle_arrays); else the other
// caches' surplus slabs on the node are destroyed (when any exist); then
// alloc_pages. zeroed as for alloc_pages. `needy`, the cache that grows
// (nullptr for a large block), keeps its arrays. Call with no lock held.
void* cache_pages(int node, unsigned order, bool* zeroed = nullptr, const Cache* needy = nullptr);
// Destroys surplus slabs of node (at least `want` bytes' worth and half of
// the node's room in use, when there are) and returns the bytes freed; a busy
// registry frees nothing.
std::uint64_t reclaim_surplus(int node, std::uint64_t want);
// The room for surplus slabs of each node (NUMASLAB_KEEP_FREE_BYTES).
void set_surplus_room(std::uint64_t bytes);

// ---- idle arrays under growth (idle_drain.cc) ----
// Slab pages a CPU takes between two idle drains.
inline constexpr std::uint64_t kIdleDrainEveryBytes = std::uint64_t{256} << 10;
// Counts `bytes` CPU cpu is about to take; true once per kIdleDrainEveryBytes.
bool idle_drain_due(int cpu, std::uint64_t bytes);
// Every cache but `needy`: CPU cpu's array (when cpu is on node) and node's
// shared array, each if it holds objects not used since the last idle drain,
// give them all back to their slabs; emptied slabs are destroyed. A busy
// registry drains nothing. No lock held.
void drain_idle_arrays(int node, int cpu, const Cache* needy);

// ---- node layer helpers (cache_free.cc) ----
// Returns n cached objects of node `node` to that node (shared first when
// use_shared, else slabs).
void return_to_node(Cache* c, int node, void* const* objs, std::uint32_t n, bool use_shared,
                    SlabQueue* dead);
// Makes node's shared array if the cache has one (shared factor > 0) and it
// does not exist yet: a cache whose CPU arrays never overflow never has one.
// Called by a flush before it returns a batch, with no lock held (it
// allocates from kmalloc, maybe from this very cache); out of memory leaves
// the node without one (arrays.cc).
void ensure_shared_array(Cache* c, int node);
// One object straight from node's slabs (no array), growing as needed.
void* alloc_from_node(Cache* c, int node, bool count_node_alloc);

// ---- per-CPU byte budget (budget.cc) ----
// Doubles the capacity of CPU cpu's array (at least one batch, at most up to
// its limit), or grows it as far as the CPU's budget allows; false if the
// array is at its limit, the budget is spent (then without a fence), or the
// CPU has no array. Takes the slot's lock (growing needs no fence); a spent
// budget takes room from other arrays on the CPU at most every few ms.
bool capacity_grow(Cache* c, int cpu);
// A reclaim costs a fence per array it shrinks: a CPU reclaims at most once
// per kReclaimEveryMs, and then an eighth of the budget (at least what it
// needs), so caches that together want more room than the budget has do not
// pass it to and fro at a fence per operation.
inline constexpr std::uint64_t kReclaimEveryMs = 2;
// Gives back capacity of a slot being detached or trimmed (caller holds its
// SlotStop): sets the capacity to `keep` entries (>= avail).
void capacity_set(Cache* c, CpuSlot& s, int cpu, std::uint32_t keep) NS_REQUIRES(s.lock);
// Returns the n oldest (bottom) of the avail objects of CPU cpu's array to
// their slabs on the CPU's node, keeping the hot top (caller holds its
// SlotStop; n <= avail); slabs that must be destroyed go onto dead.
void slot_drop_oldest(Cache* c, CpuSlot& s, std::uint32_t avail, std::uint32_t n, SlabQueue* dead)
    NS_REQUIRES(s.lock);
// An emptied array (capacity 0) whose entries block grew gets a first-size
// block back (a fence); the large one is freed. Call with no lock held.
void entries_shrink(Cache* c, int cpu);
// Detaches CPU cpu's entries block (caller holds its SlotStop) and gives its
// capacity back; *avail objects are left in entries [0, *avail).
void** array_detach(Cache* c, CpuSlot& s, int cpu, std::uint32_t* avail) NS_REQUIRES(s.lock);
// Bytes of capacity CPU cpu's arrays hold, and the budget.
std::uint64_t cpu_cache_bytes(int cpu);
std::uint64_t cpu_cache_budget();
void set_cpu_cache_budget(std::uint64_t bytes);
// A failed start-up forgets every array: their capacity goes with them.
void reset_cpu_cache_bytes();

// Marks an object leaving the allocator to the user at NUMASLAB_CHECK=full
// (kBufctlCached → kBufctlUser). The object came out of one of our arrays,
// so the lookup is the trusted one; the debug tier re-checks what the free
// path checked when it went in.
inline void mark_user(Cache* c, void* obj) {
  PageDesc* d = page_lookup_trusted(obj);
  NS_ASSERT(page_lookup(obj) == d && d->owner == c);
  const auto [s, idx] = resolve_object(d, c->geo, obj);
  NS_CHECK(s && idx >= 0, "cache '%s': %p in an array is not an object of its slabs", c->name, obj);
  const auto i = static_cast<std::uint32_t>(idx);
  if (NS_UNLIKELY(s->load_bufctl(i) != kBufctlCached)) handed_out_twice(c, obj);
  s->store_bufctl(i, kBufctlUser);
}

// ---- debug caches and memory checkers (debug_hooks.cc) ----
// The object paths of a watched cache, after the usual checks.
void* hand_out_watched(Cache* c, void* obj);
void free_watched(Cache* c, void* obj, const char* api);
void slab_created_watched(Cache* c, Slab* s);
void slab_destroyed_watched(Cache* c, Slab* s);
// kmalloc's requested size of obj, an object of class cache c.
void kmalloc_note_size(Cache* c, void* obj, std::size_t size);
// Bytes the user may use of a slab object of c (ksize).
std::size_t usable_size(const Cache* c, const void* obj);
// Debug flags a new cache gets: its own and NUMASLAB_DEBUG's.
unsigned debug_flags_for(unsigned flags);
// verify(): the debug invariants of every object of c's slabs on node nl.
// Appends one line per bad object (at most max_lines) and returns the count.
int verify_debug_objects(Cache* c, NodeLists* nl, BufWriter& out, int max_lines)
    NS_REQUIRES(nl->list_lock);
// The leak report of every debug cache to fd; returns the objects counted.
// quiet: write nothing when there are none.
std::uint64_t leak_report(int fd, bool quiet);

// Everything an object needs when it leaves the allocator by a slow path.
inline void* hand_out(Cache* c, void* obj) {
  if (NS_UNLIKELY(c->watched)) return hand_out_watched(c, obj);
  if (check_full()) mark_user(c, obj);
  return obj;
}

// Recomputes free_limit of node n from the online CPU count.
void update_free_limit(Cache* c, int n);

// Node of the calling thread's CPU, and a node that has memory to serve it.
int local_node();

// ---- fork (fork_locks.cc) ----
// Takes the registry mutex and every slot, alien and list lock of every
// cache, in rank order, without the validator; the fork handlers call it
// once no operation is under way (base/fork_gate.h), and release them all.
void caches_lock_for_fork();
void caches_unlock_after_fork();

}  // namespace numaslab::detail
