// The reaper: touched hysteresis, idle catch-all, free-slab trimming,
// alien draining, memory back to the OS.
#include "reap/reaper.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "reap_test_util.h"

using namespace numaslab::detail;
using namespace numaslab::test_support;

TEST(Reaper, BusyCpuKeepsItsCacheIdleOneIsDrained) {
  init_no_reaper();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = numaslab_cache_create("reap-hyst", 64, 0, 0, nullptr);
  const std::uint32_t limit = raw(c)->limit.load();
  std::vector<void*> v;
  for (std::uint32_t i = 0; i < limit; ++i) v.push_back(numaslab_cache_alloc(c));
  for (void* p : v) numaslab_cache_free(c, p);
  const std::uint32_t full = slot_view(raw(c), 0).avail;
  ASSERT_GE(full, 2 * ((limit + 4) / 5)) << "room for two trims";

  // Touched since the last visit: the visit only clears the bit.
  ASSERT_TRUE(reap_cpu(0, false));
  EXPECT_EQ(slot_view(raw(c), 0).avail, full);
  // Untouched: about a fifth of the limit goes back to the slabs.
  ASSERT_TRUE(reap_cpu(0, false));
  EXPECT_EQ(slot_view(raw(c), 0).avail, full - (limit + 4) / 5);
  // Used again: kept again.
  numaslab_cache_free(c, numaslab_cache_alloc(c));
  const std::uint32_t kept = slot_view(raw(c), 0).avail;
  ASSERT_TRUE(reap_cpu(0, false));
  EXPECT_EQ(slot_view(raw(c), 0).avail, kept);
  // Idle for kIdleDrainVisits visits: drained completely.
  for (std::uint32_t i = 0; i < kIdleDrainVisits; ++i) ASSERT_TRUE(reap_cpu(0, false));
  EXPECT_EQ(slot_view(raw(c), 0).avail, 0u);
  char buf[4096];
  EXPECT_EQ(numaslab_verify(buf, sizeof buf), 0) << buf;
}

TEST(Reaper, DownedCpuIsNotReapedAndComesBack) {
  init_no_reaper();
  ASSERT_EQ(numaslab_cpu_down(1), 0);
  ReaperStats before = reaper_stats();
  // The background loop visits only online CPUs; a visit of an offline CPU
  // finds no arrays to trim.
  numaslab_cache* c = numaslab_cache_create("reap-down", 64, 0, 0, nullptr);
  EXPECT_EQ(slot_view(raw(c), 1).avail, 0u);
  ASSERT_TRUE(reap_cpu(1, true));
  EXPECT_EQ(reaper_stats().objects_drained, before.objects_drained);
  ASSERT_EQ(numaslab_cpu_up(1), 0);
  ASSERT_EQ(numaslab_bind_thread_to_cpu(1), 0);
  std::vector<void*> v;
  for (int i = 0; i < 50; ++i) v.push_back(numaslab_cache_alloc(c));
  for (void* p : v) numaslab_cache_free(c, p);
  ASSERT_GT(slot_view(raw(c), 1).avail, 0u);
  ASSERT_TRUE(reap_cpu(1, true));
  EXPECT_EQ(slot_view(raw(c), 1).avail, 0u);
}

TEST(Reaper, FreeSlabsTrimmedAFifthOfFreeLimitAtATime) {
  init_no_reaper();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  ScopedSurplusRoom no_surplus(0);  // surplus slabs: SurplusSlabsGoInOnePassWhenUnused
  numaslab_cache* c = numaslab_cache_create("reap-trim", 1024, 0, 0, nullptr);
  Cache* ic = raw(c);
  NodeLists* nl = ic->node(0);
  std::vector<void*> v;
  for (int i = 0; i < 4000; ++i) v.push_back(numaslab_cache_alloc(c));
  for (void* p : v) numaslab_cache_free(c, p);
  std::uint64_t free_limit, free_objects, free_slabs;
  {
    numaslab::detail::LockGuard<numaslab::detail::SpinLock> g(nl->list_lock);
    free_limit = nl->free_limit;
    free_objects = nl->free_objects;
    free_slabs = nl->free.count;
  }
  // Slabs that became free above free_limit were destroyed at once.
  EXPECT_LE(free_objects, free_limit + ic->geo.num);
  ASSERT_GT(free_slabs, 0u);
  const std::uint64_t per_pass = (free_limit + 5 * ic->geo.num - 1) / (5 * ic->geo.num);
  // free_touched was set by the allocations (free slabs were needed): the
  // first node-level pass only clears it.
  {
    numaslab::detail::LockGuard<numaslab::detail::SpinLock> g(nl->list_lock);
    nl->free_touched = true;
  }
  auto reaped = [&] {
    numaslab::detail::LockGuard<numaslab::detail::SpinLock> g(nl->list_lock);
    return nl->stats.reaped;
  };
  const std::uint64_t r0 = reaped();
  nl->next_reap = 0;
  reap_cpu(0, false);
  EXPECT_EQ(reaped(), r0);  // skipped once: free slabs were in demand
  nl->next_reap = 0;
  reap_cpu(0, false);
  EXPECT_EQ(reaped(), r0 + std::min<std::uint64_t>(per_pass, free_slabs));
  // Not due again yet (next_reap is two periods away): nothing more.
  const std::uint64_t r2 = reaped();
  reap_cpu(0, false);
  EXPECT_EQ(reaped(), r2);
}

TEST(Reaper, SurplusSlabsGoInOnePassWhenUnused) {
  init_no_reaper();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = numaslab_cache_create("reap-surplus", 1024, 0, 0, nullptr);
  Cache* ic = raw(c);
  // No shared array: a node pass then changes the free slabs only.
  ASSERT_EQ(numaslab_tune("reap-surplus", ic->limit.load(), ic->batchcount.load(), 0), 0);
  NodeLists* nl = ic->node(0);
  std::vector<void*> v;
  for (int i = 0; i < 4000; ++i) v.push_back(numaslab_cache_alloc(c));
  for (void* p : v) numaslab_cache_free(c, p);
  NodeView before = node_view(ic, 0);
  ASSERT_GT(before.surplus, 0u) << "4000 objects of 1 KiB fit the default room";
  EXPECT_LE(before.free_objects,
            before.free_limit + std::uint64_t{before.surplus + 1} * ic->geo.num);
  const std::uint64_t room = surplus_room(0).used();
  EXPECT_GE(room, std::uint64_t{before.surplus} * (numaslab::kPageSize << ic->geo.order));
  // Free slabs were in demand: the pass keeps them all.
  {
    numaslab::detail::LockGuard<numaslab::detail::SpinLock> g(nl->list_lock);
    nl->free_touched = true;
  }
  // The node-level pass alone: a visit of the CPU would also trim its array,
  // emptying more slabs.
  nl->next_reap = 0;
  reap_node(0, false);
  EXPECT_EQ(node_view(ic, 0).surplus, before.surplus);
  // Unused since: the surplus and a fifth of free_limit's worth go at once,
  // and their room is given back.
  nl->next_reap = 0;
  reap_node(0, false);
  NodeView after = node_view(ic, 0);
  const std::uint64_t per_pass = (after.free_limit + 5 * ic->geo.num - 1) / (5 * ic->geo.num);
  EXPECT_EQ(after.surplus, 0u);
  EXPECT_EQ(after.stats.reaped - before.stats.reaped,
            std::min<std::uint64_t>(before.surplus + per_pass, before.free));
  EXPECT_EQ(surplus_room(0).used(),
            room - std::uint64_t{before.surplus} * (numaslab::kPageSize << ic->geo.order));
  char buf[4096];
  EXPECT_EQ(numaslab_verify(buf, sizeof buf), 0) << buf;
}

TEST(Reaper, AlienArraysDrainRoundRobin) {
  init_no_reaper();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = numaslab_cache_create("reap-alien", 64, 0, 0, nullptr);
  std::vector<void*> v;
  for (int i = 0; i < 5; ++i) v.push_back(numaslab_cache_alloc_node(c, 1));
  for (void* p : v) numaslab_cache_free(c, p);
  AlienArray* a = raw(c)->node(0)->alien.load()[1];
  {
    numaslab::detail::LockGuard<numaslab::detail::SpinLock> g(a->lock);
    ASSERT_EQ(a->ac.avail, 5u);
  }
  ASSERT_TRUE(reap_cpu(0, false));
  numaslab::detail::LockGuard<numaslab::detail::SpinLock> g(a->lock);
  EXPECT_EQ(a->ac.avail, 0u);
}

TEST(Reaper, BackgroundThreadReapsOnItsOwn) {
  setenv("NUMASLAB_REAP_MS", "50", 1);
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  ASSERT_TRUE(reaper_running());
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = numaslab_cache_create("reap-bg", 64, 0, 0, nullptr);
  std::vector<void*> v;
  for (int i = 0; i < 100; ++i) v.push_back(numaslab_cache_alloc(c));
  for (void* p : v) numaslab_cache_free(c, p);
  ASSERT_GT(slot_view(raw(c), 0).avail, 0u);
  for (int i = 0; i < 200 && slot_view(raw(c), 0).avail > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(slot_view(raw(c), 0).avail, 0u);
  EXPECT_GT(reaper_stats().visits, 0u);
  reaper_stop();
  EXPECT_FALSE(reaper_running());
}
