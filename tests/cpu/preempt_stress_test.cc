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

#include "cpu_test_util.h"

namespace numaslab::cpu_test {
namespace {

constexpr int kCaches = 3;
constexpr std::size_t kCacheSizes[kCaches] = {32, 200, 1100};

struct Obj {
  void* p;
  int kind;  // 0..kCaches-1: cache, kCaches: kmalloc
  std::uint32_t size;
  std::uint32_t owner;
  std::uint64_t serial;
};

struct Mailbox {
  std::mutex mu;
  std::vector<Obj> objs;
};

struct Totals {
  std::atomic<long> allocs{0}, frees{0}, cross{0}, failures{0}, oom{0};
  std::mutex mu;
  std::string first_failure;
  void fail(const std::string& why) {
    if (failures.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> g(mu);
      first_failure = why;
    }
  }
};

void ctor_fill(void* p) { static_cast<Stamp*>(p)->owner = 0xc0c0; }

void run_stress(int threads, std::chrono::milliseconds duration, bool churn, bool signals,
                Totals* tot, std::uint64_t* signals_sent) {
  const int ncpu = numaslab_num_possible_cpus();
  numaslab_cache* caches[kCaches];
  for (int i = 0; i < kCaches; ++i) {
    std::string name = "cpu-stress-" + std::to_string(kCacheSizes[i]);
    caches[i] = numaslab_cache_create(name.c_str(), kCacheSizes[i], 0, 0, i == 1 ? ctor_fill : nullptr);
    ASSERT_NE(caches[i], nullptr) << name;
  }
  std::vector<Mailbox> boxes(static_cast<std::size_t>(threads));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> serial{1};
  std::atomic<int> done{0};

  auto do_free = [&](const Obj& o, std::uint32_t me) {
    std::string why;
    if (!unstamp(o.p, o.owner, o.size, o.serial, &why)) tot->fail(why + " (freed by " + std::to_string(me) + ")");
    if (o.kind < kCaches) numaslab_cache_free(caches[o.kind], o.p);
    else numaslab_kfree(o.p);
    tot->frees.fetch_add(1, std::memory_order_relaxed);
  };

  SignalStorm::install();
  SignalStorm::ncpus.store(ncpu);
  SignalStorm::migrate.store(signals);
  SignalStorm storm;
  std::vector<std::thread> ts;
  std::atomic<int> ready{0};
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      const auto me = static_cast<std::uint32_t>(t);
      std::mt19937_64 rng(0x9e3779b97f4a7c15ull * (t + 1));
      AffinityChurn aff(ncpu);
      std::vector<Obj> mine;
      mine.reserve(512);
      ready.fetch_add(1);
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (churn) aff.maybe(std::chrono::microseconds(1000));
        const unsigned op = static_cast<unsigned>(rng() % 16);
        if ((op < 7 && mine.size() < 400) || mine.empty()) {
          Obj o;
          o.kind = static_cast<int>(rng() % (kCaches + 1));
          if (o.kind < kCaches) {
            o.size = static_cast<std::uint32_t>(kCacheSizes[o.kind]);
            o.p = numaslab_cache_alloc(caches[o.kind]);
          } else {
            o.size = static_cast<std::uint32_t>(24 + rng() % 3000);
            o.p = numaslab_kmalloc(o.size);
          }
          if (!o.p) {
            tot->oom.fetch_add(1);
            continue;
          }
          o.owner = me;
          o.serial = serial.fetch_add(1, std::memory_order_relaxed);
          std::string why;
          if (!stamp(o.p, o.owner, o.size, o.serial, &why)) tot->fail(why);
          tot->allocs.fetch_add(1, std::memory_order_relaxed);
          mine.push_back(o);
        } else if (op < 14) {
          std::size_t k = rng() % mine.size();
          Obj o = mine[k];
          mine[k] = mine.back();
          mine.pop_back();
          if (op == 13) {
            // Cross-thread free: another thread frees it (maybe on another
            // CPU, maybe of another node's array).
            auto& box = boxes[static_cast<std::size_t>(rng() % static_cast<unsigned>(threads))];
            std::lock_guard<std::mutex> g(box.mu);
            box.objs.push_back(o);
            tot->cross.fetch_add(1, std::memory_order_relaxed);
          } else {
            do_free(o, me);
          }
        } else {
          std::vector<Obj> got;
          {
            std::lock_guard<std::mutex> g(boxes[me].mu);
            got.swap(boxes[me].objs);
          }
          for (const Obj& o : got) do_free(o, me);
        }
        ++n;
      }
      for (const Obj& o : mine) do_free(o, me);
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
  *signals_sent = signals ? storm.stop() : 0;
  for (auto& t : ts) t.join();
  for (auto& b : boxes)
    for (const Obj& o : b.objs) do_free(o, 999);

  EXPECT_EQ(tot->failures.load(), 0) << tot->first_failure;
  EXPECT_EQ(tot->oom.load(), 0);
  EXPECT_EQ(tot->allocs.load(), tot->frees.load());
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
  Totals tot;
  std::uint64_t sent = 0;
  const std::uint64_t aborts_before = detail::rseq_aborts();
  run_stress(threads, std::chrono::milliseconds(kTsan ? 1500 : 3000), true, true, &tot, &sent);
  const std::uint64_t aborts = detail::rseq_aborts() - aborts_before;
  printf("[ stress ] policy %s, %d threads, %ld allocs, %ld frees (%ld cross-thread), "
         "%llu signals sent, %llu handled (%llu migrated in the handler), rseq aborts %llu\n",
         numaslab_slots_policy(), threads, tot.allocs.load(), tot.frees.load(), tot.cross.load(),
         static_cast<unsigned long long>(sent),
         static_cast<unsigned long long>(SignalStorm::handled.load()),
         static_cast<unsigned long long>(SignalStorm::migrations.load()),
         static_cast<unsigned long long>(aborts));
  RecordProperty("rseq_aborts", std::to_string(aborts));
  EXPECT_GT(tot.cross.load(), 1000);
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
  Totals tot;
  std::uint64_t sent = 0;
  const std::uint64_t aborts_before = detail::rseq_aborts();
  run_stress(4 * numaslab_num_possible_cpus(), std::chrono::milliseconds(1500), false, false, &tot,
             &sent);
  printf("[ stress ] no signals: %ld allocs, rseq aborts %llu\n", tot.allocs.load(),
         static_cast<unsigned long long>(detail::rseq_aborts() - aborts_before));
}

}  // namespace
}  // namespace numaslab::cpu_test
