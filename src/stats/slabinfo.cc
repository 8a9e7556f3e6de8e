#include "stats/slabinfo.h"

#include "base/format.h"
#include "cache/registry.h"

namespace numaslab::detail {

CacheTotals cache_totals(Cache* c) {
  CacheTotals t;
  Topology& topo = topology();
  for (int n = 0; n < topo.num_nodes(); ++n) {
    NodeLists* nl = c->node(n);
    if (!nl) continue;
    LockGuard<SpinLock> g(nl->list_lock);
    std::uint64_t partial_inuse = 0;
    for (Slab* s = nl->partial.head; s; s = s->next) partial_inuse += s->inuse;
    t.active_objs += nl->full.count * c->geo.num + partial_inuse;
    t.active_slabs += nl->full.count + nl->partial.count;
    t.num_slabs += nl->full.count + nl->partial.count + nl->free.count;
    t.free_objects += nl->free_objects;
    if (ArrayCache* sh = nl->shared.load(std::memory_order_relaxed)) t.shared_avail += sh->avail;
    t.list_allocs += nl->stats.list_allocs;
    t.high_mark += nl->stats.high_mark;
    t.grown += nl->stats.grown;
    t.reaped += nl->stats.reaped;
    if (nl->stats.max_freeable > t.max_freeable) t.max_freeable = nl->stats.max_freeable;
    t.node_allocs += nl->stats.node_allocs;
    t.node_fallbacks += nl->stats.node_fallbacks;
  }
  t.num_objs = t.num_slabs * c->geo.num;
  for (std::uint32_t cpu = 0; cpu < c->num_slots; ++cpu) {
    CpuSlot& s = c->slot(static_cast<int>(cpu));
    LockGuard<SpinLock> g(s.lock);
    t.alloc_hit += s.slot_read_hits();
    t.alloc_miss += slot_read(&s.stats.alloc_miss);
    t.free_hit += s.free_hits();
    t.free_miss += slot_read(&s.stats.free_miss);
    t.remote_frees += slot_read(&s.stats.remote_frees);
    t.alien_overflows += slot_read(&s.stats.alien_overflows);
  }
  return t;
}

std::size_t slabinfo_text(char* buf, std::size_t len) {
  BufWriter w(buf, len);
  w.put("slabinfo - version: 2.1 (statistics)\n");
  w.put(
      "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
      " : tunables <limit> <batchcount> <sharedfactor>"
      " : slabdata <active_slabs> <num_slabs> <sharedavail>"
      " : globalstat <listallocs> <maxobjs> <grown> <reaped> <error> <maxfreeable>"
      " <nodeallocs> <remotefrees> <alienoverflow>"
      " : cpustat <allochit> <allocmiss> <freehit> <freemiss>\n");
  LockGuard<Mutex> g(registry().mutex);
  for (Cache* c = registry().head; c; c = c->next) {
    CacheTotals t = cache_totals(c);
    using U = unsigned long;
    w.printf("%-17s %6lu %6lu %6u %4u %4d", c->name, U(t.active_objs), U(t.num_objs),
             c->geo.buffer_size, c->geo.num, 1 << c->geo.order);
    w.printf(" : tunables %4u %4u %4u", c->limit.load(std::memory_order_relaxed),
             c->batchcount.load(std::memory_order_relaxed),
             c->shared.load(std::memory_order_relaxed));
    w.printf(" : slabdata %6lu %6lu %6lu", U(t.active_slabs), U(t.num_slabs), U(t.shared_avail));
    // The kernel's format string carries four TABs from a line continuation.
    // The error column is always 0: what the kernel counted there (a slab in
    // an impossible state) is fatal here.
    w.printf(" : globalstat %7lu %6lu %5lu %4lu \t\t\t\t%4lu %4lu %4lu %4lu %4lu", U(t.list_allocs),
             U(t.high_mark), U(t.grown), U(t.reaped), U(0), U(t.max_freeable), U(t.node_allocs),
             U(t.remote_frees), U(t.alien_overflows));
    w.printf(" : cpustat %6lu %6lu %6lu %6lu\n", U(t.alloc_hit), U(t.alloc_miss), U(t.free_hit),
             U(t.free_miss));
  }
  return w.wanted();
}

}  // namespace numaslab::detail
