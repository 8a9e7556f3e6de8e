// Idle arrays under growth (cache/idle_drain.cc): every kIdleDrainEveryBytes
// a CPU grows caches by, the arrays not used since its last such drain — the
// CPU's own and its node's shared arrays — give their objects back to their
// slabs; arrays in use, the growing cache's and other CPUs' keep theirs.
#include <vector>

#include "cache_test_util.h"

namespace numaslab::detail {
namespace {

using namespace testing_cache;

// 512-byte objects: the CPU's array holds 256 of them at most, so 300 freed
// leave some in the shared array; 150 KiB of slabs, less than a drain period,
// so setting up does not drain.
constexpr std::size_t kObjectSize = 512;
constexpr int kIdleObjects = 300;

// Objects of k that take `bytes` of slabs.
int objects_for_bytes(Cache* k, std::uint64_t bytes) {
  const std::uint64_t slab = std::uint64_t{kPageSize} << k->geo.order;
  return static_cast<int>((bytes + slab - 1) / slab * k->geo.num);
}

// A cache whose objects went back to CPU 0's array and the node's shared
// array, then left alone.
numaslab_cache* idle_cache(const char* name, int objects = kIdleObjects) {
  numaslab_cache* c = numaslab_cache_create(name, kObjectSize, 0, 0, nullptr);
  std::vector<void*> v = alloc_n(c, objects);
  free_all(c, v);
  return c;
}

// Grows `grower` by `periods` drain periods in half-period steps, calling
// between(step) after each.
template <class F>
std::vector<void*> grow_by(numaslab_cache* grower, int periods, F between) {
  std::vector<void*> all;
  for (int step = 0; step < 2 * periods; ++step) {
    std::vector<void*> v =
        alloc_n(grower, objects_for_bytes(raw(grower), kIdleDrainEveryBytes / 2));
    all.insert(all.end(), v.begin(), v.end());
    between(step);
  }
  return all;
}

void expect_verified() {
  char buf[512];
  EXPECT_EQ(numaslab_verify(buf, sizeof buf), 0) << buf;
}

TEST(IdleDrain, ArraysIdleWhileAnotherCacheGrowsGiveTheirObjectsBack) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* busy = idle_cache("idle-busy", 40);
  numaslab_cache* idle = idle_cache("idle-drained");
  Cache* ki = raw(idle);
  Cache* kb = raw(busy);
  ASSERT_GT(slot_view(ki, 0).avail, 0u) << "the test needs objects in the CPU's array";
  ASSERT_GT(node_view(ki, 0).shared_avail, 0u) << "the test needs objects in the shared array";
  ASSERT_GT(slot_view(kb, 0).avail, 0u);

  numaslab_cache* grower = numaslab_cache_create("idle-grower", 4096, 0, 0, nullptr);
  // Three drain periods: the first drain may only note that a cache was used
  // since the one before; a later one finds the idle cache unused. The busy
  // one is used all along, from its array.
  std::vector<void*> g = grow_by(grower, 3, [&](int) {
    void* p = numaslab_cache_alloc(busy);
    ASSERT_NE(p, nullptr);
    numaslab_cache_free(busy, p);
  });

  EXPECT_EQ(slot_view(ki, 0).avail, 0u) << "CPU 0's idle array kept its objects";
  const NodeView n = node_view(ki, 0);
  EXPECT_EQ(n.shared_avail, 0u) << "the idle shared array kept its objects";
  EXPECT_EQ(n.partial + n.full, 0u) << "objects of the idle cache are still out of their slabs";
  EXPECT_GT(slot_view(kb, 0).avail, 0u) << "a cache in use lost its array";

  free_all(grower, g);
  expect_verified();
  numaslab_cache_destroy(grower);
  numaslab_cache_destroy(busy);
  numaslab_cache_destroy(idle);
}

TEST(IdleDrain, AnotherCpusArrayIsLeftToItsCpu) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  // The idle objects on CPU 1 (node 0, as CPU 0); the growth on CPU 0.
  ASSERT_EQ(numaslab_bind_thread_to_cpu(1), 0);
  numaslab_cache* idle = idle_cache("idle-cpu1");
  Cache* ki = raw(idle);
  const std::uint32_t on_cpu1 = slot_view(ki, 1).avail;
  ASSERT_GT(on_cpu1, 0u);
  ASSERT_GT(node_view(ki, 0).shared_avail, 0u);
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);

  numaslab_cache* grower = numaslab_cache_create("idle-grower0", 4096, 0, 0, nullptr);
  std::vector<void*> g = grow_by(grower, 3, [](int) {});

  // Stopping CPU 1's array would interrupt CPU 1: its objects wait for CPU 1
  // or the reaper. The node's shared array is the growing CPU's to drain.
  EXPECT_EQ(slot_view(ki, 1).avail, on_cpu1);
  EXPECT_EQ(node_view(ki, 0).shared_avail, 0u);

  free_all(grower, g);
  expect_verified();
  numaslab_cache_destroy(grower);
  numaslab_cache_destroy(idle);
}

TEST(IdleDrain, UseBetweenTwoDrainsKeepsAnArrayAndEachObserverClearsItsOwnMark) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* idle = idle_cache("idle-marks");
  Cache* ki = raw(idle);
  const std::uint32_t cpu_avail = slot_view(ki, 0).avail;
  const std::uint32_t shared_avail = node_view(ki, 0).shared_avail;
  ASSERT_GT(cpu_avail, 0u);
  ASSERT_GT(shared_avail, 0u);
  ArrayCache* sh = node_view(ki, 0).shared;
  ASSERT_NE(sh, nullptr);

  // As a refill from the shared array leaves it, and a drain that saw the
  // CPU's array used (the first one notes it).
  {
    LockGuard<SpinLock> g(ki->node(0)->list_lock);
    sh->touched = kTouchedAll;
  }
  drain_idle_arrays(0, 0, nullptr);
  // Used since the last drain, both keep their objects; the shared array's
  // mark for the reaper stays.
  EXPECT_EQ(slot_view(ki, 0).avail, cpu_avail);
  EXPECT_EQ(node_view(ki, 0).shared_avail, shared_avail);
  {
    LockGuard<SpinLock> g(ki->node(0)->list_lock);
    EXPECT_EQ(sh->touched, kTouchedReaper);
  }
  // A drain for CPU 2 (node 1) on node 0 may take the node's shared array but
  // not CPU 0's.
  drain_idle_arrays(0, 2, nullptr);
  EXPECT_EQ(slot_view(ki, 0).avail, cpu_avail);
  EXPECT_EQ(node_view(ki, 0).shared_avail, 0u);
  // The needy cache keeps its array.
  drain_idle_arrays(0, 0, ki);
  EXPECT_EQ(slot_view(ki, 0).avail, cpu_avail);
  // Unused since the last drain: CPU 0's array goes.
  drain_idle_arrays(0, 0, nullptr);
  EXPECT_EQ(slot_view(ki, 0).avail, 0u);
  expect_verified();
  numaslab_cache_destroy(idle);
}

}  // namespace
}  // namespace numaslab::detail
