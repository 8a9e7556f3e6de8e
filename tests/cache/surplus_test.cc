// Surplus free slabs (slab/node_lists.h, cache/surplus.cc): a slab emptied
// beyond free_limit is kept while the node's room allows, serves the next
// round without a new slab, and is destroyed when another cache on the node
// would otherwise need pages the node does not hold resident.
#include <vector>

#include "cache_test_util.h"
#include "page/page_allocator.h"

namespace numaslab::detail {
namespace {

using namespace testing_cache;

constexpr int kObjects = 2000;

std::uint64_t slab_bytes(Cache* c) { return std::uint64_t{kPageSize} << c->geo.order; }

TEST(Surplus, EmptiedSlabsStayWithinTheRoomAndServeTheNextRound) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = numaslab_cache_create("surplus-round", 1024, 0, 0, nullptr);
  Cache* k = raw(c);
  const std::uint64_t base = surplus_room(0).used();
  constexpr std::uint32_t kRoomSlabs = 4;
  ScopedSurplusRoom room(base + kRoomSlabs * slab_bytes(k));

  std::vector<void*> v = alloc_n(c, kObjects);
  const NodeView grown = node_view(k, 0);
  free_all(c, v);
  const NodeView kept = node_view(k, 0);
  // free_limit's worth of free slabs, then as many more as the room holds;
  // the rest were destroyed.
  EXPECT_EQ(kept.surplus, kRoomSlabs);
  EXPECT_EQ(surplus_room(0).used(), base + kRoomSlabs * slab_bytes(k));
  EXPECT_GT(kept.stats.destroyed, 0u);
  EXPECT_LE(kept.free_objects, kept.free_limit + std::uint64_t{kRoomSlabs + 1} * k->geo.num);

  // The next round takes the kept slabs before it builds any: it builds only
  // what was destroyed, and the surplus it used gives its room back.
  v = alloc_n(c, kObjects);
  const NodeView again = node_view(k, 0);
  EXPECT_LE(again.stats.grown - grown.stats.grown, kept.stats.destroyed);
  EXPECT_EQ(again.surplus, 0u);
  EXPECT_EQ(surplus_room(0).used(), base);
  free_all(c, v);
  EXPECT_VERIFY_OK();
}

TEST(Surplus, NoRoomDestroysEverySlabBeyondFreeLimit) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  ScopedSurplusRoom room(0);
  numaslab_cache* c = numaslab_cache_create("surplus-none", 1024, 0, 0, nullptr);
  Cache* k = raw(c);
  std::vector<void*> v = alloc_n(c, kObjects);
  free_all(c, v);
  const NodeView end = node_view(k, 0);
  EXPECT_EQ(end.surplus, 0u);
  EXPECT_LE(end.free_objects, end.free_limit + k->geo.num);
  EXPECT_VERIFY_OK();
}

TEST(Surplus, ANodeThatNeedsPagesTakesOtherCachesSurplusFirst) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* a = numaslab_cache_create("surplus-a", 1024, 0, 0, nullptr);
  numaslab_cache* b = numaslab_cache_create("surplus-b", 2000, 0, 0, nullptr);
  std::vector<void*> va = alloc_n(a, kObjects);
  free_all(a, va);
  const NodeView held = node_view(raw(a), 0);
  ASSERT_GT(held.surplus, 8u);
  const std::uint64_t used = surplus_room(0).used();
  // Node 0 holds no resident free pages now: b's new slabs would fault in
  // released ones, so a's surplus goes first, its pages serve b.
  release_idle(0, 0);
  ASSERT_EQ(page_allocator_stats(0).resident_free_pages, 0u);
  std::vector<void*> vb = alloc_n(b, 8);
  const NodeView after = node_view(raw(a), 0);
  EXPECT_LT(after.surplus, held.surplus);
  EXPECT_EQ(after.stats.reaped - held.stats.reaped, held.surplus - after.surplus);
  EXPECT_EQ(surplus_room(0).used(),
            used - std::uint64_t{held.surplus - after.surplus} * slab_bytes(raw(a)));
  // At least half of the node's room in use went, in one walk.
  EXPECT_LE(std::uint64_t{after.surplus} * slab_bytes(raw(a)), used / 2);
  free_all(b, vb);
  EXPECT_VERIFY_OK();
}

TEST(Surplus, ABusyRegistryReclaimsNothing) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* a = numaslab_cache_create("surplus-busy", 1024, 0, 0, nullptr);
  std::vector<void*> va = alloc_n(a, kObjects);
  free_all(a, va);
  const std::uint32_t held = node_view(raw(a), 0).surplus;
  ASSERT_GT(held, 0u);
  {
    LockGuard<Mutex> g(registry().mutex);
    EXPECT_EQ(reclaim_surplus(0, kPageSize), 0u);
  }
  EXPECT_EQ(node_view(raw(a), 0).surplus, held);
  // Free again: one page asked for, at least half of the room in use given.
  const std::uint64_t used = surplus_room(0).used();
  const std::uint64_t got = reclaim_surplus(0, kPageSize);
  EXPECT_GE(got, used / 2);
  EXPECT_EQ(surplus_room(0).used(), used - got);
  EXPECT_LT(node_view(raw(a), 0).surplus, held);
  EXPECT_VERIFY_OK();
}

}  // namespace
}  // namespace numaslab::detail
