// Free paths: the per-CPU fast path, batch flush, alien routing, node returns.
#include "base/check.h"
#include "base/sanitizer.h"
#include "cache/cache.h"
#include "cache/misuse.h"
#include "cpu/rseq_slots.h"
#include "page/page_map.h"

namespace numaslab::detail {

void return_to_node(Cache* c, int node, void* const* objs, std::uint32_t n, bool use_shared,
                    SlabQueue* dead) {
  NodeLists* nl = c->node(node);
  NS_CHECK(nl, "cache '%s': object of node %d but the node has no lists", c->name, node);
  LockGuard<SpinLock> g(nl->list_lock);
  std::uint32_t k = use_shared ? nl->push_shared(objs, n) : 0;
  if (k < n) nl->free_block(c->geo, objs + k, n - k, dead);
}

void drain_alien(Cache* c, AlienArray* a, SlabQueue* dead) {
  if (a->ac.avail == 0) return;
  // Home node's shared array first (a later kernel fix): the objects are
  // likely to be reused there soon, and it saves walking slab lists.
  return_to_node(c, a->home_node, a->ac.entries(), a->ac.avail, true, dead);
  a->ac.avail = 0;
}

void free_to_home(Cache* c, void* const* objs, std::uint32_t n) {
  SlabQueue dead;
  for (std::uint32_t i = 0; i < n; ++i) {
    PageDesc* d = page_lookup(objs[i]);
    NS_CHECK(d && d->kind == PageKind::kSlab, "free_to_home: %p is not a slab object", objs[i]);
    int home = static_cast<Slab*>(d->slab)->nodeid;
    return_to_node(c, home, &objs[i], 1, false, &dead);
  }
  destroy_slabs(c, &dead);
}

namespace {

// The per-CPU array is full: move its oldest batch to the shared array, or
// back to the slabs when the shared array is full or absent.
void flush(Cache* c, ArrayCache* ac, int node, SlabQueue* dead) {
  std::uint32_t batch = ac->batchcount < ac->avail ? ac->batchcount : ac->avail;
  if (batch == 0) batch = ac->avail;
  NodeLists* nl = c->node(node);
  NS_CHECK(nl, "cache '%s': CPU array on node %d without node lists", c->name, node);
  std::uint32_t n;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    n = nl->push_shared(ac->entries(), batch);
    if (n == 0) {
      n = batch;
      nl->free_block(c->geo, ac->entries(), n, dead);
    }
    if (nl->free.count > nl->stats.max_freeable) nl->stats.max_freeable = nl->free.count;
  }
  ac->avail -= n;
  __builtin_memmove(ac->entries(), ac->entries() + n, ac->avail * sizeof(void*));
}

}  // namespace

void free_alien(Cache* c, CpuSlot& s, int node, int home, void* obj, SlabQueue* dead) {
  ++s.stats.remote_frees;
  NodeLists* nl = c->node(node);
  AlienArray** set = nl ? nl->alien.load(std::memory_order_acquire) : nullptr;
  AlienArray* a = set ? set[home] : nullptr;
  if (!a) {
    return_to_node(c, home, &obj, 1, false, dead);
    return;
  }
  LockGuard<SpinLock> g(a->lock);
  if (a->ac.avail == a->ac.limit) {
    ++s.stats.alien_overflows;
    drain_alien(c, a, dead);
  }
  a->ac.entries()[a->ac.avail++] = obj;
}

namespace {

__attribute__((noinline)) void free_rseq_retry(Cache* c, void* obj, int home) {
  for (;;) {
    rseq_count_abort();
    int r = rseq_push(c->slots(), c->num_slots, obj, static_cast<std::uint32_t>(home));
    if (r == kRseqOk) return;
    if (r == kRseqFallback) return free_slow_rseq(c, obj, home);
  }
}

inline void do_free(Cache* c, void* obj, int home) {
  if (NS_LIKELY(slots_policy() == SlotsPolicy::kRseq)) {
    int r = rseq_push(c->slots(), c->num_slots, obj, static_cast<std::uint32_t>(home));
    if (NS_LIKELY(r == kRseqOk)) return;
    if (r == kRseqFallback) return free_slow_rseq(c, obj, home);
    return free_rseq_retry(c, obj, home);
  }
  return free_locked(c, obj, home);
}

}  // namespace

__attribute__((noinline)) void free_locked(Cache* c, void* obj, int home) {
  for (;;) {
    const int cpu = current_cpu();
    const int node = topology().cpu_to_node(cpu);
    CpuSlot& s = c->slot(cpu);
    SlabQueue dead;
    s.lock.lock();
    ArrayCache* ac = s.ac;
    if (NS_UNLIKELY(ac == nullptr)) {
      s.lock.unlock();
      if (topology().mode() == TopologyMode::kSim && !topology().cpu_online(cpu)) continue;
      free_to_home(c, &obj, 1);
      return;
    }
    if (NS_UNLIKELY(home != node)) {
      free_alien(c, s, node, home, obj, &dead);
    } else if (NS_LIKELY(ac->avail < ac->limit)) {
      ac->entries()[ac->avail++] = obj;
      ++s.stats.free_hit;
      s.lock.unlock();
      return;
    } else {
      ++s.stats.free_miss;
      flush(c, ac, node, &dead);
      ac->entries()[ac->avail++] = obj;
    }
    s.lock.unlock();
    // Slabs that became surplus are destroyed with no lock held (R3).
    destroy_slabs(c, &dead);
    return;
  }
}


void cache_free_checked(Cache* c, void* obj, const char* api) {
  free_with_desc(c, page_lookup(obj), obj, api);
}

void free_with_desc(Cache* c, PageDesc* d, void* obj, const char* api) {
  Slab* s = static_cast<Slab*>(d->slab);
  std::int64_t idx = slab_object_index(c->geo, s, obj);
  NS_CHECK(idx >= 0, "%s: %p is an interior pointer, not the start of an object (cache '%s')",
           api, obj, c->name);
  auto i = static_cast<std::uint32_t>(idx);
  NS_CHECK(s->load_bufctl(i) == kBufctlUser, "%s: double free of %p (cache '%s')", api, obj,
           c->name);
  s->store_bufctl(i, kBufctlCached);
  poison_object(obj, c->geo.buffer_size);
  do_free(c, obj, s->nodeid);
}

void cache_free(Cache* c, void* obj) {
  if (!obj) return;
  PageDesc* d = page_lookup(obj);
  if (NS_UNLIKELY(!d || d->kind != PageKind::kSlab || d->owner != c))
    report_bad_cache_free(c, d, obj, "numaslab_cache_free");
  free_with_desc(c, d, obj, "numaslab_cache_free");
}

}  // namespace numaslab::detail
