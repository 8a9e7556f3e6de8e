// RseqSlots under heavy preemption and migration: 4x as many threads as CPUs
// doing random allocations, frees and cross-thread frees on three caches and
// kmalloc, each thread moving itself between CPUs every millisecond, while a
// signal storm interrupts them every ~100 µs. Every object is stamped and
// checked; allocation and free counts must match; verify() must pass; the
// abort path must have run.
#include <stdlib.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

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

constexpr int kCaches = 3;
constexpr std::uint32_t kCacheSizes[kCaches] = {32, 200, 1100};

struct Outcome {
  long allocs = 0, frees = 0, cross = 0;
  std::uint64_t signals_sent = 0;
};

void ctor_fill(void* p) { static_cast<Stamp*>(p)->owner = 0xc0c0; }

void run_stress(int threads, std::chrono::milliseconds duration, bool churn, bool signals,
                Outcome* out) {
  const int ncpu = numaslab_num_possible_cpus();
  numaslab_cache* caches[kCaches];
  for (int i = 0; i < kCaches; ++i) {
    std::string name = "cpu-stress-" + std::to_string(kCacheSizes[i]);
    caches[i] =
        numaslab_cache_create(name.c_str(), kCacheSizes[i], 0, 0, i == 1 ? ctor_fill : nullptr);
    ASSERT_NE(caches[i], nullptr) << name;
  }
  test_support::WorkloadSpec spec;
  spec.use_caches(caches, kCacheSizes, kCaches);
  spec.kmalloc_spread = 3000;
  spec.mix(16, 7, 14, 16);
  spec.max_held = 400;
  spec.boxes = threads;  // a cross-thread free: another thread frees it
  if (churn) spec.churn = std::chrono::microseconds(1000);
  spec.churn_cpus = ncpu;
  spec.seed = [](int t) { return 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(t + 1); };
  test_support::Workload wl(spec);
  std::atomic<bool> stop{false};
  std::atomic<int> done{0};

  SignalStorm::install();
  SignalStorm::ncpus.store(ncpu);
  SignalStorm::migrate.store(signals);
  SignalStorm storm;
  std::vector<std::thread> ts;
  std::atomic<int> ready{0};
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      ready.fetch_add(1);
      wl.run_worker(t, stop);
      done.fetch_add(1);
    });
    storm.add_target(ts.back().native_handle());
  }
  while (ready.load() < threads) std::this_thread::yield();
  if (signals) storm.start(std::chrono::microseconds(100));
  std::this_thread::sleep_for(duration);
  stop.store(true);
  // Stop the storm once every worker has left its loop (they may still be
  // freeing; the storm keeps running over that too).
  while (done.load() < threads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  out->signals_sent = signals ? storm.stop() : 0;
  for (auto& t : ts) t.join();
  wl.drain();
  out->allocs = wl.allocs.load();
  out->frees = wl.frees.load();
  out->cross = wl.handoffs.load();

  EXPECT_EQ(wl.failures.load(), 0) << wl.first_failure();
  EXPECT_EQ(wl.oom.load(), 0);
  EXPECT_EQ(wl.allocs.load(), wl.frees.load());
  if (policy_is("rseq")) {
    std::uint64_t hits = 0;
    for (auto* c : caches) hits += rseq_hits(c);
    EXPECT_GT(hits, 10000u) << "the rseq fast paths did not run";
  }
  VerifyResult vr = verify();
  EXPECT_EQ(vr.errors, 0) << vr.report;
  for (auto* c : caches) EXPECT_EQ(numaslab_cache_destroy(c), 0) << numaslab_cache_name(c);
}

TEST(CpuStress, PreemptionMigrationAndSignalStorm) {
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  ASSERT_EQ(numaslab_init("real"), 0);
  if (kTsan) {
    ASSERT_STREQ(numaslab_slots_policy(), "locked");
  } else {
    ASSERT_STREQ(numaslab_slots_policy(), "rseq");
  }
  const int ncpu = numaslab_num_possible_cpus();
  const int threads = 4 * ncpu < 8 ? 8 : 4 * ncpu;
  Outcome tot;
  const std::uint64_t aborts_before = detail::rseq_aborts();
  run_stress(threads, std::chrono::milliseconds(kTsan ? 1500 : 3000), true, true, &tot);
  const std::uint64_t sent = tot.signals_sent;
  const std::uint64_t aborts = detail::rseq_aborts() - aborts_before;
  printf(
      "[ stress ] policy %s, %d threads, %ld allocs, %ld frees (%ld cross-thread), "
      "%llu signals sent, %llu handled (%llu migrated in the handler), rseq aborts %llu\n",
      numaslab_slots_policy(), threads, tot.allocs, tot.frees, tot.cross,
      static_cast<unsigned long long>(sent),
      static_cast<unsigned long long>(SignalStorm::handled.load()),
      static_cast<unsigned long long>(SignalStorm::migrations.load()),
      static_cast<unsigned long long>(aborts));
  RecordProperty("rseq_aborts", std::to_string(aborts));
  EXPECT_GT(tot.cross, 1000);
  EXPECT_GT(sent, 1000u);
  if (policy_is("rseq")) {
    EXPECT_GT(aborts, 0u) << "the abort path never ran";
  }
}

// Same workload without signals or churn: plain preemption of 4x oversubscribed
// threads still has to conserve everything.
TEST(CpuStress, OversubscribedNoSignals) {
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  ASSERT_EQ(numaslab_init("real"), 0);
  Outcome tot;
  const std::uint64_t aborts_before = detail::rseq_aborts();
  run_stress(4 * numaslab_num_possible_cpus(), std::chrono::milliseconds(1500), false, false, &tot);
  printf("[ stress ] no signals: %ld allocs, rseq aborts %llu\n", tot.allocs,
         static_cast<unsigned long long>(detail::rseq_aborts() - aborts_before));
}

}  // namespace
}  // namespace numaslab::stress_test
