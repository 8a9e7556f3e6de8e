// Hotplug under RseqSlots without touching real CPUs: map:0=0,1=1 puts the
// two real CPUs on two nodes; numaslab_cpu_down(1)/up(1) through the API stop
// and fence CPU 1's slots while threads physically keep running there. No
// crash, no lost object, CPU 1's slots have no array while it is down, node-1
// objects allocated before stay freeable, verify() passes at the end.
#include <stdlib.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "cache/registry.h"
#include "support/cache_state.h"
#include "support/handles.h"
#include "support/report.h"
#include "support/sanitizers.h"
#include "support/slots.h"
#include "support/stamp.h"
#include "support/threads.h"
#include "support/workload.h"

namespace numaslab::stress_test {
namespace {

using namespace ::numaslab::test_support;

TEST(CpuHotplug, MapModeDownUpWhileThreadsRunOnTheCpu) {
  if (sysconf(_SC_NPROCESSORS_CONF) < 2) GTEST_SKIP() << "needs 2 CPUs";
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  ASSERT_EQ(numaslab_init("map:0=0,1=1"), 0);
  ASSERT_EQ(numaslab_num_possible_cpus(), 2) << "the map covers CPUs 0 and 1 only";
  if (!kTsan) {
    ASSERT_STREQ(numaslab_slots_policy(), "rseq");
  }
  ASSERT_EQ(numaslab_num_nodes(), 2);

  constexpr int kCaches = 2;
  const std::size_t sizes[kCaches] = {64, 700};
  numaslab_cache* caches[kCaches];
  for (int i = 0; i < kCaches; ++i) {
    caches[i] = numaslab_cache_create(("cpu-hp-" + std::to_string(sizes[i])).c_str(), sizes[i], 0,
                                      0, nullptr);
    ASSERT_NE(caches[i], nullptr);
  }
  // Node-1 objects allocated before any hotplug: they must stay freeable
  // whatever state CPU 1 is in.
  std::vector<void*> node1;
  for (int i = 0; i < 600; ++i) {
    void* p = numaslab_cache_alloc_node(caches[i % kCaches], 1);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(numaslab_node_of(p), 1);
    node1.push_back(p);
  }
  std::mutex node1_mu;

  std::atomic<bool> stop{false};
  std::atomic<long> node1_freed_while_down{0}, ran_on_cpu1{0}, node1_allocs{0};
  std::atomic<bool> cpu1_down{false};
  test_support::WorkloadSpec spec;
  spec.use_caches(caches, sizes, kCaches);
  spec.kmalloc_spread = 2000;
  spec.mix(12, 6, 10, 11);
  spec.max_held = 500;
  spec.alloc_node_op = 5;
  spec.churn = std::chrono::microseconds(1000);
  spec.churn_cpus = 2;
  spec.seed = [](int w) { return w * 131 + 5; };
  spec.each_step = [&] {
    if (sched_getcpu() == 1) ran_on_cpu1.fetch_add(1, std::memory_order_relaxed);
  };
  spec.each_alloc = [&](void* p) {
    if (numaslab_node_of(p) == 1) node1_allocs.fetch_add(1, std::memory_order_relaxed);
  };
  spec.extra_op = [&](std::mt19937_64& rng) {
    if (rng() % 8 != 0) return;
    // A node-1 object from before: free it now (often while CPU 1 is down).
    void* p = nullptr;
    int kind = 0;
    {
      std::lock_guard<std::mutex> g(node1_mu);
      if (!node1.empty()) {
        kind = static_cast<int>((node1.size() - 1) % kCaches);
        p = node1.back();
        node1.pop_back();
      }
    }
    if (p) {
      if (cpu1_down.load(std::memory_order_relaxed)) node1_freed_while_down.fetch_add(1);
      numaslab_cache_free(caches[kind], p);
    }
  };
  test_support::Workload wl(spec);
  auto fail = [&](const std::string& why) { wl.fail(why); };
  constexpr int kWorkers = 4;
  std::vector<std::thread> ws;
  for (int w = 0; w < kWorkers; ++w) ws.emplace_back([&, w] { wl.run_worker(w, stop); });

  long downs = 0, ups = 0, array_while_down = 0, no_array_while_up = 0;
  std::thread hp([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      int rc = numaslab_cpu_down(1);
      if (rc != 0) {
        fail("numaslab_cpu_down(1) = " + std::to_string(rc));
        break;
      }
      cpu1_down.store(true);
      ++downs;
      EXPECT_EQ(numaslab_cpu_online(1), 0);
      for (auto* c : caches)
        if (slot_view(raw(c), 1).ac != nullptr) ++array_while_down;
      if (slot_view(detail::cache_cache(), 1).ac != nullptr) ++array_while_down;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      cpu1_down.store(false);
      rc = numaslab_cpu_up(1);
      if (rc != 0) {
        fail("numaslab_cpu_up(1) = " + std::to_string(rc));
        break;
      }
      ++ups;
      for (auto* c : caches)
        if (!(slot_view(raw(c), 1).ac != nullptr)) ++no_array_while_up;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  stop.store(true);
  hp.join();
  for (auto& t : ws) t.join();
  wl.drain();
  // The rest of the node-1 objects from before.
  for (std::size_t i = 0; i < node1.size(); ++i) {
    EXPECT_EQ(numaslab_node_of(node1[i]), 1);
    numaslab_cache_free(caches[i % kCaches], node1[i]);
  }
  node1.clear();
  numaslab_hotplug_stats hs{};
  numaslab_get_hotplug_stats(&hs);
  printf(
      "[ hotplug ] %ld downs, %ld ups, %ld allocs (%ld of node 1), %ld node-1 frees while "
      "CPU 1 down, %ld worker steps on CPU 1, rseq aborts %llu\n",
      downs, ups, wl.allocs.load(), node1_allocs.load(), node1_freed_while_down.load(),
      ran_on_cpu1.load(), static_cast<unsigned long long>(detail::rseq_aborts()));
  EXPECT_EQ(wl.failures.load(), 0) << wl.first_failure();
  EXPECT_EQ(wl.oom.load(), 0);
  EXPECT_EQ(wl.allocs.load(), wl.frees.load());
  EXPECT_GT(downs, 100);
  EXPECT_EQ(hs.downs, static_cast<unsigned long long>(downs));
  EXPECT_EQ(hs.ups, static_cast<unsigned long long>(ups));
  EXPECT_EQ(hs.last_cpu_of_node_downs, static_cast<unsigned long long>(downs));
  EXPECT_EQ(array_while_down, 0) << "CPU 1 kept an array while down";
  EXPECT_EQ(no_array_while_up, 0) << "CPU 1 had no array after coming up";
  EXPECT_GT(ran_on_cpu1.load(), 1000) << "no worker ran on CPU 1";
  EXPECT_EQ(numaslab_cpu_online(1), 1);
  VerifyResult vr = verify();
  EXPECT_EQ(vr.errors, 0) << vr.report;
  for (auto* c : caches) EXPECT_EQ(numaslab_cache_destroy(c), 0) << numaslab_cache_name(c);
}

// Down and stay down: the workers keep running on the physical CPU 1 (no
// arrays there now), and node 1 remains allocatable and freeable.
TEST(CpuHotplug, MapModeCpuDownThreadsKeepRunningThere) {
  if (sysconf(_SC_NPROCESSORS_CONF) < 2) GTEST_SKIP() << "needs 2 CPUs";
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  ASSERT_EQ(numaslab_init("map:0=0,1=1"), 0);
  ASSERT_EQ(numaslab_num_possible_cpus(), 2);
  numaslab_cache* c = numaslab_cache_create("cpu-hp-stay", 128, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  std::vector<void*> before;
  for (int i = 0; i < 300; ++i) before.push_back(numaslab_cache_alloc_node(c, 1));
  ASSERT_EQ(numaslab_cpu_down(1), 0);
  EXPECT_FALSE((slot_view(raw(c), 1).ac != nullptr));
  EXPECT_TRUE((slot_view(raw(c), 0).ac != nullptr));
  std::atomic<long> bad{0}, n{0};
  std::thread t([&] {
    ASSERT_TRUE(pin_self({1}));
    ASSERT_EQ(sched_getcpu(), 1);
    std::vector<void*> v;
    for (int round = 0; round < 200; ++round) {
      for (int i = 0; i < 100; ++i) {
        void* p = numaslab_cache_alloc(c);
        if (!p) ++bad;
        // The physical CPU is 1, so its node is 1 — served straight by the node layer.
        else if (numaslab_node_of(p) != 1)
          ++bad;
        v.push_back(p);
      }
      for (void* p : v) numaslab_cache_free(c, p);
      n += static_cast<long>(v.size());
      v.clear();
    }
    for (void* p : before) numaslab_cache_free(c, p);
  });
  t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(n.load(), 20000);
  EXPECT_FALSE((slot_view(raw(c), 1).ac != nullptr));
  VerifyResult vr = verify();
  EXPECT_EQ(vr.errors, 0) << vr.report;
  ASSERT_EQ(numaslab_cpu_up(1), 0);
  EXPECT_TRUE((slot_view(raw(c), 1).ac != nullptr));
  vr = verify();
  EXPECT_EQ(vr.errors, 0) << vr.report;
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

}  // namespace
}  // namespace numaslab::stress_test
