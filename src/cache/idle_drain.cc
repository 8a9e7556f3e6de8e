// Arrays that hold objects idle while other caches grow give them back
// (cache/cache.h: drain_idle_arrays).
//
// The classic loss of an allocator with a cache per size: a working set that
// moves from one size to others leaves the arrays of the sizes it left full,
// and the new sizes fault fresh pages in beside them until the reaper comes
// round, seconds later. So each time a CPU has grown caches by
// kIdleDrainEveryBytes, the arrays not used since its last such drain — this
// CPU's, and the node's shared arrays — return their objects to their slabs;
// the slabs that empty go to the page allocator (or the surplus room, which
// the growth reclaims when it must take fresh memory: cache_pages), where the
// growing sizes find them resident. Only the calling CPU's arrays: stopping
// another CPU's costs an interrupt of that CPU; its arrays drain when it
// grows, or on the reaper's visits.
#include <atomic>

#include "cache/cache.h"
#include "cache/registry.h"

namespace numaslab::detail {

namespace {

std::atomic<std::uint64_t> g_grown_bytes[kMaxCpus];

// CPU cpu's array of c, if it holds objects and was not used since the last
// idle drain (the snapshot moves on when it was).
void drain_if_idle(Cache* c, int cpu, SlabQueue* dead) {
  CpuSlot& s = c->slot(cpu);
  if (!s.has_array()) return;
  {
    // Decide under the lock first (the snapshot lives in the entries block):
    // a used array costs no fence.
    LockGuard<SpinLock> g(s.lock);
    if (!s.base) return;
    const auto now = static_cast<std::uint32_t>(s.allocs());
    std::uint32_t& seen = s.header()->drain_seen;
    if (now != seen) {
      seen = now;
      return;
    }
    if (s.avail() == 0) return;
  }
  SlotStop stop(s, cpu);
  if (!s.base) return;
  slot_drop_oldest(c, s, s.avail(), s.avail(), dead);
}

// The node's shared array of c, if not taken from since the last idle drain.
void drain_shared_if_idle(Cache* c, NodeLists* nl, SlabQueue* dead) {
  LockGuard<SpinLock> g(nl->list_lock);
  ArrayCache* sh = nl->shared.load(std::memory_order_relaxed);
  if (!sh || sh->avail == 0) return;
  if (sh->touched & kTouchedIdleDrain) {
    sh->touched &= ~kTouchedIdleDrain;
    return;
  }
  nl->free_block(c->geo, sh->entries(), sh->avail, dead);
  sh->drop_bottom(sh->avail);
}

}  // namespace

bool idle_drain_due(int cpu, std::uint64_t bytes) {
  if (cpu < 0 || cpu >= kMaxCpus) return false;
  std::atomic<std::uint64_t>& acct = g_grown_bytes[cpu];
  if (acct.fetch_add(bytes, std::memory_order_relaxed) + bytes < kIdleDrainEveryBytes) return false;
  acct.store(0, std::memory_order_relaxed);
  return true;
}

void drain_idle_arrays(int node, int cpu, const Cache* needy) NS_NO_THREAD_SAFETY_ANALYSIS {
  if (!registry().mutex.try_lock()) return;  // busy: nothing this time
  const bool own = cpu >= 0 && topology().cpu_to_node(cpu) == node;
  for (Cache* c = registry().head; c; c = c->next) {
    NodeLists* nl = c->node(node);
    if (c == needy || !nl) continue;
    SlabQueue dead;
    if (own && static_cast<std::uint32_t>(cpu) < c->num_slots) drain_if_idle(c, cpu, &dead);
    drain_shared_if_idle(c, nl, &dead);
    destroy_slabs(c, &dead);
  }
  registry().mutex.unlock();
}

}  // namespace numaslab::detail
