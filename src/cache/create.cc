// Cache lifetime: create, destroy, shrink (the kernel's kmem_cache_create,
// kmem_cache_destroy, kmem_cache_shrink). The per-cache steps of CPU events
// are in cpu_up_down.cc.
#include <cerrno>
#include <cstring>
#include <new>

#include "base/check.h"
#include "cache/alien_cache.h"
#include "cache/cpu_up_down.h"
#include "cache/internal.h"
#include "cache/kmalloc.h"
#include "cache/misuse.h"
#include "cache/registry.h"

namespace numaslab::detail {

namespace {

constexpr unsigned kKnownFlags = kHwCacheAlign | kReclaimAccount | kDebugFlags;

// Destroyed descriptors, oldest first (linked through `next`), kept from
// reuse so that a stale handle is recognised (misuse.h).
Cache* g_quarantine_head NS_GUARDED_BY(registry().mutex) = nullptr;
Cache* g_quarantine_tail NS_GUARDED_BY(registry().mutex) = nullptr;
int g_quarantined NS_GUARDED_BY(registry().mutex) = 0;

void quarantine(Cache* c) NS_REQUIRES(registry().mutex) {
  c->next = nullptr;
  if (g_quarantine_tail)
    g_quarantine_tail->next = c;
  else
    g_quarantine_head = c;
  g_quarantine_tail = c;
  if (++g_quarantined <= kQuarantine) return;
  Cache* old = g_quarantine_head;
  g_quarantine_head = old->next;
  --g_quarantined;
  cache_free(cache_cache(), old);
}

// A handle passed to destroy or shrink: a live cache, a quarantined one
// (fatal, named), or not a cache at all (fatal, not dereferenced).
void check_handle(Cache* c, const char* api) NS_REQUIRES(registry().mutex) {
  for (Cache* r = registry().head; r; r = r->next)
    if (r == c) return;
  for (Cache* q = g_quarantine_head; q; q = q->next)
    if (q == c) report_destroyed(c, api);
  fatal("%s: %p is not a cache (a handle of a cache destroyed long ago, or never a handle)", api,
        static_cast<void*>(c));
}

bool node_needs_lists(int node) {
  Topology& t = topology();
  return t.node_has_memory(node) || !t.node_cpus(node).empty();
}

}  // namespace

void default_tunables(std::uint32_t buffer_size, std::uint32_t* limit, std::uint32_t* batch,
                      std::uint32_t* shared) {
  // Larger arrays than the kernel's table (120/54/24 up to 256 B/1 KiB/a
  // page): a burst of a few hundred small objects comes back from the array
  // instead of a refill under the node's lock every batch. Not larger still:
  // where objects flow from CPUs that free to CPUs that allocate, every array
  // fills to its limit, and four times these (1024/256) held a third of such
  // a program's memory for a few percent of speed elsewhere. The per-CPU byte
  // budget bounds what all arrays hold together, so the room is used only
  // where a CPU cycles that many objects; refills and flushes move at most 60.
  std::uint32_t l;
  if (buffer_size > 131072)
    l = 1;
  else if (buffer_size > kPageSize)
    l = 8;
  else if (buffer_size > 1024)
    l = 64;
  else if (buffer_size > 256)
    l = 128;
  else
    l = kSmallObjectLimit;
  *limit = l;
  *batch = (l + 1) / 2 < kSmallObjectBatch ? (l + 1) / 2 : kSmallObjectBatch;
  *shared = (buffer_size <= kPageSize && topology().possible_cpus() > 1) ? 8 : 0;
}

Cache* cache_construct(void* mem, const char* name, std::size_t size, std::size_t align,
                       unsigned flags, CtorFn ctor, const SlabGeometry& geo,
                       const DebugLayout* debug) {
  auto* c = new (mem) Cache{};
  std::size_t n = std::strlen(name);
  std::memcpy(c->name, name, n + 1);
  c->object_size = size;
  c->flags = flags;
  c->ctor = ctor;
  c->geo = geo;
  if (debug) c->debug = *debug;
  // A debug cache, or any cache a memory checker watches, never takes the
  // hand-written fast paths: kStopFast sends them to the slow paths, which
  // do the checks. Nothing is added to a fast path.
  c->watched = c->debug.flags != 0 || tools_active();
  c->slabp_cache = geo.off_slab ? kmalloc_cache(size_class(geo.slab_size)) : nullptr;
  std::uint32_t limit, batch, shared;
  default_tunables(geo.buffer_size, &limit, &batch, &shared);
  c->limit.store(limit, std::memory_order_relaxed);
  c->batchcount.store(batch, std::memory_order_relaxed);
  c->shared.store(shared, std::memory_order_relaxed);
  c->num_slots = slot_count();
  const int possible = topology().possible_cpus();
  for (std::uint32_t i = 0; i < c->num_slots; ++i) {
    auto* s = new (&c->slots()[i]) CpuSlot;
    // Slots beyond the topology's CPUs (sim mode on a larger machine) never
    // get an array: the fast paths that index them always fall back.
    const int cpu = static_cast<int>(i);
    s->node = static_cast<std::uint16_t>(cpu < possible ? topology().cpu_to_node(cpu) : 0);
    s->stopped = fast_paths() && !c->watched ? 0 : kStopFast;
    s->lock.set_name(LockName{"cpu_slot", c->name, cpu});
  }
  return c;
}

bool cache_geometry(std::size_t size, std::size_t align, unsigned flags, SlabGeometry* geo,
                    DebugLayout* debug) {
  const unsigned own = flags & kDebugFlags;
  const unsigned want = debug_flags_for(flags);
  const std::size_t debug_size = debug_layout(size, want, debug);
  if (compute_geometry(debug_size, align, flags & ~kDebugFlags, geo)) return true;
  // Too large with its debug metadata: NUMASLAB_DEBUG leaves the cache as it
  // is; flags that asked for debugging fail.
  *debug = DebugLayout{};
  return !own && want && compute_geometry(size, align, flags & ~kDebugFlags, geo);
}

void update_free_limit(Cache* c, int n) {
  NodeLists* nl = c->node(n);
  if (!nl) return;
  LockGuard<SpinLock> g(nl->list_lock);
  nl->free_limit = static_cast<std::uint64_t>(1 + topology().online_cpus_on_node(n)) *
                       c->batchcount.load(std::memory_order_relaxed) +
                   c->geo.num;
}

void drain_all_arrays(Cache* c) {
  Topology& t = topology();
  for (std::uint32_t cpu = 0; cpu < c->num_slots; ++cpu) {
    CpuSlot& s = c->slot(static_cast<int>(cpu));
    if (!s.has_array()) continue;
    SlabQueue dead;
    {
      SlotStop stop(s, static_cast<int>(cpu));
      if (const std::uint32_t n = s.avail()) {
        NodeLists* nl = c->node(t.cpu_to_node(static_cast<int>(cpu)));
        LockGuard<SpinLock> gl(nl->list_lock);
        nl->free_block(c->geo, s.base, n, &dead);
        s.set_top(s.base);
        slot_moved(s, -static_cast<std::int64_t>(n));
      }
      // An emptied array gives its capacity back to the CPU's budget.
      capacity_set(c, s, static_cast<int>(cpu), 0);
    }
    destroy_slabs(c, &dead);
    entries_shrink(c, static_cast<int>(cpu));
  }
  // Alien arrays before shared arrays: draining an alien array fills its home
  // node's shared array first, which must then be emptied too.
  for (int n = 0; n < t.num_nodes(); ++n) {
    NodeLists* nl = c->node(n);
    if (!nl) continue;
    // The registry mutex keeps the alien set alive: only hotplug detaches it.
    AlienArray** al = nl->alien.load(std::memory_order_acquire);
    if (!al) continue;
    SlabQueue dead;
    drain_alien_set(c, al, &dead);
    destroy_slabs(c, &dead);
  }
  for (int n = 0; n < t.num_nodes(); ++n) {
    NodeLists* nl = c->node(n);
    if (!nl) continue;
    SlabQueue dead;
    {
      LockGuard<SpinLock> g(nl->list_lock);
      ArrayCache* sh = nl->shared.load(std::memory_order_relaxed);
      if (sh && sh->avail) {
        nl->free_block(c->geo, sh->entries(), sh->avail, &dead);
        sh->avail = 0;
      }
    }
    destroy_slabs(c, &dead);
  }
}

namespace {

std::uint64_t objects_in_use(Cache* c) {
  std::uint64_t n = 0;
  for (int i = 0; i < topology().num_nodes(); ++i) {
    NodeLists* nl = c->node(i);
    if (!nl) continue;
    LockGuard<SpinLock> g(nl->list_lock);
    n += nl->stats.active;
  }
  return n;
}

int shrink_locked(Cache* c) NS_REQUIRES(registry().mutex) {
  drain_all_arrays(c);
  for (int n = 0; n < topology().num_nodes(); ++n) cache_shrink_node(c, n);
  return objects_in_use(c) ? 1 : 0;
}

}  // namespace

void cache_release(Cache* c) {
  for (std::uint32_t cpu = 0; cpu < c->num_slots; ++cpu) {
    CpuSlot& s = c->slot(static_cast<int>(cpu));
    void** entries;
    {
      SlotStop stop(s, static_cast<int>(cpu));
      std::uint32_t avail;
      entries = array_detach(c, s, static_cast<int>(cpu), &avail);
    }
    free_entries(entries);
  }
  for (int n = 0; n < topology().num_nodes(); ++n) {
    NodeLists* nl = c->nodes[n].exchange(nullptr, std::memory_order_acq_rel);
    if (!nl) continue;
    free_array(nl->shared.exchange(nullptr));
    free_alien_set(nl->alien.exchange(nullptr));
    nl->~NodeLists();
    kfree(nl);
  }
  if (c->destroyed)
    quarantine(c);
  else
    cache_free(cache_cache(), c);
}

Cache* cache_find(const char* name) {
  for (Cache* c = registry().head; c; c = c->next)
    if (std::strcmp(c->name, name) == 0) return c;
  return nullptr;
}

void registry_link(Cache* c) {
  c->prev = nullptr;
  c->next = registry().head;
  if (registry().head) registry().head->prev = c;
  registry().head = c;
}

void registry_unlink(Cache* c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    registry().head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->next = c->prev = nullptr;
}

int cache_populate(Cache* c) {
  Topology& t = topology();
  for (int n = 0; n < t.num_nodes(); ++n) {
    if (node_needs_lists(n) && cache_prepare_node(c, n) != 0) return -ENOMEM;
  }
  for (int cpu = 0; cpu < t.possible_cpus(); ++cpu) {
    if (t.cpu_online(cpu) && cache_prepare_cpu(c, cpu) != 0) return -ENOMEM;
  }
  return 0;
}

Cache* cache_create(const char* name, std::size_t size, std::size_t align, unsigned flags,
                    CtorFn ctor) {
  NS_ASSERT(booted());
  std::size_t len = name ? strnlen(name, kCacheNameMax) : 0;
  bool bad_name = len == 0 || len >= kCacheNameMax;
  for (std::size_t i = 0; !bad_name && i < len; ++i)
    if (name[i] <= ' ' || name[i] > '~' || name[i] == '"' || name[i] == '\\') bad_name = true;
  SlabGeometry geo;
  DebugLayout debug;
  if (bad_name || (flags & ~kKnownFlags) || !cache_geometry(size, align, flags, &geo, &debug)) {
    errno = EINVAL;
    return nullptr;
  }
  LockGuard<Mutex> g(registry().mutex);
  if (cache_find(name)) {
    errno = EEXIST;
    return nullptr;
  }
  void* mem;
  {
    NS_INTERNAL_ALLOCATION;
    mem = cache_alloc(cache_cache());
  }
  if (!mem) return nullptr;
  Cache* c = cache_construct(mem, name, size, align, flags, ctor, geo, &debug);
  if (cache_populate(c) != 0) {
    cache_release(c);
    errno = ENOMEM;
    return nullptr;
  }
  registry_link(c);
  return c;
}

int cache_shrink(Cache* c) {
  LockGuard<Mutex> g(registry().mutex);
  check_handle(c, "numaslab_cache_shrink");
  return shrink_locked(c);
}

int cache_destroy(Cache* c) {
  LockGuard<Mutex> g(registry().mutex);
  check_handle(c, "numaslab_cache_destroy");
  NS_CHECK(!c->is_kmalloc && c != cache_cache(),
           "numaslab_cache_destroy: cache '%s' belongs to numaslab and cannot be destroyed",
           c->name);
  if (shrink_locked(c) != 0) {
    warn("numaslab_cache_destroy: cache '%s' still has %llu objects in use; not destroyed", c->name,
         static_cast<unsigned long long>(objects_in_use(c)));
    report_live_objects(c);
    return -EBUSY;
  }
  registry_unlink(c);
  // From here every per-CPU slot is empty and the node lists are gone: the
  // fast paths fall through to the node layer, which names the misuse.
  __atomic_store_n(&c->destroyed, true, __ATOMIC_RELAXED);
  cache_release(c);
  return 0;
}

}  // namespace numaslab::detail
