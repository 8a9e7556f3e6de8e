// The per-CPU byte budget (cache/budget.cc): whatever the number of caches
// and CPUs, the objects cached in one CPU's arrays never exceed
// NUMASLAB_CPU_CACHE_BYTES, and capacity comes back when arrays go idle.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cache_test_util.h"

namespace numaslab::detail {
namespace {

using namespace testing_cache;

// Bytes the arrays of every cache hold on each CPU right now (objects, not
// capacity), read under the slot locks.
std::vector<std::uint64_t> held_per_cpu() NS_NO_THREAD_SAFETY_ANALYSIS {
  std::vector<std::uint64_t> held(static_cast<std::size_t>(topology().possible_cpus()), 0);
  LockGuard<Mutex> g(registry().mutex);
  for (Cache* c = registry().head; c; c = c->next) {
    for (int cpu = 0; cpu < topology().possible_cpus(); ++cpu) {
      CpuSlot& s = c->slot(cpu);
      LockGuard<SpinLock> gs(s.lock);
      held[static_cast<std::size_t>(cpu)] += std::uint64_t{s.avail()} * c->geo.buffer_size;
    }
  }
  return held;
}

// Bytes of capacity the arrays of every cache claim on `cpu`: what the CPU's
// account must equal.
std::uint64_t capacity_bytes(int cpu) NS_NO_THREAD_SAFETY_ANALYSIS {
  std::uint64_t bytes = 0;
  LockGuard<Mutex> g(registry().mutex);
  for (Cache* c = registry().head; c; c = c->next) {
    CpuSlot& s = c->slot(cpu);
    LockGuard<SpinLock> gs(s.lock);
    bytes += std::uint64_t{s.capacity()} * c->geo.buffer_size;
  }
  return bytes;
}

nlohmann::json slabinfo_json() { return nlohmann::json::parse(test_support::slabinfo_json()); }

TEST(Budget, BurstOnManyCpusNeverExceedsTheBudget) {
  constexpr std::uint64_t kBudget = 64 * 1024;
  setenv("NUMASLAB_CPU_CACHE_BYTES", std::to_string(kBudget).c_str(), 1);
  init_sim("sim:8x16");
  ASSERT_EQ(numaslab_num_possible_cpus(), 128);
  // Caches whose default limits together want far more than the budget on
  // every CPU: 1024 x 64 B, 256 x 256 B and 1 KiB, 64 x 4 KiB, 8 x 16 KiB.
  const std::size_t sizes[] = {64, 256, 1000, 4000, 16000};
  std::vector<numaslab_cache*> caches;
  std::uint64_t wanted = 0;
  for (std::size_t size : sizes) {
    numaslab_cache* c =
        numaslab_cache_create(("budget-" + std::to_string(size)).c_str(), size, 0, 0, nullptr);
    ASSERT_NE(c, nullptr);
    caches.push_back(c);
    wanted += std::uint64_t{raw(c)->limit.load()} * raw(c)->geo.buffer_size;
  }
  ASSERT_GT(wanted, 4 * kBudget) << "the caches must want more than the budget";

  std::vector<void*> objs;
  for (int cpu = 0; cpu < 128; ++cpu) {
    ASSERT_EQ(numaslab_bind_thread_to_cpu(cpu), 0);
    // A burst: many objects of every cache, then all of them back, plus
    // kmalloc of every class the caches do not cover.
    for (numaslab_cache* c : caches)
      for (int i = 0; i < 200; ++i) objs.push_back(numaslab_cache_alloc(c));
    for (void* p : objs) ASSERT_NE(p, nullptr);
    std::vector<void*> km;
    for (int i = 0; i < 400; ++i)
      km.push_back(numaslab_kmalloc(static_cast<std::size_t>(8 + i * 40)));
    for (void* p : km) numaslab_kfree(p);
    std::size_t k = 0;
    for (numaslab_cache* c : caches)
      for (int i = 0; i < 200; ++i) numaslab_cache_free(c, objs[k++]);
    objs.clear();
    const std::vector<std::uint64_t> held = held_per_cpu();
    EXPECT_LE(held[static_cast<std::size_t>(cpu)], kBudget) << "CPU " << cpu << " after its burst";
    EXPECT_LE(cpu_cache_bytes(cpu), kBudget) << "capacity claimed by CPU " << cpu;
    EXPECT_GT(held[static_cast<std::size_t>(cpu)], 0u) << "the arrays are used at all";
  }
  // Every CPU, at the end, and as the JSON shows it.
  const std::vector<std::uint64_t> held = held_per_cpu();
  std::uint64_t total = 0;
  for (std::uint64_t h : held) {
    EXPECT_LE(h, kBudget);
    total += h;
  }
  EXPECT_LE(total, 128 * kBudget);
  nlohmann::json j = slabinfo_json();
  EXPECT_EQ(j["cpu_cache_budget"].get<std::uint64_t>(), kBudget);
  ASSERT_EQ(j["cpu_cache_bytes"].size(), 128u);
  for (const auto& b : j["cpu_cache_bytes"]) EXPECT_LE(b.get<std::uint64_t>(), kBudget);
  EXPECT_VERIFY_OK();
  for (numaslab_cache* c : caches) EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

TEST(Budget, ASpentBudgetTakesRoomFromOtherArraysAndIdleOnesGiveItBack) {
  // 1000-byte objects: a limit of 128 (128 KiB of 1 KiB buffers).
  constexpr std::uint64_t kBudget = 192 * 1024;
  setenv("NUMASLAB_CPU_CACHE_BYTES", std::to_string(kBudget).c_str(), 1);
  init_sim("sim:1x2");
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* a = numaslab_cache_create("budget-a", 1000, 0, 0, nullptr);
  numaslab_cache* b = numaslab_cache_create("budget-b", 1000, 0, 0, nullptr);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // Start from a quiet CPU: start-up's metadata arrays go idle and give back.
  for (int i = 0; i < 4; ++i) numaslab_reap();
  const std::uint64_t quiet = cpu_cache_bytes(0);
  const std::uint32_t limit = raw(a)->limit.load();
  const std::uint64_t obj = raw(a)->geo.buffer_size;
  ASSERT_LE(quiet + limit * obj, kBudget) << "a's whole limit fits the budget";
  ASSERT_GT(quiet + 2 * limit * obj, kBudget) << "a and b together do not";
  auto burst = [limit](numaslab_cache* c) {
    std::vector<void*> v;
    for (std::uint32_t i = 0; i < limit + 10; ++i) v.push_back(numaslab_cache_alloc(c));
    for (void* p : v) numaslab_cache_free(c, p);
  };
  burst(a);
  EXPECT_EQ(slot_view(raw(a), 0).capacity, limit);
  const std::uint32_t a_held = slot_view(raw(a), 0).avail;
  // b needs room while a holds the budget: a gives back room it does not use
  // and then its oldest objects, so b reaches its limit — taking an eighth of
  // the budget (or a batch) at most every kReclaimEveryMs, not at every grow.
  burst(b);
  const std::uint32_t first = slot_view(raw(b), 0).capacity;
  EXPECT_LT(first, limit) << "one burst is one reclaim";
  for (int i = 0; i < 100 && slot_view(raw(b), 0).capacity < limit; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kReclaimEveryMs + 1));
    burst(b);
  }
  EXPECT_EQ(slot_view(raw(b), 0).capacity, limit) << "b took room from a";
  EXPECT_LT(slot_view(raw(a), 0).capacity, limit) << "a gave room back";
  EXPECT_LT(slot_view(raw(a), 0).avail, a_held) << "a's oldest objects went to their slabs";
  const std::uint64_t used = cpu_cache_bytes(0);
  EXPECT_LE(used, kBudget);
  EXPECT_VERIFY_OK();
  // ... and a that then goes idle gives the rest back to the reaper.
  for (int i = 0; i < 4; ++i) numaslab_reap();
  EXPECT_EQ(slot_view(raw(a), 0).capacity, 0u) << "idle array keeps no capacity";
  EXPECT_EQ(slot_view(raw(a), 0).avail, 0u);
  EXPECT_LT(cpu_cache_bytes(0), used);
  burst(b);
  EXPECT_LE(cpu_cache_bytes(0), kBudget);
  EXPECT_VERIFY_OK();
  EXPECT_EQ(numaslab_cache_destroy(a), 0);
  EXPECT_EQ(numaslab_cache_destroy(b), 0);
}

TEST(Budget, ArraysStartEmptyAndDoubleUpToTheirLimitAsTheyNeedRoom) {
  init_sim("sim:1x2");
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = numaslab_cache_create("budget-grow", 64, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  Cache* k = raw(c);
  EXPECT_EQ(slot_view(k, 0).capacity, 0u);
  void* p = numaslab_cache_alloc(c);
  ASSERT_NE(p, nullptr);
  SlotView v = slot_view(k, 0);
  EXPECT_EQ(v.capacity, v.batchcount) << "the first refill makes room for one batch";
  EXPECT_EQ(v.size, v.batchcount) << "the first entries block holds one batch";
  EXPECT_EQ(cpu_cache_bytes(0), capacity_bytes(0)) << "the account is the arrays' capacity";
  EXPECT_EQ(slot_view(k, 1).capacity, 0u) << "only the CPU that used it";
  numaslab_cache_free(c, p);
  EXPECT_EQ(slot_view(k, 0).capacity, v.batchcount) << "no room needed, no growth";

  // Frees into a full array double its capacity, up to the limit.
  std::vector<void*> objs;
  for (std::uint32_t i = 0; i < 2 * v.limit; ++i) objs.push_back(numaslab_cache_alloc(c));
  std::uint32_t last = slot_view(k, 0).capacity;
  std::uint32_t steps = 0;
  for (void* o : objs) {
    numaslab_cache_free(c, o);
    const std::uint32_t cap = slot_view(k, 0).capacity;
    if (cap != last) {
      ++steps;
      EXPECT_EQ(cap, std::min(2 * last, v.limit)) << "after " << last;
      EXPECT_GE(slot_view(k, 0).size, cap) << "the entries block grows with the capacity";
      EXPECT_EQ(cpu_cache_bytes(0), capacity_bytes(0));
      last = cap;
    }
  }
  EXPECT_EQ(last, v.limit);
  EXPECT_EQ(slot_view(k, 0).size, v.limit);
  EXPECT_GE(steps, 1u);
  EXPECT_LE(steps, 6u) << "a few fences to reach the limit";
  // The objects are still in use through the array: counts survive the moves.
  std::uint64_t hits = slot_view(k, 0).stats.alloc_hit;
  for (void*& o : objs) o = numaslab_cache_alloc(c);
  EXPECT_GE(slot_view(k, 0).stats.alloc_hit, hits + v.limit) << "the array's objects came back";
  for (void* o : objs) numaslab_cache_free(c, o);
  // A shrink empties the array and gives the large block back for a small one.
  numaslab_cache_shrink(c);
  EXPECT_EQ(slot_view(k, 0).capacity, 0u);
  EXPECT_EQ(slot_view(k, 0).size, v.batchcount) << "back to a first-size block";
  EXPECT_EQ(cpu_cache_bytes(0), capacity_bytes(0));
  EXPECT_VERIFY_OK();
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
  EXPECT_EQ(cpu_cache_bytes(0), capacity_bytes(0)) << "destroy gives the capacity back";
}

}  // namespace
}  // namespace numaslab::detail
