#include "stats/totals.h"

#include "cache/registry.h"
#include "numaslab/numaslab.h"
#include "page/page_allocator.h"
#include "reap/reaper.h"
#include "stats/slabinfo.h"

namespace numaslab::detail {

namespace {

void fill(Cache* c, const CacheTotals& t, struct numaslab_cache_stats* out) {
  *out = {};
  out->object_size = c->object_size;
  out->buffer_size = c->geo.buffer_size;
  out->objects_per_slab = c->geo.num;
  out->pages_per_slab = 1u << c->geo.order;
  out->limit = c->limit.load(std::memory_order_relaxed);
  out->batchcount = c->batchcount.load(std::memory_order_relaxed);
  out->shared = c->shared.load(std::memory_order_relaxed);
  out->active_objs = t.active_objs;
  out->num_objs = t.num_objs;
  out->active_slabs = t.active_slabs;
  out->num_slabs = t.num_slabs;
  out->slab_bytes = t.num_slabs * (kPageSize << c->geo.order);
  out->shared_avail = t.shared_avail;
  out->list_allocs = t.list_allocs;
  out->max_objs = t.high_mark;
  out->grown = t.grown;
  out->reaped = t.reaped;
  out->errors = 0;  // numaslab_cache_stats: always 0
  out->max_freeable = t.max_freeable;
  out->node_allocs = t.node_allocs;
  out->node_fallbacks = t.node_fallbacks;
  out->remote_frees = t.remote_frees;
  out->alien_overflows = t.alien_overflows;
  out->alloc_hit = t.alloc_hit;
  out->alloc_miss = t.alloc_miss;
  out->free_hit = t.free_hit;
  out->free_miss = t.free_miss;
}

}  // namespace

void cache_stats(Cache* c, struct numaslab_cache_stats* out) {
  LockGuard<Mutex> g(registry().mutex);
  fill(c, cache_totals(c), out);
}

void process_stats(struct numaslab_stats* out) {
  *out = {};
  Topology& topo = topology();
  out->nodes = topo.num_nodes();
  out->possible_cpus = topo.possible_cpus();
  out->online_cpus = topo.online_cpus();
  for (int n = 0; n < topo.num_nodes(); ++n) {
    PageAllocatorStats ps = page_allocator_stats(n);
    out->bytes_in_use += ps.pages_in_use * kPageSize + ps.huge_bytes;
    out->bytes_free += ps.pages_free * kPageSize;
    out->segments += ps.segments;
  }
  ReaperStats rs = reaper_stats();
  out->reaper_visits = rs.visits;
  out->reaper_slabs_destroyed = rs.slabs_destroyed;
  out->reaper_bytes_released = rs.bytes_released;
  LockGuard<Mutex> g(registry().mutex);
  for (Cache* c = registry().head; c; c = c->next) {
    struct numaslab_cache_stats s;
    fill(c, cache_totals(c), &s);
    out->caches += 1;
    out->active_objs += s.active_objs;
    out->num_objs += s.num_objs;
    out->active_slabs += s.active_slabs;
    out->num_slabs += s.num_slabs;
    out->slab_bytes += s.slab_bytes;
    out->alloc_hit += s.alloc_hit;
    out->alloc_miss += s.alloc_miss;
    out->free_hit += s.free_hit;
    out->free_miss += s.free_miss;
    out->remote_frees += s.remote_frees;
  }
}

}  // namespace numaslab::detail
