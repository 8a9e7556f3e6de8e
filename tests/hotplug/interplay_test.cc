// Hotplug against the other users of per-CPU and per-node state: the
// background reaper (which must skip dead CPUs and tolerate nodes without
// shared/alien arrays) and run-time tuning (whose values later CPUs inherit).
#include <cerrno>
#include <memory>

#include "reap/reaper.h"
#include "support/cache_state.h"
#include "support/handles.h"
#include "support/init.h"
#include "support/report.h"

namespace numaslab::hotplug_test {
namespace {

using namespace ::numaslab::test_support;

// The reaper visits a CPU every millisecond while node 1 keeps losing and
// regaining its CPUs under traffic from every CPU.
TEST(HotplugInterplay, ReaperRunsThroughDownUpCycles) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2", /*reaper_ms=*/1));
  ASSERT_TRUE(detail::reaper_running());
  numaslab_cache* uc = numaslab_cache_create("hp_reaped", 88, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<long> failures{0}, ops{0};
  auto body = [&](int home) {
    constexpr int kRing = 32;
    void* ring[kRing] = {};
    void* kring[kRing] = {};
    for (long i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      if (numaslab_current_cpu() != home && numaslab_cpu_online(home) == 1)
        (void)numaslab_bind_thread_to_cpu(home);
      const int s = static_cast<int>(i % kRing);
      numaslab_cache_free(uc, ring[s]);
      numaslab_kfree(kring[s]);
      ring[s] = (i % 3 == 0) ? numaslab_cache_alloc_node(uc, static_cast<int>(i % 2))
                             : numaslab_cache_alloc(uc);
      kring[s] = numaslab_kmalloc(16 + static_cast<std::size_t>(i % 1500));
      if (!ring[s] || !kring[s]) failures.fetch_add(1);
      ops.fetch_add(1, std::memory_order_relaxed);
    }
    for (int s = 0; s < kRing; ++s) {
      numaslab_cache_free(uc, ring[s]);
      numaslab_kfree(kring[s]);
    }
  };
  std::vector<std::thread> threads;
  for (int cpu : {1, 2, 3}) threads.emplace_back(body, cpu);
  ASSERT_TRUE(wait_until([&] { return ops.load() > 300; }));
  const auto visits0 = detail::reaper_stats().visits;
  for (int cycle = 0; cycle < 40; ++cycle) {
    ASSERT_EQ(numaslab_cpu_down(3), 0);
    ASSERT_EQ(numaslab_cpu_down(2), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // reaper rounds, node 1 empty
    ASSERT_EQ(numaslab_cpu_up(3), 0);
    ASSERT_EQ(numaslab_cpu_up(2), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(detail::reaper_stats().visits, visits0) << "the reaper did not run";
  detail::reaper_stop();
  EXPECT_VERIFY_OK();
  EXPECT_EQ(objects_in_user_hands(raw(uc)), 0u);
  // A full reap with node 1 down leaves nothing cached anywhere for it.
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  numaslab_reap();
  for (Cache* c : all_caches()) {
    SCOPED_TRACE(c->name);
    NodeView n1 = node_view(c, 1);
    EXPECT_EQ(n1.shared, nullptr);
    EXPECT_EQ(n1.alien, nullptr);
    EXPECT_EQ(n1.free, 0u);
  }
  EXPECT_VERIFY_OK();
}

// The reaper must never visit a dead CPU: nothing may appear in its slot,
// and a forced reap with CPUs down works.
TEST(HotplugInterplay, ForcedReapWithNodeDown) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* uc = numaslab_cache_create("hp_reap_forced", 300, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  std::vector<void*> node1;
  for (int i = 0; i < 50; ++i) node1.push_back(numaslab_cache_alloc_node(uc, 1));
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  for (void* p : node1) numaslab_cache_free(uc, p);  // into node 0's alien array for node 1
  EXPECT_TRUE(detail::reap_cpu(3, true)) << "visiting a dead CPU must be harmless";
  detail::reap_node(1, true);
  numaslab_reap();
  EXPECT_EQ(caches_with_array_on(2), 0);
  EXPECT_EQ(caches_with_array_on(3), 0);
  EXPECT_EQ(alien_avail(raw(uc), 0, 1), 0) << "forced reap drains aliens to the empty node";
  EXPECT_EQ(node_view(raw(uc), 1).stats.active, 0u);
  EXPECT_VERIFY_OK();
  ASSERT_EQ(numaslab_cpu_up(2), 0);
  EXPECT_VERIFY_OK();
}

// Tunables set while a node is down are what its CPUs get when they return;
// alien arrays keep their size (as the kernel's do).
TEST(HotplugInterplay, TuneWhileNodeDownThenUp) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* uc = numaslab_cache_create("hp_tuned", 100, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  Cache* c = raw(uc);
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  ASSERT_EQ(numaslab_tune("hp_tuned", 30, 10, 3), 0);
  EXPECT_EQ(slot_view(c, 0).limit, 30u);
  EXPECT_EQ(node_view(c, 0).shared_limit, 30u);
  EXPECT_EQ(node_view(c, 1).shared, nullptr)
      << "tuning must not give a CPU-less node a shared array";
  EXPECT_EQ(node_view(c, 1).free_limit, expected_free_limit(c, 0));
  EXPECT_VERIFY_OK();

  ASSERT_EQ(numaslab_cpu_up(2), 0);
  SlotView s2 = slot_view(c, 2);
  ASSERT_NE(s2.ac, nullptr);
  EXPECT_EQ(s2.limit, 30u);
  EXPECT_EQ(s2.batchcount, 10u);
  NodeView n1 = node_view(c, 1);
  EXPECT_EQ(n1.shared, nullptr) << "a shared array comes at the node's first flush";
  make_shared_arrays(c);
  n1 = node_view(c, 1);
  ASSERT_NE(n1.shared, nullptr);
  EXPECT_EQ(n1.shared_limit, 30u) << "of the tuned size";
  ASSERT_NE(n1.alien, nullptr);
  EXPECT_EQ(n1.alien[0]->ac.limit, detail::kAlienLimit);
  EXPECT_EQ(n1.free_limit, expected_free_limit(c, 1));
  // Shared factor 0: a returning CPU gets no shared array.
  ASSERT_EQ(numaslab_tune("hp_tuned", 16, 8, 0), 0);
  EXPECT_EQ(node_view(c, 1).shared, nullptr);
  ASSERT_EQ(numaslab_cpu_up(3), 0);
  EXPECT_EQ(node_view(c, 1).shared, nullptr);
  EXPECT_EQ(slot_view(c, 3).limit, 16u);
  run_on_cpu(3, [&] {
    std::vector<void*> v;
    for (int i = 0; i < 100; ++i) v.push_back(numaslab_cache_alloc(uc));
    for (void* p : v) numaslab_cache_free(uc, p);  // flushes with no shared array
  });
  EXPECT_VERIFY_OK();
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  EXPECT_EQ(node_view(c, 1).stats.active, 0u);
  EXPECT_VERIFY_OK();
}

}  // namespace
}  // namespace numaslab::hotplug_test
