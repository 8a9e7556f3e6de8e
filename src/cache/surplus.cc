// Surplus free slabs (slab/node_lists.h) given back when their node needs the
// memory: a cache that is about to take pages the node does not hold resident
// — released pages that fault in, or a new segment — first has the other
// caches' surplus slabs destroyed, so memory one size class no longer uses
// serves the next one instead of new pages.
#include "cache/cache.h"
#include "cache/registry.h"
#include "page/page_allocator.h"

namespace numaslab::detail {

void set_surplus_room(std::uint64_t bytes) {
  for (int n = 0; n < kMaxNodes; ++n) surplus_room(n).set_capacity(bytes);
}

std::uint64_t reclaim_surplus(int node, std::uint64_t want) NS_NO_THREAD_SAFETY_ANALYSIS {
  SurplusRoom& room = surplus_room(node);
  // At least half of what the node keeps: the next grows find pages without
  // another walk over every cache.
  if (want < room.used() / 2) want = room.used() / 2;
  if (want == 0 || !registry().mutex.try_lock()) return 0;  // busy: new pages then
  std::uint64_t got = 0;
  for (Cache* c = registry().head; c && got < want; c = c->next) {
    NodeLists* nl = c->node(node);
    if (!nl) continue;
    const std::uint64_t slab = std::uint64_t{kPageSize} << c->geo.order;
    SlabQueue dead;
    {
      LockGuard<SpinLock> g(nl->list_lock);
      if (nl->surplus == 0) continue;
      const std::uint64_t need = (want - got + slab - 1) / slab;
      nl->stats.reaped += nl->unlink_surplus(
          c->geo, need < nl->surplus ? static_cast<std::uint32_t>(need) : nl->surplus, &dead);
    }
    got += dead.count * slab;
    destroy_slabs(c, &dead);
  }
  registry().mutex.unlock();
  return got;
}

void* cache_pages(int node, unsigned order, bool* zeroed, const Cache* needy) {
  // calloc's large runs want released memory (page_allocator.h).
  const bool zero_run = zeroed != nullptr && order >= kZeroedRunOrder;
  if (!zero_run && node >= 0 && node < kMaxNodes) {
    const std::uint64_t bytes = std::uint64_t{kPageSize} << order;
    if (needy) {
      const int cpu = current_cpu();
      if (idle_drain_due(cpu, bytes)) drain_idle_arrays(node, cpu, needy);
    }
    if (void* p = alloc_resident_pages(node, order)) {
      if (zeroed) *zeroed = false;
      return p;
    }
    // Fresh memory next: the other caches' surplus first (a drain above may
    // have made some).
    if (surplus_room(node).used() != 0) reclaim_surplus(node, bytes);
  }
  return alloc_pages(node, order, zeroed);
}

}  // namespace numaslab::detail
