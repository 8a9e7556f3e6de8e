// Per-CPU arrays, shared arrays and alien routing, observed through the
// counters of detail::CpuSlot and detail::NodeLists (sim:2x2: CPUs 0,1 on
// node 0; CPUs 2,3 on node 1).
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <thread>
#include <vector>

#include "cache_test_util.h"

namespace numaslab::detail {
namespace {

using namespace testing_cache;

numaslab_cache* make_cache(const char* name, size_t size = 64) {
  numaslab_cache* c = numaslab_cache_create(name, size, 0, 0, nullptr);
  EXPECT_NE(c, nullptr) << name;
  return c;
}

TEST(Arrays, DefaultTunablesAndArraysPerOnlineCpu) {
  init_sim();
  numaslab_cache* c = make_cache("tunables");
  Cache* k = raw(c);
  // Small objects: up to 256 in an array, moved 60 at a time.
  EXPECT_EQ(k->limit.load(), 256u);
  EXPECT_EQ(k->batchcount.load(), 60u);
  EXPECT_EQ(k->shared.load(), 8u);
  for (int cpu = 0; cpu < 4; ++cpu) {
    SlotView v = slot_view(k, cpu);
    EXPECT_NE(v.ac, nullptr) << cpu;
    EXPECT_EQ(v.limit, 256u);
    EXPECT_EQ(v.batchcount, 60u);
    EXPECT_EQ(v.avail, 0u);
  }
  for (int n = 0; n < 2; ++n) {
    NodeView v = node_view(k, n);
    ASSERT_NE(v.nl, nullptr);
    EXPECT_EQ(v.shared, nullptr) << "a node's shared array is made at its first flush";
    EXPECT_NE(v.alien, nullptr);
    // free_limit == (1 + online CPUs of the node) * batchcount + num.
    EXPECT_EQ(v.free_limit, 3u * 60u + k->geo.num);
  }
  make_shared_arrays(k);
  for (int n = 0; n < 2; ++n) {
    NodeView v = node_view(k, n);
    EXPECT_NE(v.shared, nullptr);
    EXPECT_EQ(v.shared_limit, 8u * 60u);
  }
  // Larger objects get smaller arrays (the shape of the kernel's
  // enable_cpucache table, with more room: create.cc).
  numaslab_cache* mid = make_cache("tunables_mid", 500);
  EXPECT_EQ(raw(mid)->limit.load(), 128u);
  EXPECT_EQ(raw(mid)->batchcount.load(), 60u);
  numaslab_cache* big = make_cache("tunables_big", 2000);
  EXPECT_EQ(raw(big)->limit.load(), 64u);
  EXPECT_EQ(raw(big)->batchcount.load(), 32u);
  numaslab_cache* huge = make_cache("tunables_huge", 10000);
  EXPECT_EQ(raw(huge)->limit.load(), 8u);
  EXPECT_EQ(raw(huge)->shared.load(), 0u);
  make_shared_arrays(raw(huge));
  EXPECT_EQ(node_view(raw(huge), 0).shared, nullptr) << "shared factor 0: never one";
}

TEST(Arrays, EveryAllocationCountsExactlyOneHitOrMiss) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = make_cache("hit_miss");
  std::vector<void*> objs;
  for (int i = 0; i < 500; ++i) objs.push_back(numaslab_cache_alloc(c));
  SlotView v = slot_view(raw(c), 0);
  // Each allocation through the CPU array either hits it or misses it once.
  EXPECT_EQ(v.stats.alloc_hit + v.stats.alloc_miss, 500u)
      << "hits " << v.stats.alloc_hit << " misses " << v.stats.alloc_miss << " (slabs grown "
      << slabs_grown(raw(c)) << ")";
  for (void* p : objs) numaslab_cache_free(c, p);
  v = slot_view(raw(c), 0);
  EXPECT_EQ(v.stats.free_hit + v.stats.free_miss, 500u);
}

TEST(Arrays, FirstAllocOnAFreshCacheIsAMiss) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = make_cache("fresh_miss");
  void* p = numaslab_cache_alloc(c);
  ASSERT_NE(p, nullptr);
  SlotView v = slot_view(raw(c), 0);
  EXPECT_EQ(v.stats.alloc_hit, 0u);
  EXPECT_EQ(v.stats.alloc_miss, 1u) << "one allocation, one miss (the grow is not a second miss)";
  numaslab_cache_free(c, p);
}

TEST(Arrays, RefillTakesAPartialBatchFirstThenFullBatches) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = make_cache("refill");
  Cache* k = raw(c);
  const std::uint32_t batch = k->batchcount.load();
  const std::uint32_t num = k->geo.num;
  ASSERT_GT(batch, kBatchRefillLimit);
  ASSERT_GT(num, kBatchRefillLimit);

  std::vector<void*> objs;
  objs.push_back(numaslab_cache_alloc(c));
  SlotView v = slot_view(k, 0);
  // An untouched array refills at most BATCHREFILL_LIMIT objects.
  EXPECT_EQ(v.avail, kBatchRefillLimit - 1);
  EXPECT_EQ(v.touched, 1u);
  EXPECT_EQ(slabs_grown(k), 1u);
  const std::uint64_t misses = v.stats.alloc_miss;

  for (std::uint32_t i = 1; i < kBatchRefillLimit; ++i) objs.push_back(numaslab_cache_alloc(c));
  v = slot_view(k, 0);
  EXPECT_EQ(v.avail, 0u);
  EXPECT_EQ(v.stats.alloc_hit, kBatchRefillLimit - 1);
  EXPECT_EQ(v.stats.alloc_miss, misses);

  // The next refill (array touched) asks for a whole batch; the node has only
  // the rest of the first slab, and a refill takes what the node has.
  objs.push_back(numaslab_cache_alloc(c));
  v = slot_view(k, 0);
  EXPECT_EQ(v.stats.alloc_miss, misses + 1);
  const std::uint32_t rest = num - kBatchRefillLimit;
  EXPECT_EQ(v.avail, (rest < batch ? rest : batch) - 1);
  EXPECT_EQ(slabs_grown(k), 1u) << "a refill that found objects does not grow";
  NodeView nv = node_view(k, 0);
  EXPECT_EQ(nv.full, 1u);
  EXPECT_EQ(nv.free_objects, 0u);
  EXPECT_EQ(nv.stats.active, num) << "objects in the CPU array count as out of the slabs";

  // All the objects came from node 0 and are distinct.
  for (void* p : objs) EXPECT_EQ(numaslab_node_of(p), 0);
  for (void* p : objs) numaslab_cache_free(c, p);
  EXPECT_VERIFY_OK();
}

TEST(Arrays, RefillPrefersTheSharedArray) {
  init_sim();
  numaslab_cache* c = make_cache("refill_shared");
  Cache* k = raw(c);
  // CPU 1 allocates and frees enough to push a batch into node 0's shared array.
  ASSERT_EQ(numaslab_bind_thread_to_cpu(1), 0);
  std::vector<void*> objs;
  for (std::uint32_t i = 0; i < k->limit.load() + 3 * k->batchcount.load(); ++i)
    objs.push_back(numaslab_cache_alloc(c));
  for (void* p : objs) numaslab_cache_free(c, p);
  NodeView before = node_view(k, 0);
  ASSERT_GE(before.shared_avail, k->batchcount.load());
  // CPU 0 (same node) refills from the shared array without touching slabs.
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  void* p = numaslab_cache_alloc(c);
  ASSERT_NE(p, nullptr);
  NodeView after = node_view(k, 0);
  SlotView v = slot_view(k, 0);
  const std::uint32_t took = before.shared_avail - after.shared_avail;
  EXPECT_EQ(took, kBatchRefillLimit) << "an untouched array takes a partial batch";
  EXPECT_EQ(v.avail, took - 1);
  EXPECT_EQ(after.stats.list_allocs, before.stats.list_allocs) << "no object taken from slabs";
  EXPECT_EQ(after.free_objects, before.free_objects);
  numaslab_cache_free(c, p);
  EXPECT_VERIFY_OK();
}

TEST(Arrays, FullArrayFlushesOneBatchToTheSharedArray) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = make_cache("flush");
  Cache* k = raw(c);
  const std::uint32_t limit = k->limit.load(), batch = k->batchcount.load();
  std::vector<void*> objs;
  for (std::uint32_t i = 0; i < limit + 300; ++i) objs.push_back(numaslab_cache_alloc(c));
  SlotView v0 = slot_view(k, 0);
  const std::uint32_t start = v0.avail;
  ASSERT_EQ(node_view(k, 0).shared, nullptr) << "no flush yet, no shared array";

  std::size_t next = 0;
  for (std::uint32_t i = start; i < limit; ++i) numaslab_cache_free(c, objs[next++]);
  SlotView v = slot_view(k, 0);
  EXPECT_EQ(v.avail, limit);
  EXPECT_EQ(v.stats.free_hit, limit - start);
  EXPECT_EQ(v.stats.free_miss, 0u);
  EXPECT_EQ(node_view(k, 0).shared, nullptr);

  numaslab_cache_free(c, objs[next++]);  // limit + 1: one flush, which makes the shared array
  v = slot_view(k, 0);
  EXPECT_EQ(v.stats.free_miss, 1u);
  EXPECT_EQ(v.avail, limit - batch + 1);
  NodeView nv = node_view(k, 0);
  ASSERT_NE(nv.shared, nullptr);
  EXPECT_EQ(nv.shared_limit, k->shared.load() * batch);
  EXPECT_EQ(nv.shared_avail, batch) << "the oldest batch went to the shared array";
  EXPECT_EQ(node_view(k, 1).shared, nullptr) << "never to another node";
  while (next < objs.size()) numaslab_cache_free(c, objs[next++]);
  EXPECT_VERIFY_OK();
}

TEST(Arrays, FlushGoesToTheSlabsOnceTheSharedArrayIsFull) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  ScopedSurplusRoom no_surplus(0);  // free_limit alone decides (surplus: NodeListsSurplus)
  numaslab_cache* c = make_cache("flush_full");
  Cache* k = raw(c);
  const std::uint32_t limit = k->limit.load(), batch = k->batchcount.load();
  const std::uint32_t shared_limit = k->shared.load() * batch;  // made at the first flush
  const std::uint32_t num = k->geo.num;
  std::vector<void*> objs;
  for (int i = 0; i < 2000; ++i) objs.push_back(numaslab_cache_alloc(c));
  std::size_t next = 0;
  // Free until the shared array is full and the CPU array is full again.
  while (next < objs.size() &&
         (node_view(k, 0).shared_avail < shared_limit || slot_view(k, 0).avail < limit))
    numaslab_cache_free(c, objs[next++]);
  ASSERT_LT(next, objs.size());
  NodeView before = node_view(k, 0);
  ASSERT_EQ(before.shared_avail, shared_limit);
  const std::uint64_t misses = slot_view(k, 0).stats.free_miss;
  numaslab_cache_free(c, objs[next++]);
  NodeView after = node_view(k, 0);
  EXPECT_EQ(slot_view(k, 0).stats.free_miss, misses + 1);
  EXPECT_EQ(after.shared_avail, shared_limit);
  // The batch went back to the slabs (surplus empty slabs are destroyed).
  EXPECT_EQ(after.free_objects + after.stats.destroyed * num,
            before.free_objects + before.stats.destroyed * num + batch);
  EXPECT_EQ(after.stats.active, before.stats.active - batch);
  while (next < objs.size()) numaslab_cache_free(c, objs[next++]);
  // free_limit bounds what the node keeps in *free* slabs: an emptied slab is
  // destroyed when the node already has more than free_limit free objects.
  NodeView end = node_view(k, 0);
  EXPECT_LE(end.free * num, end.free_limit + num);
  EXPECT_GT(end.stats.destroyed, 0u);
  EXPECT_VERIFY_OK();
}

TEST(Arrays, SameNodeFreeOnAnotherCpuUsesThatCpusArray) {
  init_sim();
  numaslab_cache* c = make_cache("same_node");
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  std::vector<void*> objs;
  for (int i = 0; i < 50; ++i) objs.push_back(numaslab_cache_alloc(c));
  ASSERT_EQ(numaslab_bind_thread_to_cpu(1), 0);
  for (void* p : objs) numaslab_cache_free(c, p);
  SlotView v1 = slot_view(raw(c), 1);
  EXPECT_EQ(v1.stats.free_hit, 50u);
  EXPECT_EQ(v1.stats.remote_frees, 0u);
  EXPECT_EQ(v1.avail, 50u);
  EXPECT_EQ(node_view(raw(c), 0).alien_avail[1], 0u);
  EXPECT_VERIFY_OK();
}

TEST(Arrays, RemoteFreesQueueInTheAlienArrayAndOverflowHome) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = make_cache("alien");
  Cache* k = raw(c);
  make_shared_arrays(k);                            // as if node 1's CPUs had flushed already
  const int n = static_cast<int>(kAlienLimit) + 1;  // 13
  std::vector<void*> objs;
  for (int i = 0; i < n; ++i) {
    void* p = numaslab_cache_alloc_node(c, 1);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(numaslab_node_of(p), 1);
    objs.push_back(p);
  }
  SlotView v = slot_view(k, 0);
  EXPECT_EQ(v.stats.alloc_hit + v.stats.alloc_miss, 0u)
      << "alloc_node(remote) bypasses the CPU array";
  EXPECT_EQ(v.avail, 0u);
  EXPECT_EQ(node_view(k, 1).stats.node_allocs, static_cast<std::uint64_t>(n));
  const std::uint32_t shared1 = node_view(k, 1).shared_avail;

  for (int i = 0; i < n - 1; ++i) numaslab_cache_free(c, objs[i]);
  v = slot_view(k, 0);
  EXPECT_EQ(v.stats.remote_frees, static_cast<std::uint64_t>(n - 1));
  EXPECT_EQ(v.stats.alien_overflows, 0u);
  EXPECT_EQ(v.stats.free_hit, 0u);
  EXPECT_EQ(v.avail, 0u) << "a remote object never enters the local CPU array";
  EXPECT_EQ(node_view(k, 0).alien_avail[1], kAlienLimit);
  EXPECT_EQ(node_view(k, 1).shared_avail, shared1);

  numaslab_cache_free(c, objs[n - 1]);  // the 13th overflows the alien array
  v = slot_view(k, 0);
  EXPECT_EQ(v.stats.remote_frees, static_cast<std::uint64_t>(n));
  EXPECT_EQ(v.stats.alien_overflows, 1u);
  EXPECT_EQ(node_view(k, 0).alien_avail[1], 1u);
  EXPECT_EQ(node_view(k, 1).shared_avail, shared1 + kAlienLimit)
      << "the drained batch went to the home node's shared array first";
  EXPECT_VERIFY_OK();
  // shrink drains the alien arrays home too.
  EXPECT_EQ(numaslab_cache_shrink(c), 0);
  EXPECT_EQ(node_view(k, 0).alien_avail[1], 0u);
  EXPECT_VERIFY_OK();
}

TEST(Arrays, RemoteObjectFreedOnItsHomeNodeIsLocal) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = make_cache("home_free");
  std::vector<void*> objs;
  for (int i = 0; i < 20; ++i) objs.push_back(numaslab_cache_alloc_node(c, 1));
  ASSERT_EQ(numaslab_bind_thread_to_cpu(3), 0);
  for (void* p : objs) numaslab_cache_free(c, p);
  SlotView v = slot_view(raw(c), 3);
  EXPECT_EQ(v.stats.free_hit, 20u);
  EXPECT_EQ(v.stats.remote_frees, 0u);
  EXPECT_EQ(v.avail, 20u);
  // And an object of node 0 freed on node 1 is remote there.
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  void* p = numaslab_cache_alloc(c);
  ASSERT_EQ(numaslab_node_of(p), 0);
  ASSERT_EQ(numaslab_bind_thread_to_cpu(2), 0);
  numaslab_cache_free(c, p);
  EXPECT_EQ(slot_view(raw(c), 2).stats.remote_frees, 1u);
  EXPECT_EQ(node_view(raw(c), 1).alien_avail[0], 1u);
  EXPECT_VERIFY_OK();
}

TEST(Arrays, AllocNodeOnTheLocalNodeUsesTheCpuArray) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(2), 0);
  numaslab_cache* c = make_cache("local_node");
  Cache* k = raw(c);
  std::vector<void*> objs;
  for (int i = 0; i < 30; ++i) {
    void* p = numaslab_cache_alloc_node(c, 1);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(numaslab_node_of(p), 1);
    objs.push_back(p);
  }
  SlotView v = slot_view(k, 2);
  EXPECT_GE(v.stats.alloc_hit, 20u) << "served from CPU 2's array";
  EXPECT_EQ(node_view(k, 1).stats.node_allocs, 0u) << "not counted as a node-direct allocation";
  errno = 0;
  EXPECT_EQ(numaslab_cache_alloc_node(c, 2), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(numaslab_cache_alloc_node(c, -1), nullptr);
  EXPECT_EQ(errno, EINVAL);
  for (void* p : objs) numaslab_cache_free(c, p);
  EXPECT_VERIFY_OK();
}

// alloc_node(c, n) with n the caller's node is served from the caller's CPU
// array. If the thread is moved to another node while it is inside the
// allocator (here: its CPU, the last of node 0, goes down while a
// constructor runs during a grow), the object must still come from node 0,
// which still has memory (R1) — not from the node the thread landed on.
std::atomic<bool> g_down_in_ctor{false};
std::atomic<int> g_down_rc{1};
void ctor_that_downs_cpu0(void*) {
  if (g_down_in_ctor.exchange(false)) {
    // Another thread takes CPU 0 down meanwhile (no numaslab lock is held
    // while constructors run).
    std::thread([] { g_down_rc = numaslab_cpu_down(0); }).join();
  }
}

TEST(Arrays, AllocNodeKeepsItsNodeWhenTheThreadMigrates) {
  init_sim();
  numaslab_cache* c = numaslab_cache_create("migrating_alloc", 64, 0, 0, ctor_that_downs_cpu0);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(numaslab_cpu_down(1), 0);  // CPU 0 is node 0's last CPU
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  g_down_in_ctor = true;
  void* p = numaslab_cache_alloc_node(c, 0);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(g_down_rc.load(), 0);
  EXPECT_EQ(numaslab_current_node(), 1) << "the thread was migrated to node 1";
  EXPECT_EQ(numaslab_node_of(p), 0) << "asked for node 0, which has memory";
  numaslab_cache_free(c, p);
  ASSERT_EQ(numaslab_cpu_up(0), 0);
  ASSERT_EQ(numaslab_cpu_up(1), 0);
  EXPECT_VERIFY_OK();
}

TEST(Arrays, NodeOfReportsTheHomeNode) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  for (int node = 0; node < 2; ++node) {
    for (size_t size :
         {size_t{8}, size_t{100}, size_t{5000}, size_t{32768}, size_t{100000}, size_t{3} << 20}) {
      void* p = numaslab_kmalloc_node(size, node);
      ASSERT_NE(p, nullptr) << size;
      EXPECT_EQ(numaslab_node_of(p), node) << "size " << size;
      numaslab_kfree(p);
    }
  }
  int local = 0;
  EXPECT_EQ(numaslab_node_of(&local), -EINVAL);
  void* m = std::malloc(64);
  EXPECT_EQ(numaslab_node_of(m), -EINVAL);
  std::free(m);
  EXPECT_EQ(numaslab_node_of(nullptr), -EINVAL);
  errno = 0;
  EXPECT_EQ(numaslab_kmalloc_node(64, 2), nullptr);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(numaslab_kmalloc_node(64, -1), nullptr);
}

TEST(Arrays, FreeLimitFollowsOnlineCpus) {
  init_sim();
  numaslab_cache* c = make_cache("free_limit");
  Cache* k = raw(c);
  const std::uint64_t batch = k->batchcount.load(), num = k->geo.num;
  EXPECT_EQ(node_view(k, 0).free_limit, 3 * batch + num);
  ASSERT_EQ(numaslab_cpu_down(1), 0);
  EXPECT_EQ(node_view(k, 0).free_limit, 2 * batch + num);
  EXPECT_EQ(node_view(k, 1).free_limit, 3 * batch + num);
  EXPECT_EQ(slot_view(k, 1).ac, nullptr);
  EXPECT_VERIFY_OK();
  ASSERT_EQ(numaslab_cpu_up(1), 0);
  EXPECT_EQ(node_view(k, 0).free_limit, 3 * batch + num);
  EXPECT_NE(slot_view(k, 1).ac, nullptr);
  EXPECT_VERIFY_OK();
}

// The seed's case: the last CPU of node 1 goes down; node 1's lists survive
// (R1), other CPUs keep allocating node-1 memory and freeing to it.
TEST(Arrays, LastCpuOfANodeDownKeepsItsListsUsable) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = make_cache("seed_case", 200);
  Cache* k = raw(c);
  std::vector<void*> live;
  ASSERT_EQ(numaslab_bind_thread_to_cpu(3), 0);
  for (int i = 0; i < 100; ++i) live.push_back(numaslab_cache_alloc(c));  // node 1 objects
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  EXPECT_EQ(numaslab_cpu_online(3), 0);
  NodeView nv = node_view(k, 1);
  ASSERT_NE(nv.nl, nullptr) << "node lists live as long as the cache";
  EXPECT_EQ(nv.shared, nullptr);
  EXPECT_EQ(nv.alien, nullptr);
  EXPECT_EQ(nv.free_limit, 1 * k->batchcount.load() + k->geo.num);
  EXPECT_VERIFY_OK();

  for (int i = 0; i < 200; ++i) {
    void* p = numaslab_cache_alloc_node(c, 1);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(numaslab_node_of(p), 1);
    live.push_back(p);
  }
  for (void* p : live) numaslab_cache_free(c, p);  // from CPU 0: alien, then home
  live.clear();
  void* big = numaslab_kmalloc_node(100000, 1);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(numaslab_node_of(big), 1);
  numaslab_kfree(big);
  EXPECT_VERIFY_OK();

  ASSERT_EQ(numaslab_cpu_up(3), 0);
  nv = node_view(k, 1);
  EXPECT_EQ(nv.shared, nullptr) << "made again at the node's first flush";
  EXPECT_NE(nv.alien, nullptr);
  ASSERT_EQ(numaslab_bind_thread_to_cpu(3), 0);
  void* p = numaslab_cache_alloc(c);
  EXPECT_EQ(numaslab_node_of(p), 1);
  numaslab_cache_free(c, p);
  ASSERT_EQ(numaslab_cpu_up(2), 0);
  EXPECT_VERIFY_OK();
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

TEST(Arrays, SimThreadMigratesWhenItsCpuGoesDown) {
  init_sim();
  numaslab_cache* c = make_cache("migrate");
  ASSERT_EQ(numaslab_bind_thread_to_cpu(1), 0);
  void* a = numaslab_cache_alloc(c);
  ASSERT_EQ(numaslab_cpu_down(1), 0);
  EXPECT_EQ(numaslab_current_cpu(), 0) << "same node first";
  EXPECT_EQ(numaslab_bind_thread_to_cpu(1), -ENODEV);
  void* b = numaslab_cache_alloc(c);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(numaslab_node_of(b), 0);
  numaslab_cache_free(c, a);
  numaslab_cache_free(c, b);
  EXPECT_GE(slot_view(raw(c), 0).stats.free_hit, 2u);
  ASSERT_EQ(numaslab_cpu_down(0), 0);
  EXPECT_EQ(numaslab_current_node(), 1) << "no CPU left on node 0";
  EXPECT_EQ(numaslab_cpu_down(0), -EALREADY);
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  EXPECT_EQ(numaslab_cpu_down(3), -EBUSY) << "the last online CPU";
  EXPECT_EQ(numaslab_cpu_up(7), -EINVAL);
  EXPECT_EQ(numaslab_cpu_up(3), -EALREADY);
  EXPECT_VERIFY_OK();
  for (int cpu : {0, 1, 2}) ASSERT_EQ(numaslab_cpu_up(cpu), 0);
  EXPECT_VERIFY_OK();
}

}  // namespace
}  // namespace numaslab::detail
