// Multi-thread stress on sim:2x2: cross-thread, cross-node frees with a
// working set that grows and shrinks; then the same with CPU hotplug events
// from a fifth thread. Both end with everything drained and verify() clean.
#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cache/cache.h"
#include "cache/registry.h"
#include "stress_util.h"
#include "support/handles.h"

namespace {

using namespace numaslab_stress;
using numaslab::detail::LockGuard;
using numaslab::detail::SpinLock;
namespace detail = numaslab::detail;

Totals totals(numaslab_cache* pc) NS_NO_THREAD_SAFETY_ANALYSIS {
  Totals t;
  auto* c = numaslab::test_support::raw(pc);
  for (int cpu = 0; cpu < numaslab_num_possible_cpus(); ++cpu) {
    detail::CpuSlot& s = c->slot(cpu);
    LockGuard<SpinLock> g(s.lock);
    t.remote_frees += s.stats.remote_frees;
    t.alien_overflows += s.stats.alien_overflows;
    t.alloc_hit += s.slot_read_hits();
    t.free_hit += s.free_hits();
  }
  return t;
}

std::string verify_report(int* errors) {
  static char buf[1 << 16];
  *errors = numaslab_verify(buf, sizeof buf);
  return buf;
}

void run_stress(bool hotplug) {
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  const int kWorkers = 4;
  Stress stress(kWorkers);
  for (int i = 0; i < kNumCaches; ++i) ASSERT_NE(stress.cache(i), nullptr);

  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w)
    threads.emplace_back([&, w] { stress.run_worker(w, /*cpu=*/w, stop); });

  std::uint64_t downs = 0, ups = 0;
  std::string hotplug_error;
  std::thread plugger;
  if (hotplug) {
    plugger = std::thread([&] {
      std::mt19937 rng(12345);
      while (!stop.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const int cpu = static_cast<int>(rng() % 4);
        int online = 0;
        for (int c = 0; c < 4; ++c) online += numaslab_cpu_online(c) == 1;
        int rc;
        if (numaslab_cpu_online(cpu) == 1) {
          if (online <= 1) continue;  // never the last online CPU
          rc = numaslab_cpu_down(cpu);
          ++downs;
        } else {
          rc = numaslab_cpu_up(cpu);
          ++ups;
        }
        if (rc != 0 && hotplug_error.empty())
          hotplug_error = "cpu " + std::to_string(cpu) + ": rc " + std::to_string(rc);
      }
    });
  }

  std::this_thread::sleep_for(stress_duration());
  stop.store(true);
  for (auto& t : threads) t.join();
  if (plugger.joinable()) plugger.join();
  EXPECT_EQ(hotplug_error, "");

  // Everything back up, then drain from here.
  for (int cpu = 0; cpu < 4; ++cpu) {
    if (numaslab_cpu_online(cpu) != 1) {
      EXPECT_EQ(numaslab_cpu_up(cpu), 0) << cpu;
      ++ups;
    }
  }
  for (int cpu = 0; cpu < 4; ++cpu) EXPECT_EQ(numaslab_cpu_online(cpu), 1);
  ASSERT_EQ(stress.failure().count.load(), 0) << stress.failure().first;
  stress.drain_all();
  ASSERT_EQ(stress.failure().count.load(), 0) << stress.failure().first;

  // The workload did what it claims.
  std::uint64_t allocs = 0, received = 0, remote = 0, frees = 0;
  std::size_t peak = 0;
  for (int w = 0; w < kWorkers; ++w) {
    allocs += stress.stats(w).allocs;
    received += stress.stats(w).received;
    remote += stress.stats(w).remote_node_frees;
    frees += stress.stats(w).frees;
    peak = std::max(peak, stress.stats(w).peak);
  }
  EXPECT_EQ(frees, allocs) << "every object freed exactly once";
  EXPECT_GT(allocs, 10000u);
  EXPECT_GT(received * 2, allocs) << "most frees happen on another thread";
  EXPECT_GT(remote * 4, received) << "many of them on another node";
  EXPECT_GT(peak, 500u) << "the working set grew";
  Totals t{};
  for (int i = 0; i < kNumCaches; ++i) {
    Totals ti = totals(stress.cache(i));
    t.remote_frees += ti.remote_frees;
    t.alien_overflows += ti.alien_overflows;
    t.alloc_hit += ti.alloc_hit;
  }
  EXPECT_GT(t.remote_frees, 1000u);
  EXPECT_GT(t.alien_overflows, 10u);
  EXPECT_GT(t.alloc_hit, 1000u);
  if (hotplug) {
    EXPECT_GT(downs, 10u) << "hotplug events while the workers ran";
    EXPECT_GT(ups, 10u);
    if (stress.wrong_node_allocs())
      std::printf(
          "note: %llu *_node allocations came from another node after a migration "
          "(see Arrays.AllocNodeKeepsItsNodeWhenTheThreadMigrates)\n",
          static_cast<unsigned long long>(stress.wrong_node_allocs()));
  } else {
    EXPECT_EQ(stress.wrong_node_allocs(), 0u) << "no migration, so *_node must be exact";
  }

  int errors = 0;
  std::string report = verify_report(&errors);
  EXPECT_EQ(errors, 0) << report;
  EXPECT_NE(report.find("verify: OK"), std::string::npos) << report;
  stress.destroy_caches();
  report = verify_report(&errors);
  EXPECT_EQ(errors, 0) << report;
  std::printf(
      "stress%s: %llu allocations, %llu handed over, %llu freed on another node, peak %zu, "
      "%llu downs / %llu ups\n",
      hotplug ? " + hotplug" : "", static_cast<unsigned long long>(allocs),
      static_cast<unsigned long long>(received), static_cast<unsigned long long>(remote), peak,
      static_cast<unsigned long long>(downs), static_cast<unsigned long long>(ups));
}

TEST(Stress, CrossThreadCrossNodeFrees) { run_stress(/*hotplug=*/false); }

TEST(Stress, CrossNodeFreesWithCpuHotplug) { run_stress(/*hotplug=*/true); }

}  // namespace
