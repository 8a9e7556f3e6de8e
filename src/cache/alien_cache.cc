// Alien arrays: allocation, routing of remote frees, draining home.
#include "cache/alien_cache.h"

#include <cstring>
#include <new>

#include "cache/kmalloc.h"
#include "cache/registry.h"

namespace numaslab::detail {

AlienArray** alloc_alien_set(int node, std::uint32_t limit) {
  NS_INTERNAL_ALLOCATION;
  const int nodes = topology().num_nodes();
  if (nodes < 2) return nullptr;  // nothing is ever alien on one node
  // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, one per node
  const std::size_t bytes = sizeof(AlienArray*) * nodes;
  auto** set = static_cast<AlienArray**>(kmalloc_metadata(bytes, node));
  if (!set) return nullptr;
  std::memset(static_cast<void*>(set), 0, bytes);
  for (int i = 0; i < nodes; ++i) {
    if (i == node) continue;
    void* mem = kmalloc_metadata(AlienArray::bytes_for(limit), node);
    if (!mem) {
      free_alien_set(set);
      return nullptr;
    }
    auto* a = new (mem) AlienArray;
    a->home_node = i;
    a->ac.init(limit, 0);
    set[i] = a;
  }
  return set;
}

void free_alien_set(AlienArray** set) {
  if (!set) return;
  const int nodes = topology().num_nodes();
  for (int i = 0; i < nodes; ++i) {
    if (set[i]) kfree(set[i]);
  }
  kfree(set);
}

void drain_alien(Cache* c, AlienArray* a, SlabQueue* dead) {
  if (a->ac.avail == 0) return;
  // Home node's shared array first (a later kernel fix): the objects are
  // likely to be reused there soon, and it saves walking slab lists.
  return_to_node(c, a->home_node, a->ac.entries(), a->ac.avail, true, dead);
  a->ac.avail = 0;
}

void drain_alien_set(Cache* c, AlienArray** set, SlabQueue* dead) {
  if (!set) return;
  for (int i = 0; i < topology().num_nodes(); ++i) {
    if (AlienArray* a = set[i]) {
      LockGuard<SpinLock> g(a->lock);
      drain_alien(c, a, dead);
    }
  }
}

void free_alien(Cache* c, CpuSlot& s, int node, int home, void* obj, SlabQueue* dead) {
  slot_count(&s.stats.remote_frees);
  NodeLists* nl = c->node(node);
  AlienArray** set = nl ? nl->alien.load(std::memory_order_acquire) : nullptr;
  AlienArray* a = set ? set[home] : nullptr;
  if (!a) {
    return_to_node(c, home, &obj, 1, false, dead);
    return;
  }
  LockGuard<SpinLock> g(a->lock);
  if (a->ac.avail == a->ac.limit) {
    slot_count(&s.stats.alien_overflows);
    drain_alien(c, a, dead);
  }
  a->ac.entries()[a->ac.avail++] = obj;
}

}  // namespace numaslab::detail
