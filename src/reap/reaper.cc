#include "reap/reaper.h"

#include <pthread.h>

#include <atomic>

#include "base/clock.h"
#include "base/fork_gate.h"
#include "cache/alien_cache.h"
#include "cache/cpu_up_down.h"
#include "cache/registry.h"
#include "page/page_allocator.h"
#include "platform/options.h"
#include "platform/platform.h"

namespace numaslab::detail {

namespace {

std::atomic<bool> g_running{false};
std::atomic<bool> g_stop{false};
pthread_t g_thread;
// One reaper at a time: the thread and reap_now() callers take turns.
Mutex g_reap_mutex{LockRank::kReaper, LockName{"reaper_mutex", nullptr, -1}};
std::uint8_t g_alien_rotor[kMaxCpus];  // guarded by: g_reap_mutex

struct AtomicStats {
  std::atomic<std::uint64_t> visits{0}, skipped{0}, objects_drained{0}, alien_drains{0},
      slabs_destroyed{0}, bytes_released{0};
} g_stats;

void add(std::atomic<std::uint64_t>& c, std::uint64_t n) {
  c.fetch_add(n, std::memory_order_relaxed);
}

// How much of an untouched array to drain: about a fifth of its limit, at
// most half of what it holds; everything when forced or idle for long.
std::uint32_t drain_amount(std::uint32_t avail, std::uint32_t limit, bool all) {
  if (all) return avail;
  std::uint32_t n = (limit + 4) / 5;
  if (n > avail) n = (avail + 1) / 2;
  return n;
}

void drain_cpu_array(Cache* c, int cpu, bool force) {
  CpuSlot& s = c->slot(cpu);
  if (!s.has_array()) return;
  bool all;
  {
    // Decide from the counters first: under RseqSlots a fence interrupts the
    // CPU, so only an idle array with objects (or capacity) to give back
    // earns one. The owner may allocate concurrently; either order is fine.
    LockGuard<SpinLock> g(s.lock);
    if (!s.base) return;
    const auto now = static_cast<std::uint32_t>(s.allocs());
    if (now != __atomic_load_n(&s.seen_allocs, __ATOMIC_RELAXED) && !force) {
      __atomic_store_n(&s.seen_allocs, now, __ATOMIC_RELAXED);
      s.header()->idle_visits = 0;
      return;
    }
    std::uint32_t& idle = s.header()->idle_visits;
    if (idle < kIdleDrainVisits) ++idle;
    all = force || idle >= kIdleDrainVisits;
    // Nothing cached: only a long-idle array's capacity is worth a fence.
    if (__atomic_load_n(&s.top, __ATOMIC_RELAXED) == s.base && !(all && s.capacity() > 0)) return;
  }
  SlabQueue dead;
  std::uint32_t drained = 0;
  {
    SlotStop stop(s, cpu);
    if (!s.base) return;
    const std::uint32_t avail = s.avail();
    drained = drain_amount(avail, c->limit.load(std::memory_order_relaxed), all);
    // The oldest objects go: the hot top stays for the next allocations.
    slot_drop_oldest(c, s, avail, drained, &dead);
    // A long-idle array gives its capacity back to the CPU's budget.
    if (all) capacity_set(c, s, cpu, s.avail());
  }
  add(g_stats.objects_drained, drained);
  destroy_slabs(c, &dead);
  // Long idle and empty: a grown entries block goes back for a small one.
  if (all) entries_shrink(c, cpu);
}

void drain_one_alien(Cache* c, int cpu, int node) NS_REQUIRES(g_reap_mutex) {
  NodeLists* nl = c->node(node);
  AlienArray** al = nl ? nl->alien.load(std::memory_order_acquire) : nullptr;
  if (!al) return;
  const int nodes = topology().num_nodes();
  int home = g_alien_rotor[cpu] % nodes;
  if (home == node) home = (home + 1) % nodes;
  AlienArray* a = al[home];
  if (!a || !a->lock.try_lock()) return;  // busy: next time
  const bool had_objects = a->ac.avail != 0;
  SlabQueue dead;
  drain_alien(c, a, &dead);
  a->lock.unlock();
  if (!had_objects) return;
  add(g_stats.alien_drains, 1);
  destroy_slabs(c, &dead);
}

void reap_node_cache(Cache* c, int node, std::uint64_t now, std::uint64_t period, bool force) {
  NodeLists* nl = c->node(node);
  if (!nl) return;
  if (!force && now < nl->next_reap) return;
  nl->next_reap = now + period;
  SlabQueue dead;
  std::uint32_t drained = 0;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    ArrayCache* sh = nl->shared.load(std::memory_order_relaxed);
    if (sh && sh->avail) {
      if ((sh->touched & kTouchedReaper) && !force) {
        sh->touched &= ~kTouchedReaper;
      } else {
        drained = drain_amount(sh->avail, sh->limit, force);
        nl->free_block(c->geo, sh->entries(), drained, &dead);
        sh->drop_bottom(drained);
      }
    }
    if (nl->free_touched && !force) {
      nl->free_touched = false;
    } else {
      nl->free_touched = false;
      // Surplus slabs (slab/node_lists.h) go all at once: no CPU wanted them.
      std::uint32_t tofree =
          force ? ~0u
                : nl->surplus + static_cast<std::uint32_t>(
                                    (nl->free_limit + 5 * std::uint64_t{c->geo.num} - 1) /
                                    (5 * std::uint64_t{c->geo.num}));
      nl->stats.reaped += nl->unlink_free_slabs(c->geo, tofree, &dead);
    }
  }
  add(g_stats.objects_drained, drained);
  add(g_stats.slabs_destroyed, dead.count);
  destroy_slabs(c, &dead);
}

std::uint64_t period_ms() { return static_cast<std::uint64_t>(options().reap_ms); }

void release_memory(std::uint64_t min_age) {
  GateSection gate;
  std::size_t bytes = 0;
  for (int n = 0; n < topology().num_nodes(); ++n) {
    bytes += release_idle(n, min_age);
    bytes += trim_node(n, 1, /*clean_only=*/true);
  }
  add(g_stats.bytes_released, bytes);
}

void* reaper_main(void*) {
  int cpu = -1;
  while (!g_stop.load(std::memory_order_relaxed)) {
    Topology& t = topology();
    int online = t.online_cpus();
    if (online < 1) online = 1;
    // Spread visits: each CPU comes round once per period.
    std::uint64_t step = period_ms() / static_cast<std::uint64_t>(online);
    sleep_ms(step ? step : 1);
    if (g_stop.load(std::memory_order_relaxed)) break;
    // Next online CPU after the last one visited.
    int n = t.possible_cpus();
    for (int i = 1; i <= n; ++i) {
      int c = (cpu + i) % n;
      if (t.cpu_online(c)) {
        cpu = c;
        break;
      }
    }
    bool wrapped = cpu == t.online_mask().first();
    reap_cpu(cpu, false);
    if (wrapped) {
      GateSection gate;  // before any lock: fork waits for sections, not for locks
      LockGuard<Mutex> g(g_reap_mutex);
      // Nodes nobody visits: no online CPU.
      for (int node = 0; node < t.num_nodes(); ++node)
        if (t.online_cpus_on_node(node) == 0) reap_node(node, false);
      release_memory(static_cast<std::uint64_t>(options().release_delay_ms));
    }
  }
  return nullptr;
}

}  // namespace

bool reap_cpu(int cpu, bool force) {
  GateSection gate;
  LockGuard<Mutex> rg(g_reap_mutex);
  Registry& r = registry();
  if (!r.mutex.try_lock()) {
    add(g_stats.skipped, 1);
    return false;
  }
  Topology& t = topology();
  const int node = t.cpu_to_node(cpu);
  const std::uint64_t now = coarse_clock_ms();
  for (Cache* c = r.head; c; c = c->next) {
    drain_one_alien(c, cpu, node);
    drain_cpu_array(c, cpu, force);
    reap_node_cache(c, node, now, 2 * period_ms(), force);
  }
  r.mutex.unlock();
  g_alien_rotor[cpu] = static_cast<std::uint8_t>((g_alien_rotor[cpu] + 1) % t.num_nodes());
  add(g_stats.visits, 1);
  return true;
}

void reap_node(int node, bool force) {
  GateSection gate;
  if (!registry().mutex.try_lock()) {
    add(g_stats.skipped, 1);
    return;
  }
  const std::uint64_t now = coarse_clock_ms();
  for (Cache* c = registry().head; c; c = c->next)
    reap_node_cache(c, node, now, 2 * period_ms(), force);
  registry().mutex.unlock();
}

std::size_t reap_now() {
  GateSection gate;
  const std::uint64_t before = g_stats.bytes_released.load();
  {
    // Forced: take the registry mutex for real (we are not the background thread).
    LockGuard<Mutex> rg(g_reap_mutex);
    LockGuard<Mutex> g(registry().mutex);
    for (Cache* c = registry().head; c; c = c->next) drain_all_arrays(c);
    for (Cache* c = registry().head; c; c = c->next)
      for (int n = 0; n < topology().num_nodes(); ++n) reap_node_cache(c, n, 0, 0, true);
    // Draining arrays freed metadata nowhere, but shrinking one cache can
    // empty slabs of an earlier one (off-slab descriptors): a second pass.
    for (Cache* c = registry().head; c; c = c->next)
      for (int n = 0; n < topology().num_nodes(); ++n) cache_shrink_node(c, n);
    release_memory(0);
  }
  return static_cast<std::size_t>(g_stats.bytes_released.load() - before);
}

std::atomic<int> g_reaper_start_error{0};

bool reaper_start() {
  if (!options().reap) return true;
  bool expected = false;
  if (!g_running.compare_exchange_strong(expected, true)) return true;
  g_stop.store(false);
  if (int rc = platform().thread_create(&g_thread, nullptr, reaper_main, nullptr); rc != 0) {
    g_reaper_start_error.store(rc);
    g_running.store(false);
    return false;
  }
  g_reaper_start_error.store(0);
  return true;
}

int reaper_start_error() { return g_reaper_start_error.load(); }

void reaper_stop() {
  if (!g_running.load()) return;
  g_stop.store(true);
  pthread_join(g_thread, nullptr);
  g_running.store(false);
}

bool reaper_running() { return g_running.load(); }

ReaperStats reaper_stats() {
  ReaperStats s;
  s.visits = g_stats.visits.load();
  s.skipped = g_stats.skipped.load();
  s.objects_drained = g_stats.objects_drained.load();
  s.alien_drains = g_stats.alien_drains.load();
  s.slabs_destroyed = g_stats.slabs_destroyed.load();
  s.bytes_released = g_stats.bytes_released.load();
  return s;
}

void reaper_lock_for_fork() NS_NO_THREAD_SAFETY_ANALYSIS { g_reap_mutex.fork_lock(); }
void reaper_unlock_after_fork() NS_NO_THREAD_SAFETY_ANALYSIS { g_reap_mutex.fork_unlock(); }
void reaper_forget_in_child() {
  g_running.store(false);
  g_stop.store(false);
}

}  // namespace numaslab::detail
