// Remote operations racing the local fast/slow paths under RseqSlots:
// shrink (drain every CPU's array), tune (swap every CPU's array), reap
// (drain, trim) — each one stops and fences the slots it touches — while
// workers allocate and free on the same caches from both CPUs. At the end
// everything is conserved: all objects freed, verify() passes, the caches can
// be destroyed (no object in use).
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

void remote_ops_race(bool tiny_arrays, std::chrono::milliseconds duration) {
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  setenv("NUMASLAB_REAP_MS", "5", 1);  // the background reaper joins in
  ASSERT_EQ(numaslab_init("real"), 0);
  if (!kTsan) {
    ASSERT_STREQ(numaslab_slots_policy(), "rseq");
  }
  const int ncpu = numaslab_num_possible_cpus();
  constexpr int kCaches = 2;
  const char* names[kCaches] = {"cpu-remote-a", "cpu-remote-b"};
  const std::size_t sizes[kCaches] = {48, 512};
  numaslab_cache* caches[kCaches];
  for (int i = 0; i < kCaches; ++i) {
    caches[i] = numaslab_cache_create(names[i], sizes[i], 0, 0, nullptr);
    ASSERT_NE(caches[i], nullptr);
  }
  const int kWorkers = 4;
  std::atomic<bool> stop{false};
  test_support::WorkloadSpec spec;
  spec.use_caches(caches, sizes, kCaches);
  spec.kmalloc_spread = 1000;
  spec.mix(10, 5, 9, 10);
  spec.max_held = 600;
  spec.churn = std::chrono::microseconds(2000);
  spec.churn_cpus = ncpu;
  spec.seed = [](int w) { return w * 31 + 7; };
  test_support::Workload wl(spec);
  auto fail = [&](const std::string& why) { wl.fail(why); };
  std::vector<std::thread> ws;
  for (int w = 0; w < kWorkers; ++w) ws.emplace_back([&, w] { wl.run_worker(w, stop); });

  // The remote operator.
  long shrinks = 0, tunes = 0, reaps = 0, kmalloc_tunes = 0;
  std::thread op([&] {
    std::mt19937 rng(4242);
    while (!stop.load(std::memory_order_relaxed)) {
      const int c = static_cast<int>(rng() % kCaches);
      switch (rng() % 4) {
        case 0:
          numaslab_cache_shrink(caches[c]);
          ++shrinks;
          break;
        case 1: {
          long limit =
              tiny_arrays ? 1 + static_cast<long>(rng() % 4) : 1 + static_cast<long>(rng() % 200);
          long batch = 1 + static_cast<long>(rng() % static_cast<unsigned>(limit));
          long shared = static_cast<long>(rng() % 9);
          int rc = numaslab_tune(names[c], limit, batch, shared);
          if (rc != 0) fail("numaslab_tune(" + std::string(names[c]) + ") = " + std::to_string(rc));
          ++tunes;
          break;
        }
        case 2:
          numaslab_reap();
          ++reaps;
          break;
        case 3: {
          // The kmalloc caches hold the array caches themselves.
          long limit = 1 + static_cast<long>(rng() % 120);
          int rc = numaslab_tune("kmalloc-64", limit, 1 + static_cast<long>(rng() % limit),
                                 static_cast<long>(rng() % 9));
          if (rc != 0) fail("numaslab_tune(kmalloc-64) = " + std::to_string(rc));
          ++kmalloc_tunes;
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  std::this_thread::sleep_for(duration);
  stop.store(true);
  op.join();
  for (auto& t : ws) t.join();
  wl.drain();
  printf(
      "[ remote ] %ld allocs, %ld frees; %ld shrinks, %ld tunes, %ld kmalloc tunes, %ld reaps; "
      "rseq aborts %llu\n",
      wl.allocs.load(), wl.frees.load(), shrinks, tunes, kmalloc_tunes, reaps,
      static_cast<unsigned long long>(detail::rseq_aborts()));
  EXPECT_EQ(wl.failures.load(), 0) << wl.first_failure();
  EXPECT_EQ(wl.oom.load(), 0);
  EXPECT_EQ(wl.allocs.load(), wl.frees.load());
  EXPECT_GT(shrinks, 20);
  EXPECT_GT(tunes, 20);
  EXPECT_GT(reaps, 20);
  VerifyResult vr = verify();
  EXPECT_EQ(vr.errors, 0) << vr.report;
  for (int i = 0; i < kCaches; ++i) {
    EXPECT_EQ(numaslab_cache_shrink(caches[i]), 0) << names[i] << " still has objects in use";
    EXPECT_EQ(numaslab_cache_destroy(caches[i]), 0) << names[i];
  }
  vr = verify();
  EXPECT_EQ(vr.errors, 0) << vr.report;
}

TEST(CpuRemote, ShrinkTuneReapRaceLocalOps) {
  remote_ops_race(false, std::chrono::milliseconds(3000));
}

// Arrays of 1..4 entries: nearly every operation takes a slow path (batch
// refill, batch flush) while the arrays are being swapped underneath.
TEST(CpuRemote, TinyArraysSlowPathsRaceTune) {
  remote_ops_race(true, std::chrono::milliseconds(2500));
}

// Focused: the RseqSlots slow paths (alloc_slow_rseq / free_slow_rseq) run
// on nearly every operation (arrays of 1-2 entries) while a tuner swaps and
// frees every CPU's array back to back. A slow path must never read an array
// after a remote operation retired it: AddressSanitizer builds report any
// such read (the freed array is poisoned); every build checks conservation.
TEST(CpuRemote, SlowPathsNeverReadRetiredArrays) {
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  ASSERT_EQ(numaslab_init("real"), 0);
  if (!kTsan) {
    ASSERT_STREQ(numaslab_slots_policy(), "rseq");
  }
  numaslab_cache* c = numaslab_cache_create("cpu-retired", 40, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(numaslab_tune("cpu-retired", 1, 1, 0), 0);
  std::atomic<bool> stop{false};
  std::atomic<long> ops{0}, bad{0};
  std::vector<std::thread> ws;
  for (int w = 0; w < 6; ++w) {
    ws.emplace_back([&] {
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        void* a = numaslab_cache_alloc(c);
        void* b = numaslab_cache_alloc(c);
        void* d = numaslab_cache_alloc(c);
        if (!a || !b || !d) ++bad;
        numaslab_cache_free(c, a);
        numaslab_cache_free(c, b);
        numaslab_cache_free(c, d);
        ++n;
      }
      ops += n;
    });
  }
  long tunes = 0;
  std::thread tuner([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (numaslab_tune("cpu-retired", 1 + tunes % 2, 1, 0) != 0) ++bad;
      ++tunes;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  stop.store(true);
  tuner.join();
  for (auto& t : ws) t.join();
  printf("[ retired ] %ld alloc/free rounds, %ld tunes, rseq aborts %llu\n", ops.load(), tunes,
         static_cast<unsigned long long>(detail::rseq_aborts()));
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(tunes, 100);
  VerifyResult vr = verify();
  EXPECT_EQ(vr.errors, 0) << vr.report;
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

}  // namespace
}  // namespace numaslab::stress_test
