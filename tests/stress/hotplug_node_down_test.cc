// Hotplug under load (sim mode): threads bound to node 0's CPUs keep
// allocating node-1 memory and freeing it while node 1 loses and regains all
// its CPUs.
#include <atomic>
#include <thread>

#include "support/cache_state.h"
#include "support/handles.h"
#include "support/init.h"
#include "support/report.h"

namespace numaslab::hotplug_test {
namespace {

using namespace ::numaslab::test_support;

// The seed's scenario under load: threads on node 0 keep allocating from
// node 1 (alloc_node / kmalloc_node) and freeing node-1 objects while node 1
// loses and regains all its CPUs. R1 says the node's lists never go away.
TEST(HotplugStress, NodeAllocAndRemoteFreesWhileNodeGoesDown) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* uc = numaslab_cache_create("hp_stress_node", 96, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  NodeLists* nl1 = raw(uc)->node(1);
  std::atomic<bool> stop{false};
  std::atomic<long> failures{0}, wrong_node{0}, ops{0};
  auto body = [&](int cpu) {
    if (numaslab_bind_thread_to_cpu(cpu) != 0) {
      failures.fetch_add(1);
      return;
    }
    constexpr int kRing = 64;
    void* ring[kRing] = {};
    void* kring[kRing] = {};
    for (long i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      const int s = static_cast<int>(i % kRing);
      numaslab_cache_free(uc, ring[s]);
      numaslab_kfree(kring[s]);
      ring[s] = numaslab_cache_alloc_node(uc, 1);
      kring[s] = numaslab_kmalloc_node(i % 2 ? 1000 : 160, 1);
      if (!ring[s] || !kring[s]) {
        failures.fetch_add(1);
      } else if (numaslab_node_of(ring[s]) != 1 || numaslab_node_of(kring[s]) != 1) {
        wrong_node.fetch_add(1);
      }
      ops.fetch_add(1, std::memory_order_relaxed);
    }
    for (int s = 0; s < kRing; ++s) {
      numaslab_cache_free(uc, ring[s]);
      numaslab_kfree(kring[s]);
    }
  };
  std::thread t0(body, 0), t1(body, 1);
  ASSERT_TRUE(wait_until([&] { return ops.load() > 200; }));
  for (int cycle = 0; cycle < 60; ++cycle) {
    ASSERT_EQ(numaslab_cpu_down(3), 0);
    ASSERT_EQ(numaslab_cpu_down(2), 0);
    const long at = ops.load();
    ASSERT_TRUE(wait_until([&] { return ops.load() > at + 20; }));
    ASSERT_EQ(numaslab_cpu_up(2), 0);
    ASSERT_EQ(numaslab_cpu_up(3), 0);
  }
  stop.store(true);
  t0.join();
  t1.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(wrong_node.load(), 0);
  EXPECT_EQ(raw(uc)->node(1), nl1);
  EXPECT_VERIFY_OK();
  EXPECT_EQ(objects_in_user_hands(raw(uc)), 0u);
}

}  // namespace
}  // namespace numaslab::hotplug_test
