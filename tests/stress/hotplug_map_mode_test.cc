// Hotplug on real CPUs (map mode): a thread pinned to CPU 1 keeps allocating
// and freeing — through RseqSlots critical sections when the machine has
// them — while CPU 1, the last CPU of node 1, goes down and up for numaslab.
// The remote-stop protocol (slot lock, stop, fence) must keep the thread out
// of the array being detached, and the thread must keep working from the node
// layer while its CPU is down for us.
#include <pthread.h>

#include <atomic>
#include <thread>

#include "support/cache_state.h"
#include "support/handles.h"
#include "support/init.h"
#include "support/map_mode.h"
#include "support/report.h"

namespace numaslab::hotplug_test {
namespace {

using namespace ::numaslab::test_support;

bool pin_self_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

TEST(HotplugMapMode, PinnedThreadSurvivesItsCpuGoingDownAndUp) {
  std::string why;
  const int ncpus = map_mode_cpus(&why);
  if (ncpus == 0) GTEST_SKIP() << why;
  FakeSysfs fake;
  ASSERT_NO_FATAL_FAILURE(start_map_mode(fake, ncpus));
  RecordProperty("slots_policy", detail::slots_policy_name());
  numaslab_cache* uc = numaslab_cache_create("hp_map_obj", 120, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);

  std::atomic<bool> stop{false};
  std::atomic<long> rounds{0}, failures{0}, off_cpu{0};
  std::thread worker([&] {
    if (!pin_self_to(1)) {
      failures.fetch_add(1000000);
      return;
    }
    static constexpr std::size_t kSizes[] = {32, 100, 500, 1000, 2000};
    void* objs[150];
    void* kobjs[40];
    while (!stop.load(std::memory_order_relaxed)) {
      // Bursts larger than the per-CPU arrays: refills and flushes, i.e. the
      // batch slow paths, not only single pushes and pops.
      for (void*& p : objs) p = numaslab_cache_alloc(uc);
      for (int i = 0; i < 40; ++i) kobjs[i] = numaslab_kmalloc(kSizes[i % 5]);
      for (void* p : objs) {
        if (!p) failures.fetch_add(1);
        numaslab_cache_free(uc, p);
      }
      for (void* p : kobjs) {
        if (!p) failures.fetch_add(1);
        numaslab_kfree(p);
      }
      if (sched_getcpu() != 1) off_cpu.fetch_add(1);
      rounds.fetch_add(1);
    }
  });
  ASSERT_TRUE(wait_until([&] { return rounds.load() > 20; }));
  const int kCycles = 150;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    const long at = rounds.load();
    ASSERT_EQ(numaslab_cpu_down(1), 0) << "cycle " << cycle;
    for (Cache* c : all_caches()) ASSERT_EQ(slot_view(c, 1).ac, nullptr) << c->name;
    if (ncpus == 2) {
      for (Cache* c : all_caches()) {
        NodeView n1 = node_view(c, 1);
        ASSERT_EQ(n1.shared, nullptr) << c->name;
        ASSERT_EQ(n1.alien, nullptr) << c->name;
      }
    }
    // Let the worker run a little while its CPU is down for numaslab.
    ASSERT_TRUE(wait_until([&] { return rounds.load() > at + 1; }));
    ASSERT_EQ(numaslab_cpu_up(1), 0) << "cycle " << cycle;
  }
  stop.store(true);
  worker.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(off_cpu.load(), 0) << "the worker was not kept on CPU 1";
  EXPECT_VERIFY_OK();
  EXPECT_EQ(objects_in_user_hands(raw(uc)), 0u);
  EXPECT_EQ(hotplug_stats().downs, static_cast<unsigned long long>(kCycles));
}

}  // namespace
}  // namespace numaslab::hotplug_test
