// Allocation paths: the per-CPU fast path, batch refill, node-direct allocation.
#include <cerrno>

#include "base/check.h"
#include "base/sanitizer.h"
#include "cache/cache.h"
#include "cache/misuse.h"
#include "cpu/rseq_slots.h"
#include "page/page_map.h"

namespace numaslab::detail {

int local_node() { return topology().cpu_to_node(current_cpu()); }

void handed_out_twice(Cache* c, void* obj) {
  fatal("cache '%s': object %p handed out twice (it was not in any cache)", c->name, obj);
}

namespace {

// Refills an empty per-CPU array from the node: shared array first, then
// partial slabs, then free slabs. Returns an object, or nullptr if the node
// has nothing and must grow.
void* refill(Cache* c, CpuSlot& s, ArrayCache* ac, int node) NS_REQUIRES(s.lock) {
  std::uint32_t batch = ac->batchcount;
  if (!ac->touched && batch > kBatchRefillLimit) batch = kBatchRefillLimit;
  if (batch > ac->limit) batch = ac->limit;
  NodeLists* nl = c->node(node);
  if (!nl || batch == 0) return nullptr;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    ArrayCache* sh = nl->shared.load(std::memory_order_relaxed);
    if (sh && sh->avail) {
      std::uint32_t n = sh->avail < batch ? sh->avail : batch;
      sh->take_top(ac->entries() + ac->avail, n);
      ac->avail += n;
      sh->touched = 1;
    } else {
      ac->avail += nl->take_batch(c->geo, ac->entries() + ac->avail, batch);
    }
  }
  if (ac->avail == 0) return nullptr;
  ac->touched = 1;
  return ac->entries()[--ac->avail];
}

bool sim_cpu_gone(int cpu) {
  return topology().mode() == TopologyMode::kSim && !topology().cpu_online(cpu);
}

}  // namespace

// One object straight from a node's slabs, growing the node as needed.
void* alloc_from_node(Cache* c, int node, bool count_node_alloc) {
  NodeLists* nl = c->node(node);
  if (!nl) {
    // A destroyed cache has no arrays and no node lists: every path ends here.
    if (cache_destroyed(c)) report_destroyed(c, "numaslab_cache_alloc");
    errno = ENOMEM;
    return nullptr;
  }
  for (;;) {
    void* obj = nullptr;
    std::uint32_t got;
    {
      LockGuard<SpinLock> g(nl->list_lock);
      got = nl->take_batch(c->geo, &obj, 1);
      if (got && count_node_alloc) ++nl->stats.node_allocs;
    }
    if (got) {
      mark_user(c, obj);
      return obj;
    }
    if (!cache_grow(c, node)) return nullptr;
  }
}

__attribute__((noinline)) void* alloc_rseq_retry(Cache* c) {
  for (;;) {
    rseq_count_abort();
    void* obj;
    int r = rseq_pop(c->slots(), c->num_slots, &obj);
    if (r == kRseqOk) {
      mark_user(c, obj);
      return obj;
    }
    if (r == kRseqFallback) return alloc_slow_rseq(c);
  }
}

void* cache_alloc(Cache* c) {
  if (NS_LIKELY(slots_policy() == SlotsPolicy::kRseq)) {
    void* obj;
    int r = rseq_pop(c->slots(), c->num_slots, &obj);
    if (NS_LIKELY(r == kRseqOk)) {
      mark_user(c, obj);
      return obj;
    }
    if (r == kRseqFallback) return alloc_slow_rseq(c);
    return alloc_rseq_retry(c);
  }
  return alloc_locked(c);
}

__attribute__((noinline)) void* alloc_locked(Cache* c) {
  bool missed = false;  // one allocation counts one miss, however many grows
  for (;;) {
    const int cpu = current_cpu();
    const int node = topology().cpu_to_node(cpu);
    CpuSlot& s = c->slot(cpu);
    s.lock.lock();
    ArrayCache* ac = s.ac;
    if (NS_LIKELY(ac != nullptr)) {
      if (NS_LIKELY(ac->avail != 0)) {
        void* obj = ac->entries()[--ac->avail];
        ac->touched = 1;
        ++s.stats.alloc_hit;
        s.lock.unlock();
        mark_user(c, obj);
        return obj;
      }
      if (!missed) ++s.stats.alloc_miss;
      missed = true;
      void* obj = refill(c, s, ac, node);
      s.lock.unlock();
      if (obj) {
        mark_user(c, obj);
        return obj;
      }
    } else {
      s.lock.unlock();
      // A virtual CPU that went down: the next current_cpu() migrates us.
      if (sim_cpu_gone(cpu)) continue;
      // No array (CPU down for this process, or bootstrap): the node layer.
      return alloc_from_node(c, node, false);
    }
    // Grow with no lock held (pages, an off-slab descriptor and constructors
    // may all need the allocator), then retry: another CPU may take the new
    // slab first, exactly as in the kernel.
    if (!cache_grow(c, node)) return nullptr;
  }
}

void* cache_alloc_node(Cache* c, int node) {
  Topology& t = topology();
  if (node < 0 || node >= t.num_nodes()) {
    errno = EINVAL;
    return nullptr;
  }
  const int here = local_node();
  if (!t.node_has_memory(node) || !c->node(node)) {
    // Fall back to local memory, and say so in the requested node's stats.
    if (NodeLists* nl = c->node(node)) {
      LockGuard<SpinLock> g(nl->list_lock);
      ++nl->stats.node_fallbacks;
    } else if (NodeLists* hl = c->node(here)) {
      LockGuard<SpinLock> g(hl->list_lock);
      ++hl->stats.node_fallbacks;
    }
    return cache_alloc(c);
  }
  if (node == here) {
    void* obj = cache_alloc(c);
    // The local node's per-CPU array served it — unless the thread was moved
    // to another node meanwhile (its CPU went down during a grow): then the
    // object is the wrong node's; return it and ask the node directly.
    if (obj && page_lookup_trusted(obj)->node != node) {
      cache_free(c, obj);
      return alloc_from_node(c, node, true);
    }
    return obj;
  }
  return alloc_from_node(c, node, true);
}

}  // namespace numaslab::detail
