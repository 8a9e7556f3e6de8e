// Allocation paths behind the fast path: cache_alloc_refill (one, for both
// slots policies), node-direct allocation, alloc_node.
#include <cerrno>

#include "base/check.h"
#include "base/sanitizer.h"
#include "cache/cache.h"
#include "cache/misuse.h"
#include "page/page_map.h"

struct numaslab_cache;
extern "C" void* numaslab_cache_alloc(numaslab_cache* c);

namespace numaslab::detail {

bool g_check_full = false;

int local_node() { return topology().cpu_to_node(current_cpu()); }

void handed_out_twice(Cache* c, void* obj) {
  fatal("cache '%s': object %p handed out twice (it was not in any cache)", c->name, obj);
}

void* cache_alloc(Cache* c) { return numaslab_cache_alloc(reinterpret_cast<numaslab_cache*>(c)); }

namespace {

// Largest batch a refill or flush moves through our stack.
constexpr std::uint32_t kBatchMax = 64;

bool sim_cpu_gone(int cpu) {
  return topology().mode() == TopologyMode::kSim && !topology().cpu_online(cpu);
}

// Shared array first, then slabs (the node layer's half of a refill).
std::uint32_t take_from_node(Cache* c, int node, void** buf, std::uint32_t n) {
  NodeLists* nl = c->node(node);
  if (!nl) return 0;
  LockGuard<SpinLock> g(nl->list_lock);
  ArrayCache* sh = nl->shared.load(std::memory_order_relaxed);
  if (sh && sh->avail) {
    std::uint32_t k = sh->avail < n ? sh->avail : n;
    sh->take_top(buf, k);
    sh->touched = kTouchedAll;
    return k;
  }
  return nl->take_batch(c->geo, buf, n);
}

// The kernel's cache_alloc_refill: the current CPU's array is empty (or
// cannot be used): take a batch from the node, keep one object, push the
// rest. Sized from the cache's tunables and the slot's capacity as read
// without its lock — only a hint: the push checks again.
template <class Slots>
void* cache_alloc_refill(Cache* c) {
  bool missed = false;  // one allocation counts one miss, however many grows
  bool idle = false;    // decided at the miss, before it counts as a use
  for (;;) {
    const int cpu = Slots::cpu();
    const int node = topology().cpu_to_node(cpu);
    CpuSlot& s = c->slot(cpu);
    if (!s.has_array()) {
      // A virtual CPU that went down: the next current_cpu() migrates us.
      if (sim_cpu_gone(cpu)) continue;
      // No array (CPU down for this process, or bootstrap): the node layer.
      return alloc_from_node(c, node, false);
    }
    // A remote operation in progress: one object from the node, nothing cached.
    if (__atomic_load_n(&s.stopped, __ATOMIC_ACQUIRE) & kStopRemote)
      return alloc_from_node(c, node, false);
    // An array not used since the reaper's last visit refills a little only
    // (the kernel's BATCHREFILL_LIMIT).
    if (!missed) {
      LockGuard<SpinLock> g(s.lock);  // the hint reads the entries block
      idle = s.base && s.idle_hint();
      slot_count(&s.stats.alloc_miss);
      missed = true;
    }
    std::uint32_t batch = c->batchcount.load(std::memory_order_relaxed);
    if (idle && batch > kBatchRefillLimit) batch = kBatchRefillLimit;
    if (batch > kBatchMax) batch = kBatchMax;
    if (batch == 0) batch = 1;
    std::uint32_t room = s.capacity() - s.avail();
    if (room + 1 < batch && capacity_grow(c, cpu)) room = s.capacity() - s.avail();
    if (batch > room + 1) batch = room + 1;
    void* buf[kBatchMax];
    std::uint32_t got = take_from_node(c, node, buf, batch);
    if (got == 0) {
      if (!cache_grow(c, node)) return nullptr;
      continue;
    }
    void* obj = buf[--got];
    if (got) {
      if (Slots::push_batch(c->table(), buf, got, static_cast<std::uint32_t>(node))) {
        slot_moved(s, got);
      } else {
        // Full after all, stopped, or the thread moved to another node.
        SlabQueue dead;
        return_to_node(c, node, buf, got, true, &dead);
        destroy_slabs(c, &dead);
      }
    }
    return hand_out(c, obj);
  }
}

template <class Slots>
void* alloc_path(Cache* c) {
  void* obj;
  if (Slots::pop(c->table(), &obj)) return hand_out(c, obj);
  return cache_alloc_refill<Slots>(c);
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
    if (got) return hand_out(c, obj);
    if (!cache_grow(c, node)) return nullptr;
  }
}

void* cache_alloc_slow(Cache* c) {
  NS_CHECK(c, "numaslab_cache_alloc: NULL cache");
  if (slots_policy() == SlotsPolicy::kRseq) return alloc_path<RseqSlots>(c);
  return alloc_path<LockedSlots>(c);
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
