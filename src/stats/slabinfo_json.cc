// slabinfo as JSON: the same numbers as the text form, plus per-node and
// per-CPU detail.
#include <unistd.h>

#include "base/format.h"
#include "cache/alien_cache.h"
#include "cache/registry.h"
#include "page/page_allocator.h"
#include "reap/reaper.h"
#include "stats/slabinfo.h"

namespace numaslab::detail {

namespace {

using U = unsigned long long;

void json_node(BufWriter& w, Cache* c, int n) {
  NodeLists* nl = c->node(n);
  LockGuard<SpinLock> g(nl->list_lock);
  ArrayCache* sh = nl->shared.load(std::memory_order_relaxed);
  AlienArray** al = nl->alien.load(std::memory_order_relaxed);
  std::uint64_t partial_inuse = 0;
  for (Slab* s = nl->partial.head; s; s = s->next) partial_inuse += s->inuse;
  w.printf(
      "{\"node\":%d,\"partial_slabs\":%llu,\"full_slabs\":%llu,\"free_slabs\":%llu,"
      "\"active_objs\":%llu,\"free_objects\":%llu,\"free_limit\":%llu,"
      "\"shared\":%s,\"shared_avail\":%u,\"shared_limit\":%u,\"alien\":%s,"
      "\"grown\":%llu,\"reaped\":%llu,\"list_allocs\":%llu,\"high_mark\":%llu,"
      "\"node_allocs\":%llu,\"node_fallbacks\":%llu,\"max_freeable\":%llu,"
      "\"bytes\":%llu}",
      n, U(nl->partial.count), U(nl->full.count), U(nl->free.count),
      U(nl->full.count) * c->geo.num + U(partial_inuse), U(nl->free_objects), U(nl->free_limit),
      sh ? "true" : "false", sh ? sh->avail : 0u, sh ? sh->limit : 0u, al ? "true" : "false",
      U(nl->stats.grown), U(nl->stats.reaped), U(nl->stats.list_allocs), U(nl->stats.high_mark),
      U(nl->stats.node_allocs), U(nl->stats.node_fallbacks), U(nl->stats.max_freeable),
      U(nl->partial.count + nl->full.count + nl->free.count) * (kPageSize << c->geo.order));
}

void json_cpu(BufWriter& w, Cache* c, int cpu) {
  CpuSlot& s = c->slot(cpu);
  LockGuard<SpinLock> g(s.lock);
  const bool has = s.base != nullptr;
  w.printf(
      "{\"cpu\":%d,\"array\":%s,\"avail\":%u,\"capacity\":%u,\"entries\":%u,\"limit\":%u,"
      "\"batchcount\":%u,\"touched\":%u,"
      "\"alloc_hit\":%llu,\"alloc_miss\":%llu,\"free_hit\":%llu,\"free_miss\":%llu,"
      "\"remote_frees\":%llu,\"alien_overflows\":%llu}",
      cpu, has ? "true" : "false", s.avail(), s.capacity(), s.size(),
      has ? c->limit.load(std::memory_order_relaxed) : 0u, s.batchcount(),
      has && !s.idle_hint() ? 1u : 0u, U(s.slot_read_hits()), U(slot_read(&s.stats.alloc_miss)),
      U(s.free_hits()), U(slot_read(&s.stats.free_miss)), U(slot_read(&s.stats.remote_frees)),
      U(slot_read(&s.stats.alien_overflows)));
}

}  // namespace

std::size_t slabinfo_json(char* buf, std::size_t len, const ServicesStatus& st) {
  BufWriter w(buf, len);
  Topology& t = topology();
  ReaperStats rs = reaper_stats();
  w.printf(
      "{\"version\":1,\"pid\":%d,\"topology\":\"%s\",\"mode\":\"%s\",\"slots\":\"%s\","
      "\"nodes\":%d,\"possible_cpus\":%d,\"online\":[",
      static_cast<int>(::getpid()), t.spec_text(), t.mode_name(), slots_policy_name(),
      t.num_nodes(), t.possible_cpus());
  bool first = true;
  for (int c = 0; c < t.possible_cpus(); ++c) {
    if (!t.cpu_online(c)) continue;
    w.printf("%s%d", first ? "" : ",", c);
    first = false;
  }
  w.put("],\"node_bytes\":[");
  for (int n = 0; n < t.num_nodes(); ++n) {
    PageAllocatorStats ps = page_allocator_stats(n);
    w.printf("%s{\"node\":%d,\"in_use\":%llu,\"free\":%llu,\"segments\":%llu,\"huge\":%llu}",
             n ? "," : "", n, U(ps.pages_in_use) * kPageSize, U(ps.pages_free) * kPageSize,
             U(ps.segments), U(ps.huge_bytes));
  }
  w.printf("],\"check\":\"%s\",\"cpu_cache_budget\":%llu,\"cpu_cache_bytes\":[",
           check_full() ? "full" : "fast", U(cpu_cache_budget()));
  for (int c = 0; c < t.possible_cpus(); ++c)
    w.printf("%s%llu", c ? "," : "", U(cpu_cache_bytes(c)));
  w.printf(
      "],\"services\":{\"reaper\":\"%s\",\"reaper_error\":\"%s\",\"watcher\":\"%s\","
      "\"watcher_error\":\"%s\",\"pending\":%s,\"start_failures\":%llu,\"retries\":%llu}",
      st.reaper_running ? "on"
      : st.reaper_error ? "not started"
                        : "off",
      st.reaper_error ? strerrorname_np(st.reaper_error) : "",
      st.watcher_running ? "on"
      : st.watcher_error ? "not started"
                         : "off",
      st.watcher_error ? strerrorname_np(st.watcher_error) : "", st.pending ? "true" : "false",
      U(st.start_failures), U(st.retries));
  w.printf(
      ",\"reaper\":{\"visits\":%llu,\"skipped\":%llu,\"objects_drained\":%llu,"
      "\"alien_drains\":%llu,\"slabs_destroyed\":%llu,\"bytes_released\":%llu},"
      "\"caches\":[",
      U(rs.visits), U(rs.skipped), U(rs.objects_drained), U(rs.alien_drains), U(rs.slabs_destroyed),
      U(rs.bytes_released));
  LockGuard<Mutex> g(registry().mutex);
  for (Cache* c = registry().head; c; c = c->next) {
    CacheTotals s = cache_totals(c);
    w.printf(
        "%s{\"name\":\"%s\",\"active_objs\":%llu,\"num_objs\":%llu,\"objsize\":%u,"
        "\"objperslab\":%u,\"pagesperslab\":%u,\"limit\":%u,\"batchcount\":%u,\"shared\":%u,"
        "\"active_slabs\":%llu,\"num_slabs\":%llu,\"shared_avail\":%llu,"
        "\"listallocs\":%llu,\"maxobjs\":%llu,\"grown\":%llu,\"reaped\":%llu,\"error\":%llu,"
        "\"maxfreeable\":%llu,\"nodeallocs\":%llu,\"remotefrees\":%llu,"
        "\"alienoverflow\":%llu,\"allochit\":%llu,\"allocmiss\":%llu,\"freehit\":%llu,"
        "\"freemiss\":%llu,\"node_fallbacks\":%llu,\"per_node\":[",
        c == registry().head ? "" : ",", c->name, U(s.active_objs), U(s.num_objs),
        c->geo.buffer_size, c->geo.num, 1u << c->geo.order,
        c->limit.load(std::memory_order_relaxed), c->batchcount.load(std::memory_order_relaxed),
        c->shared.load(std::memory_order_relaxed), U(s.active_slabs), U(s.num_slabs),
        U(s.shared_avail), U(s.list_allocs), U(s.high_mark), U(s.grown), U(s.reaped), U(0),
        U(s.max_freeable), U(s.node_allocs), U(s.remote_frees), U(s.alien_overflows),
        U(s.alloc_hit), U(s.alloc_miss), U(s.free_hit), U(s.free_miss), U(s.node_fallbacks));
    bool firstn = true;
    for (int n = 0; n < t.num_nodes(); ++n) {
      if (!c->node(n)) continue;
      if (!firstn) w.put(',');
      firstn = false;
      json_node(w, c, n);
    }
    w.put("],\"per_cpu\":[");
    for (int cpu = 0; cpu < t.possible_cpus(); ++cpu) {
      if (cpu) w.put(',');
      json_cpu(w, c, cpu);
    }
    w.put("]}");
  }
  w.put("]}\n");
  return w.wanted();
}

}  // namespace numaslab::detail
