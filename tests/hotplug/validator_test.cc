// The lock-rank validator proof (DESIGN.md R3/R5): the pre-patch ordering —
// freeing metadata into the kmalloc cache that holds it while holding that
// cache's list_lock — is stopped with a message naming the lock; the
// post-patch ordering (detach under the lock, free after unlocking) passes.
#include "base/lock.h"
#include "support/cache_state.h"
#include "support/handles.h"
#include "support/init.h"
#include "support/report.h"

namespace numaslab::hotplug_test {
namespace {

using namespace ::numaslab::test_support;

// The class holding a limit-120 per-CPU array.
Cache* array_holder() { return kmalloc_cache_for(ArrayCache::bytes_for(120)); }

// The pre-patch CPU_DEAD ordering: frees a metadata array into the kmalloc
// cache that holds it while holding that cache's list_lock on `node`. With
// the lock validator on this aborts, naming the list_lock; without it, it can
// self-deadlock — exactly the bug.
void free_metadata_under_list_lock(int node) {
  ArrayCache* a = detail::alloc_array(node, 120, 60);
  NodeLists* nl = array_holder()->node(node);
  nl->list_lock.lock();
  detail::free_array(a);  // re-enters the allocator under the list_lock
  nl->list_lock.unlock();
}

TEST(HotplugValidatorDeathTest, PrePatchOrderingIsStoppedNamingTheLock) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  ASSERT_STREQ(array_holder()->name, "kmalloc-1024");
  EXPECT_DEATH(
      {
        numaslab::detail::set_lock_validation(true);
        free_metadata_under_list_lock(0);
      },
      "lock validator: .*list_lock\\(kmalloc-1024, #0\\)");
}

TEST(HotplugValidatorDeathTest, MessageNamesBothLocksAndTheOrder) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  // On the remote node too: the free from CPU 0 of a node-1 array wants the
  // slot lock of CPU 0 while node 1's list_lock is held.
  EXPECT_DEATH(
      {
        numaslab::detail::set_lock_validation(true);
        free_metadata_under_list_lock(1);
      },
      "lock validator: order violation: acquiring cpu_slot\\(kmalloc-1024, #0\\) rank 20 "
      "while holding list_lock\\(kmalloc-1024, #1\\) rank 40");
}

TEST(HotplugValidator, PostPatchOrderingPasses) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  detail::set_lock_validation(true);
  for (int node = 0; node < 2; ++node) {
    ArrayCache* a = detail::alloc_array(node, 120, 60);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(numaslab_node_of(a), node);
    NodeLists* nl = array_holder()->node(node);
    ASSERT_NE(nl, nullptr);
    {
      // Detach under the lock ...
      LockGuard<SpinLock> g(nl->list_lock);
      EXPECT_EQ(detail::validator_held_count(), 1);
    }
    // ... free after unlocking.
    detail::free_array(a);
    EXPECT_EQ(detail::validator_held_count(), 0);
  }
  EXPECT_VERIFY_OK();
}

// The real DEAD and UP_PREPARE paths, with the validator forced on, never
// free into the allocator under a list_lock nor take locks out of order.
TEST(HotplugValidator, HotplugPathsPassTheValidator) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  detail::set_lock_validation(true);
  numaslab_cache* uc = numaslab_cache_create("hp_validated", 100, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  std::vector<void*> remote;
  for (int i = 0; i < 8; ++i) remote.push_back(numaslab_cache_alloc(uc));
  run_on_cpu(3, [&] {
    for (void* p : remote) numaslab_cache_free(uc, p);  // into node 1's alien array
    std::vector<void*> v;
    for (int i = 0; i < 300; ++i) v.push_back(numaslab_kmalloc(100));
    for (void* p : v) numaslab_kfree(p);  // fills CPU 3's array and node 1's shared array
  });
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(numaslab_cpu_down(2), 0);
    ASSERT_EQ(numaslab_cpu_down(3), 0);
    EXPECT_EQ(detail::validator_held_count(), 0);
    ASSERT_EQ(numaslab_cpu_up(3), 0);
    ASSERT_EQ(numaslab_cpu_up(2), 0);
    EXPECT_EQ(detail::validator_held_count(), 0);
  }
  EXPECT_VERIFY_OK();
}

}  // namespace
}  // namespace numaslab::hotplug_test
