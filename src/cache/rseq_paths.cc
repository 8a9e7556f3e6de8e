// Slow paths under RseqSlots. The fast path (cache_alloc/do_free) pops or
// pushes with one critical section; when that cannot be done on the current
// CPU's array, these move batches between the array and the node layer with
// batch critical sections — never a fence: only remote operations stop a
// slot. A batch that cannot go into the array (full, stopped, CPU down, the
// thread migrated to another node) goes back to the node layer instead.
#include <atomic>

#include "base/check.h"
#include "cache/cache.h"
#include "cpu/rseq_slots.h"

namespace numaslab::detail {

namespace {

constexpr std::uint32_t kRseqBatchMax = 64;  // bounds a CS's copy loop and our stack
constexpr int kMaxRetries = 4;

void bump(std::uint64_t* counter) { __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); }

// Shared array first, then slabs (the node layer's half of a refill).
std::uint32_t take_from_node(Cache* c, int node, void** buf, std::uint32_t n) {
  NodeLists* nl = c->node(node);
  if (!nl) return 0;
  LockGuard<SpinLock> g(nl->list_lock);
  ArrayCache* sh = nl->shared.load(std::memory_order_relaxed);
  if (sh && sh->avail) {
    std::uint32_t k = sh->avail < n ? sh->avail : n;
    sh->take_top(buf, k);
    sh->touched = 1;
    return k;
  }
  return nl->take_batch(c->geo, buf, n);
}

}  // namespace

void* alloc_slow_rseq(Cache* c) {
  bool missed = false;  // one allocation counts one miss, however many grows
  for (;;) {
    const int cpu = rseq_current_cpu();
    const int node = topology().cpu_to_node(cpu);
    CpuSlot& s = c->slot(cpu);
    // No array (CPU down for this process) or a remote operation in progress:
    // one object from the node layer, nothing cached. (Only the pointer is
    // looked at: the array itself may be freed by a remote operation.)
    if (!__atomic_load_n(&s.ac, __ATOMIC_ACQUIRE) || __atomic_load_n(&s.stopped, __ATOMIC_ACQUIRE))
      return alloc_from_node(c, node, false);
    if (!missed) bump(&s.stats.alloc_miss);
    missed = true;
    // Sized from the cache's tunables, never from `ac`: without the slot lock
    // a remote operation may detach and free the array at any moment.
    std::uint32_t batch = c->batchcount.load(std::memory_order_relaxed);
    if (batch > kRseqBatchMax) batch = kRseqBatchMax;
    if (batch == 0) batch = 1;
    void* buf[kRseqBatchMax];
    std::uint32_t got = take_from_node(c, node, buf, batch);
    if (got == 0) {
      if (!cache_grow(c, node)) return nullptr;
      continue;
    }
    void* obj = buf[--got];
    for (int attempt = 0; got && attempt < kMaxRetries; ++attempt) {
      int r = rseq_push_batch(c->slots(), c->num_slots, buf, got, static_cast<std::uint32_t>(node));
      if (r == kRseqOk) {
        got = 0;
        break;
      }
      if (r == kRseqFallback) break;
      rseq_count_abort();
    }
    if (got) {
      SlabQueue dead;
      return_to_node(c, node, buf, got, true, &dead);
      destroy_slabs(c, &dead);
    }
    mark_user(c, obj);
    return obj;
  }
}

void free_slow_rseq(Cache* c, void* obj, int home) {
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    const int cpu = rseq_current_cpu();
    const int node = topology().cpu_to_node(cpu);
    CpuSlot& s = c->slot(cpu);
    SlabQueue dead;
    if (home != node) {
      {
        LockGuard<SpinLock> g(s.lock);
        if (!s.ac) break;  // CPU down for us: straight home
        free_alien(c, s, node, home, obj, &dead);
      }
      destroy_slabs(c, &dead);
      return;
    }
    if (!__atomic_load_n(&s.ac, __ATOMIC_ACQUIRE) || __atomic_load_n(&s.stopped, __ATOMIC_ACQUIRE))
      break;
    // The array is full: take a batch off it and send it to the node.
    void* buf[kRseqBatchMax];
    RseqBatchResult res{0, 0};
    std::uint32_t batch = c->batchcount.load(std::memory_order_relaxed);
    if (batch > kRseqBatchMax) batch = kRseqBatchMax;
    if (batch == 0) batch = 1;
    int r = rseq_pop_batch(c->slots(), c->num_slots, buf, batch, &res);
    if (r == kRseqAbort) {
      rseq_count_abort();
      continue;
    }
    if (r == kRseqFallback) break;
    bump(&s.stats.free_miss);
    if (res.got) {
      return_to_node(c, static_cast<int>(res.node), buf, res.got, true, &dead);
      destroy_slabs(c, &dead);
    }
    r = rseq_push(c->slots(), c->num_slots, obj, static_cast<std::uint32_t>(home));
    if (r == kRseqOk) return;
    if (r == kRseqAbort) rseq_count_abort();
  }
  free_to_home(c, &obj, 1);
}

}  // namespace numaslab::detail
