// Free paths behind the fast path: validation by check level,
// cache_flusharray (one, for both slots policies), node returns. Alien
// routing is alien_cache.cc's.
#include "base/check.h"
#include "base/sanitizer.h"
#include "cache/alien_cache.h"
#include "cache/cache.h"
#include "cache/misuse.h"
#include "page/page_map.h"

struct numaslab_cache;
extern "C" void numaslab_cache_free(numaslab_cache* c, void* obj);

namespace numaslab::detail {

void cache_free(Cache* c, void* obj) {
  numaslab_cache_free(reinterpret_cast<numaslab_cache*>(c), obj);
}

void return_to_node(Cache* c, int node, void* const* objs, std::uint32_t n, bool use_shared,
                    SlabQueue* dead) {
  NodeLists* nl = c->node(node);
  NS_CHECK(nl, "cache '%s': object of node %d but the node has no lists", c->name, node);
  LockGuard<SpinLock> g(nl->list_lock);
  std::uint32_t k = use_shared ? nl->push_shared(objs, n) : 0;
  if (k < n) nl->free_block(c->geo, objs + k, n - k, dead);
  if (nl->free.count > nl->stats.max_freeable) nl->stats.max_freeable = nl->free.count;
}

void free_to_home(Cache* c, void* const* objs, std::uint32_t n) {
  SlabQueue dead;
  for (std::uint32_t i = 0; i < n; ++i) {
    const int home = slab_of_object(objs[i], "free_to_home")->nodeid;
    return_to_node(c, home, &objs[i], 1, false, &dead);
  }
  destroy_slabs(c, &dead);
}

namespace {

constexpr std::uint32_t kBatchMax = 64;  // bounds the batch on our stack
constexpr int kMaxAttempts = 4;

bool sim_cpu_gone(int cpu) {
  return topology().mode() == TopologyMode::kSim && !topology().cpu_online(cpu);
}

// The kernel's cache_flusharray (and the alien branch of __cache_free): the
// current CPU's array cannot take obj. Grow its capacity within the budget,
// or send its hottest batch to the node (shared array first), then push.
template <class Slots>
void cache_flusharray(Cache* c, void* obj, int home) {
  bool missed = false;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const int cpu = Slots::cpu();
    const int node = topology().cpu_to_node(cpu);
    CpuSlot& s = c->slot(cpu);
    if (home != node) {
      SlabQueue dead;
      bool done = false;
      {
        LockGuard<SpinLock> g(s.lock);
        if (s.base) {
          free_alien(c, s, node, home, obj, &dead);
          done = true;
        }
      }
      destroy_slabs(c, &dead);
      if (done) return;
      if (sim_cpu_gone(cpu)) continue;
      break;  // CPU down for us: straight home
    }
    if (!s.has_array()) {
      if (sim_cpu_gone(cpu)) continue;
      break;
    }
    if (__atomic_load_n(&s.stopped, __ATOMIC_ACQUIRE) & kStopRemote) break;
    // Room within the budget is not a miss: the array just had not needed it.
    if (s.capacity() < c->limit.load(std::memory_order_relaxed) && capacity_grow(c, cpu)) {
      if (Slots::push(c->table(), obj, static_cast<std::uint32_t>(home))) return;
      continue;
    }
    if (!missed) slot_count(&s.stats.free_miss);
    missed = true;
    void* buf[kBatchMax];
    RseqBatchResult r{0, 0};
    std::uint32_t batch = c->batchcount.load(std::memory_order_relaxed);
    if (batch > kBatchMax) batch = kBatchMax;
    if (batch == 0) batch = 1;
    if (!Slots::pop_batch(c->table(), buf, batch, &r)) continue;
    if (r.got) {
      slot_moved(s, -static_cast<std::int64_t>(r.got));
      SlabQueue dead;
      ensure_shared_array(c, static_cast<int>(r.node));
      return_to_node(c, static_cast<int>(r.node), buf, r.got, true, &dead);
      destroy_slabs(c, &dead);
    }
    if (Slots::push(c->table(), obj, static_cast<std::uint32_t>(home))) {
      // A miss, not a hit: count the push with the moves (free hits are
      // derived from them, cpu/cpu_slots.h).
      slot_moved(s, 1);
      return;
    }
  }
  free_to_home(c, &obj, 1);
}

template <class Slots>
void free_path(Cache* c, void* obj, int home) {
  if (Slots::push(c->table(), obj, static_cast<std::uint32_t>(home))) return;
  cache_flusharray<Slots>(c, obj, home);
}

}  // namespace

void free_with_desc(Cache* c, PageDesc* d, void* obj, const char* api) {
  const auto [s, idx] = resolve_object(d, c->geo, obj);
  NS_CHECK(idx >= 0, "%s: %p is an interior pointer, not the start of an object (cache '%s')", api,
           obj, c->name);
  if (NS_UNLIKELY(c->watched)) free_watched(c, obj, api);
  if (check_full()) {
    auto i = static_cast<std::uint32_t>(idx);
    NS_CHECK(s->load_bufctl(i) == kBufctlUser, "%s: double free of %p (cache '%s')", api, obj,
             c->name);
    s->store_bufctl(i, kBufctlCached);
  }
  if (slots_policy() == SlotsPolicy::kRseq) return free_path<RseqSlots>(c, obj, d->node);
  return free_path<LockedSlots>(c, obj, d->node);
}

void cache_free_slow(Cache* c, void* obj, const char* api) {
  if (!obj) return;
  NS_CHECK(c, "%s: NULL cache (freeing %p)", api, obj);
  PageDesc* d = page_lookup(obj);
  if (NS_UNLIKELY(!d || d->kind != PageKind::kSlab || d->owner != c))
    report_bad_cache_free(c, d, obj, api);
  free_with_desc(c, d, obj, api);
}

}  // namespace numaslab::detail
