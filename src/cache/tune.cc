// Run-time tuning of a cache's per-CPU arrays (the kernel's do_tune_cpucache
// and the write side of /proc/slabinfo).
#include "cache/tune.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cache/internal.h"
#include "cache/kmalloc.h"
#include "cache/registry.h"

namespace numaslab::detail {

namespace {

bool valid_tunables(long limit, long batch, long shared) {
  return limit >= 1 && limit <= static_cast<long>(kMaxArrayLimit) && batch >= 1 && batch <= limit &&
         shared >= 0 && shared <= static_cast<long>(kMaxSharedFactor);
}

}  // namespace

int cache_tune(Cache* c, long limit, long batch, long shared) {
  if (!valid_tunables(limit, batch, shared)) return -EINVAL;
  Topology& t = topology();
  const auto lim = static_cast<std::uint32_t>(limit);
  const auto bat = static_cast<std::uint32_t>(batch);
  const auto sha = static_cast<std::uint32_t>(shared);

  // 1. New per-CPU arrays for every online CPU and new shared arrays for every
  //    node with an online CPU, all before touching anything (R2). Arrays
  //    live in the kmalloc caches; the pointer tables live on our stack
  //    (bounded by kMaxCpus/kMaxNodes), never in the allocator.
  void** fresh[kMaxCpus] = {};
  ArrayCache* fresh_shared[kMaxNodes] = {};
  bool ok = true;
  for (int cpu = 0; cpu < t.possible_cpus() && ok; ++cpu)
    if (t.cpu_online(cpu))
      ok = (fresh[cpu] = alloc_entries(t.cpu_to_node(cpu), initial_entries(lim, bat), bat)) !=
           nullptr;
  for (int n = 0; n < t.num_nodes() && ok; ++n)
    if (t.online_cpus_on_node(n) > 0 && sha * bat > 0)
      ok = (fresh_shared[n] = alloc_array(n, sha * bat, kSharedSentinelBatch)) != nullptr;
  if (!ok) {
    for (void** a : fresh) free_entries(a);
    for (ArrayCache* a : fresh_shared) free_array(a);
    return -ENOMEM;
  }

  // 2. Swap every CPU's array under a SlotStop; keep the old ones. The new
  //    array starts with no capacity: it grows within the budget on demand.
  std::uint32_t old_avail[kMaxCpus] = {};
  for (int cpu = 0; cpu < t.possible_cpus(); ++cpu) {
    if (!fresh[cpu]) continue;
    CpuSlot& s = c->slot(cpu);
    SlotStop stop(s, cpu);
    void** old = array_detach(c, s, cpu, &old_avail[cpu]);
    slot_moved(s, -static_cast<std::int64_t>(old_avail[cpu]));
    slot_attach(s, fresh[cpu], 0);
    fresh[cpu] = old;  // now holds the old array (or nullptr)
  }
  c->limit.store(lim, std::memory_order_relaxed);
  c->batchcount.store(bat, std::memory_order_relaxed);
  c->shared.store(sha, std::memory_order_relaxed);

  // 3. Return the old arrays' objects under the node's lock, free the arrays
  //    after unlocking (R3).
  for (int cpu = 0; cpu < t.possible_cpus(); ++cpu) {
    void** old = fresh[cpu];
    if (!old) continue;
    SlabQueue dead;
    if (old_avail[cpu]) {
      NodeLists* nl = c->node(t.cpu_to_node(cpu));
      LockGuard<SpinLock> g(nl->list_lock);
      nl->free_block(c->geo, old, old_avail[cpu], &dead);
    }
    free_entries(old);
    destroy_slabs(c, &dead);
  }

  // 4. Shared arrays: swap under the list_lock, drain the old one there,
  //    free it after; free_limit follows the new batchcount.
  for (int n = 0; n < t.num_nodes(); ++n) {
    NodeLists* nl = c->node(n);
    if (!nl) {
      free_array(fresh_shared[n]);
      continue;
    }
    SlabQueue dead;
    ArrayCache* old = nullptr;
    if (t.online_cpus_on_node(n) > 0) {
      LockGuard<SpinLock> g(nl->list_lock);
      old = nl->shared.exchange(fresh_shared[n], std::memory_order_acq_rel);
      if (old && old->avail) {
        nl->free_block(c->geo, old->entries(), old->avail, &dead);
        old->avail = 0;
      }
    } else {
      free_array(fresh_shared[n]);
    }
    free_array(old);
    destroy_slabs(c, &dead);
    update_free_limit(c, n);
  }
  return 0;
}

int tune_by_name(const char* name, long limit, long batch, long shared) {
  if (!name) return -EINVAL;
  LockGuard<Mutex> g(registry().mutex);
  Cache* c = cache_find(name);
  if (!c) return -ENOENT;
  return cache_tune(c, limit, batch, shared);
}

int tune_line(const char* line) {
  if (!line) return -EINVAL;
  std::size_t len = strnlen(line, kMaxTuneLine + 1);
  if (len > kMaxTuneLine) return -EINVAL;
  char buf[kMaxTuneLine + 1];
  std::memcpy(buf, line, len);
  buf[len] = '\0';
  while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) buf[--len] = '\0';
  char* p = buf;
  while (*p == ' ') ++p;
  char* name = p;
  while (*p && *p != ' ') ++p;
  if (!*p || p == name) return -EINVAL;
  *p++ = '\0';
  long v[3];
  for (long& x : v) {
    while (*p == ' ') ++p;
    char* end;
    errno = 0;
    x = std::strtol(p, &end, 10);
    if (end == p || errno) return -EINVAL;
    p = end;
  }
  while (*p == ' ') ++p;
  if (*p) return -EINVAL;
  return tune_by_name(name, v[0], v[1], v[2]);
}

}  // namespace numaslab::detail
