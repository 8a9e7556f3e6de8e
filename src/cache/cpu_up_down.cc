// The per-cache steps of a CPU event (cpu_up_down.h).
#include "cache/cpu_up_down.h"

#include <cerrno>
#include <new>

#include "base/check.h"
#include "cache/alien_cache.h"
#include "cache/internal.h"
#include "cache/kmalloc.h"

namespace numaslab::detail {

int cache_prepare_node(Cache* c, int node) {
  NS_INTERNAL_ALLOCATION;
  if (!c->node(node)) {
    void* mem = kmalloc_metadata(sizeof(NodeLists), node);
    if (!mem) return -ENOMEM;
    auto* nl = new (mem) NodeLists;
    nl->init(node, c->name);
    nl->next_reap = reinterpret_cast<std::uintptr_t>(c) % 4000;
    c->nodes[node].store(nl, std::memory_order_release);
  }
  update_free_limit(c, node);
  return 0;
}

int cache_prepare_cpu(Cache* c, int cpu) {
  const int node = topology().cpu_to_node(cpu);
  const std::uint32_t limit = c->limit.load(std::memory_order_relaxed);
  const std::uint32_t batch = c->batchcount.load(std::memory_order_relaxed);
  // R2: allocate everything before taking any lock ... (The node's shared
  // array is made at its first flush, ensure_shared_array.)
  void** nc = alloc_entries(node, initial_entries(limit, batch), batch);
  AlienArray** al = nullptr;
  bool ok = nc != nullptr;
  if (ok && topology().num_nodes() > 1)
    ok = (al = alloc_alien_set(node, limit > 1 ? kAlienLimit : 1)) != nullptr;
  NodeLists* nl = c->node(node);
  if (!ok || !nl) {
    free_entries(nc);
    free_alien_set(al);
    return -ENOMEM;
  }
  // ... install under the locks ...
  {
    // The capacity starts at zero and grows on demand within the CPU's byte
    // budget (budget.cc).
    CpuSlot& s = c->slot(cpu);
    SlotStop stop(s, cpu);
    NS_CHECK(s.base == nullptr, "cache '%s': CPU %d prepared twice", c->name, cpu);
    slot_attach(s, nc, 0);
  }
  {
    LockGuard<SpinLock> g(nl->list_lock);
    if (al && !nl->alien.load(std::memory_order_relaxed)) {
      nl->alien.store(al, std::memory_order_release);
      al = nullptr;
    }
  }
  // ... and free what another CPU of the node had already installed, unlocked.
  free_alien_set(al);
  return 0;
}

void cache_cpu_dead(Cache* c, int cpu) {
  const int node = topology().cpu_to_node(cpu);
  void** nc;
  std::uint32_t nc_avail;
  {
    // The SlotStop (slot lock and, under RseqSlots, stop and fence) waits out
    // any operation still using the array.
    CpuSlot& s = c->slot(cpu);
    SlotStop stop(s, cpu);
    nc = array_detach(c, s, cpu, &nc_avail);
    slot_moved(s, -static_cast<std::int64_t>(nc_avail));
  }
  NodeLists* nl = c->node(node);
  if (!nl) {
    free_entries(nc);
    return;
  }
  SlabQueue dead;
  ArrayCache* sh = nullptr;
  AlienArray** al = nullptr;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    nl->free_limit = static_cast<std::uint64_t>(1 + topology().online_cpus_on_node(node)) *
                         c->batchcount.load(std::memory_order_relaxed) +
                     c->geo.num;
    if (nc && nc_avail) nl->free_block(c->geo, nc, nc_avail, &dead);
    if (topology().online_cpus_on_node(node) == 0) {
      // Last CPU of the node: detach shared and alien under the lock ...
      sh = nl->shared.exchange(nullptr, std::memory_order_acq_rel);
      if (sh && sh->avail) {
        nl->free_block(c->geo, sh->entries(), sh->avail, &dead);
        sh->avail = 0;
      }
      al = nl->alien.exchange(nullptr, std::memory_order_acq_rel);
    }
  }
  // ... and drain and free them after unlocking (R3, R4): freeing an array may
  // need this very list_lock, and draining aliens takes remote list_locks.
  free_array(sh);
  drain_alien_set(c, al, &dead);
  free_alien_set(al);
  free_entries(nc);
  destroy_slabs(c, &dead);
}

void cache_shrink_node(Cache* c, int node) {
  NodeLists* nl = c->node(node);
  if (!nl) return;
  SlabQueue dead;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    nl->stats.reaped += nl->unlink_free_slabs(c->geo, ~0u, &dead);
  }
  destroy_slabs(c, &dead);
}

}  // namespace numaslab::detail
