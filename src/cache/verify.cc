#include "cache/verify.h"

#include "base/format.h"
#include "cache/alien_cache.h"
#include "cache/cache.h"
#include "cache/registry.h"
#include "page/page_map.h"

namespace numaslab::detail {

namespace {

constexpr int kMaxReportedErrors = 20;

struct Checker {
  BufWriter& out;
  int errors = 0;
  const Cache* cache = nullptr;

  void fail(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    ++errors;
    if (errors > kMaxReportedErrors) return;
    out.printf("cache '%s': ", cache->name);
    va_list ap;
    va_start(ap, fmt);
    out.vprintf(fmt, ap);
    va_end(ap);
    out.put('\n');
  }
};

struct Totals {
  std::uint64_t slabs = 0;
  std::uint64_t free_in_slabs = 0;
  std::uint64_t cached_state = 0;
  std::uint64_t user_state = 0;
  std::uint64_t in_arrays = 0;
};

void check_slab(Checker& ck, Cache* c, NodeLists* nl, Slab* s, SlabList expect, Totals& t)
    NS_REQUIRES(nl->list_lock) {
  const SlabGeometry& g = c->geo;
  if (s->list_id != expect)
    ck.fail("slab %p on list %d but marked %d", s, int(expect), int(s->list_id));
  if (s->nodeid != nl->node)
    ck.fail("slab %p of node %d on node %d's lists", s, s->nodeid, nl->node);
  SlabList want = s->inuse == 0       ? SlabList::kFree
                  : s->inuse == g.num ? SlabList::kFull
                                      : SlabList::kPartial;
  if (want != expect) ck.fail("slab %p with inuse %u/%u on the wrong list", s, s->inuse, g.num);
  for (std::uint32_t p = 0; p < (1u << g.order); ++p) {
    PageDesc* d = page_lookup(static_cast<char*>(s->page_start()) + p * kPageSize);
    if (!d || d->kind != PageKind::kSlab || d->owner != c || d->slab != s) {
      ck.fail("page %u of slab %p does not map back to it", p, s);
      break;
    }
  }
  std::uint32_t free_len = 0;
  for (std::uint32_t i = s->free; i != kBufctlEnd; i = s->load_bufctl(i)) {
    if (i >= g.num || ++free_len > g.num) {
      ck.fail("slab %p: free list corrupt (index %u)", s, i);
      return;
    }
  }
  if (free_len + s->inuse != g.num)
    ck.fail("slab %p: %u free + %u inuse != %u objects", s, free_len, s->inuse, g.num);
  std::uint32_t cached = 0, user = 0;
  for (std::uint32_t i = 0; i < g.num; ++i) {
    std::uint32_t v = s->load_bufctl(i);
    if (v == kBufctlCached)
      ++cached;
    else if (v == kBufctlUser)
      ++user;
  }
  if (cached + user != s->inuse)
    ck.fail("slab %p: inuse %u but %u cached + %u user objects", s, s->inuse, cached, user);
  ++t.slabs;
  t.free_in_slabs += free_len;
  t.cached_state += cached;
  t.user_state += user;
}

void check_entries(Checker& ck, Cache* c, const char* what, int where, void* const* e,
                   std::uint32_t avail, std::uint32_t limit, int want_node, Totals& t) {
  if (avail > limit) {
    ck.fail("%s %d: avail %u > limit %u", what, where, avail, limit);
    return;
  }
  t.in_arrays += avail;
  for (std::uint32_t i = 0; i < avail; ++i) {
    PageDesc* d = page_lookup(e[i]);
    if (!d || d->kind != PageKind::kSlab || d->owner != c) {
      ck.fail("%s %d holds %p, not an object of this cache", what, where, e[i]);
      continue;
    }
    const auto [s, idx] = resolve_object(d, c->geo, e[i]);
    if (idx < 0 || s->load_bufctl(static_cast<std::uint32_t>(idx)) != kBufctlCached)
      ck.fail("%s %d holds %p, which is not in the cached state", what, where, e[i]);
    if (want_node >= 0 && s->nodeid != want_node)
      ck.fail("%s %d holds %p of node %d, expected node %d", what, where, e[i], s->nodeid,
              want_node);
    for (std::uint32_t j = i + 1; j < avail; ++j)
      if (e[j] == e[i]) ck.fail("%s %d holds %p twice", what, where, e[i]);
  }
}

void check_cache(Checker& ck, Cache* c) {
  ck.cache = c;
  Topology& topo = topology();
  Totals t;
  for (int n = 0; n < topo.num_nodes(); ++n) {
    NodeLists* nl = c->node(n);
    if (!nl) continue;
    LockGuard<SpinLock> g(nl->list_lock);
    const std::uint64_t before = t.free_in_slabs;
    std::uint64_t active = 0;
    for (Slab* s = nl->partial.head; s; s = s->next) {
      check_slab(ck, c, nl, s, SlabList::kPartial, t);
      active += s->inuse;
    }
    for (Slab* s = nl->full.head; s; s = s->next) {
      check_slab(ck, c, nl, s, SlabList::kFull, t);
      active += s->inuse;
    }
    for (Slab* s = nl->free.head; s; s = s->next) check_slab(ck, c, nl, s, SlabList::kFree, t);
    // Debug caches: red zones of objects in use, poison of free ones.
    const int room = ck.errors < kMaxReportedErrors ? kMaxReportedErrors - ck.errors : 0;
    ck.errors += verify_debug_objects(c, nl, ck.out, room);
    if (t.free_in_slabs - before != nl->free_objects)
      ck.fail("node %d: free_objects %llu but %llu free objects in slabs", n,
              (unsigned long long)nl->free_objects, (unsigned long long)(t.free_in_slabs - before));
    if (nl->surplus > nl->free.count)
      ck.fail("node %d: %u surplus slabs but %zu free slabs", n, nl->surplus, nl->free.count);
    if (active != nl->stats.active)
      ck.fail("node %d: active counter %llu but %llu objects out of slabs", n,
              (unsigned long long)nl->stats.active, (unsigned long long)active);
    if (ArrayCache* sh = nl->shared.load(std::memory_order_relaxed))
      check_entries(ck, c, "shared array of node", n, sh->entries(), sh->avail, sh->limit, n, t);
  }
  for (int n = 0; n < topo.num_nodes(); ++n) {
    NodeLists* nl = c->node(n);
    AlienArray** al = nl ? nl->alien.load(std::memory_order_acquire) : nullptr;
    if (!al) continue;
    for (int m = 0; m < topo.num_nodes(); ++m) {
      AlienArray* a = al[m];
      if (!a) continue;
      LockGuard<SpinLock> g(a->lock);
      if (a->home_node != m) ck.fail("alien array [%d][%d] says home %d", n, m, a->home_node);
      check_entries(ck, c, "alien array for node", m, a->ac.entries(), a->ac.avail, a->ac.limit, m,
                    t);
    }
  }
  const bool full = booted();
  for (std::uint32_t cpu = 0; cpu < c->num_slots; ++cpu) {
    CpuSlot& s = c->slot(static_cast<int>(cpu));
    const bool in_topology = static_cast<int>(cpu) < topo.possible_cpus();
    const bool online = in_topology && topo.cpu_online(static_cast<int>(cpu));
    // A stable view: no critical section may change the array while we read.
    SlotStop stop(s, static_cast<int>(cpu));
    const bool has = s.base != nullptr;
    if (full && has != online && c->limit.load(std::memory_order_relaxed) > 0)
      ck.fail("CPU %u is %s but %s an array", cpu, online ? "online" : "offline",
              has ? "has" : "has no");
    if (!has) {
      if (s.top || s.cap)
        ck.fail("CPU %u has no array but bounds %p..%p", cpu, (void*)s.top, (void*)s.cap);
      continue;
    }
    if (s.top < s.base || s.top > s.cap || s.capacity() > s.size()) {
      ck.fail("array of CPU %u: bounds out of order (avail %td, capacity %td, size %u)", cpu,
              s.top - s.base, s.cap - s.base, s.size());
      continue;
    }
    check_entries(ck, c, "array of CPU", static_cast<int>(cpu), s.base, s.avail(), s.capacity(),
                  topo.cpu_to_node(static_cast<int>(cpu)), t);
  }
  if (check_full()) {
    if (t.cached_state != t.in_arrays)
      ck.fail("%llu objects are marked cached but arrays hold %llu",
              (unsigned long long)t.cached_state, (unsigned long long)t.in_arrays);
  } else {
    // NUMASLAB_CHECK=fast: objects with the user keep the cached state.
    if (t.user_state != 0)
      ck.fail("%llu objects are in the user state at NUMASLAB_CHECK=fast",
              (unsigned long long)t.user_state);
    if (t.cached_state < t.in_arrays)
      ck.fail("%llu objects are marked out of their slabs but arrays hold %llu",
              (unsigned long long)t.cached_state, (unsigned long long)t.in_arrays);
    t.user_state = t.cached_state - t.in_arrays;
  }
  const std::uint64_t total = t.slabs * c->geo.num;
  if (t.user_state + t.in_arrays + t.free_in_slabs != total) {
    ck.fail("conservation: user %llu + arrays %llu + free %llu != %llu objects in slabs",
            (unsigned long long)t.user_state, (unsigned long long)t.in_arrays,
            (unsigned long long)t.free_in_slabs, (unsigned long long)total);
  }
}

}  // namespace

int verify_all(char* buf, std::size_t len) {
  BufWriter out(buf, len);
  Checker ck{out};
  int caches = 0;
  LockGuard<Mutex> g(registry().mutex);
  for (Cache* c = registry().head; c; c = c->next) {
    check_cache(ck, c);
    ++caches;
  }
  if (ck.errors == 0) {
    out.printf("verify: OK (%d caches)\n", caches);
  } else {
    if (ck.errors > kMaxReportedErrors) out.printf("... %d more\n", ck.errors - kMaxReportedErrors);
    out.printf("verify: FAILED: %d errors in %d caches\n", ck.errors, caches);
  }
  return ck.errors;
}

}  // namespace numaslab::detail
