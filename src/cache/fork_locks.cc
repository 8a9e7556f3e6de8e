// Every lock of every cache, in rank order, for the fork handlers
// (runtime/process.cc). The kernel never forks; this has no counterpart in
// mm/slab.c.
#include "cache/alien_cache.h"
#include "cache/cache.h"
#include "cache/registry.h"

namespace numaslab::detail {

namespace {

template <class F>
void for_each_alien(Cache* c, F&& f) NS_NO_THREAD_SAFETY_ANALYSIS {
  const int nodes = topology().num_nodes();
  for (int n = 0; n < nodes; ++n) {
    NodeLists* nl = c->node(n);
    AlienArray** alien = nl ? nl->alien.load(std::memory_order_acquire) : nullptr;
    if (!alien) continue;
    for (int m = 0; m < nodes; ++m)
      if (alien[m]) f(alien[m]->lock);
  }
}

}  // namespace

void caches_lock_for_fork() NS_NO_THREAD_SAFETY_ANALYSIS {
  registry().mutex.fork_lock();
  const int nodes = topology().num_nodes();
  for (Cache* c = registry().head; c; c = c->next)
    for (std::uint32_t i = 0; i < c->num_slots; ++i) c->slot(static_cast<int>(i)).lock.fork_lock();
  for (Cache* c = registry().head; c; c = c->next)
    for_each_alien(c, [](SpinLock& l) NS_NO_THREAD_SAFETY_ANALYSIS { l.fork_lock(); });
  for (Cache* c = registry().head; c; c = c->next)
    for (int n = 0; n < nodes; ++n)
      if (NodeLists* nl = c->node(n)) nl->list_lock.fork_lock();
}

void caches_unlock_after_fork() NS_NO_THREAD_SAFETY_ANALYSIS {
  const int nodes = topology().num_nodes();
  for (Cache* c = registry().head; c; c = c->next)
    for (int n = 0; n < nodes; ++n)
      if (NodeLists* nl = c->node(n)) nl->list_lock.fork_unlock();
  for (Cache* c = registry().head; c; c = c->next)
    for_each_alien(c, [](SpinLock& l) NS_NO_THREAD_SAFETY_ANALYSIS { l.fork_unlock(); });
  for (Cache* c = registry().head; c; c = c->next)
    for (std::uint32_t i = 0; i < c->num_slots; ++i)
      c->slot(static_cast<int>(i)).lock.fork_unlock();
  registry().mutex.fork_unlock();
}

}  // namespace numaslab::detail
