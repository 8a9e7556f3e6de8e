// Tests for base/lock.h: SpinLock, Mutex, LockGuard and the lock-rank validator.
#include "base/lock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace numaslab::detail {
namespace {

class LockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    set_lock_validation(true);
    ASSERT_TRUE(detail::lock_validation_enabled());
    ASSERT_EQ(validator_held_count(), 0);
  }
  void TearDown() override {
    EXPECT_EQ(validator_held_count(), 0) << "a test leaked a held lock";
    set_lock_validation(false);
  }
};

using LockDeathTest = LockTest;

TEST_F(LockTest, CorrectOrderPassesAndCountsHeldLocks) {
  Mutex reg(LockRank::kRegistry, LockName{"registry_mutex", nullptr, -1});
  SpinLock slot(LockRank::kSlot, LockName{"cpu_slot", "dentry", 3});
  SpinLock alien(LockRank::kAlien, LockName{"alien", "dentry", 1});
  SpinLock list(LockRank::kListLock, LockName{"list_lock", "dentry", 0});
  SpinLock pages(LockRank::kPages, LockName{"page_lock", nullptr, 0});
  SpinLock segs(LockRank::kSegments, LockName{"segment_lock", nullptr, -1});

  reg.lock();
  EXPECT_EQ(validator_held_count(), 1);
  EXPECT_TRUE(reg.held_by_me());
  slot.lock();
  alien.lock();
  list.lock();
  pages.lock();
  segs.lock();
  EXPECT_EQ(validator_held_count(), 6);
  EXPECT_TRUE(slot.is_locked());
  segs.unlock();
  pages.unlock();
  list.unlock();
  EXPECT_EQ(validator_held_count(), 3);
  alien.unlock();
  slot.unlock();
  EXPECT_FALSE(slot.is_locked());
  reg.unlock();
  EXPECT_FALSE(reg.held_by_me());
  EXPECT_EQ(validator_held_count(), 0);
}

TEST_F(LockTest, SkippingRanksIsFine) {
  Mutex reg(LockRank::kRegistry);
  SpinLock list(LockRank::kListLock);
  SpinLock segs(LockRank::kSegments);
  reg.lock();
  list.lock();
  segs.lock();
  EXPECT_EQ(validator_held_count(), 3);
  segs.unlock();
  list.unlock();
  reg.unlock();
}

TEST_F(LockTest, ReleaseOutOfOrderKeepsBookkeepingRight) {
  SpinLock a(LockRank::kSlot), b(LockRank::kAlien), c(LockRank::kListLock);
  a.lock();
  b.lock();
  c.lock();
  b.unlock();  // middle first
  EXPECT_EQ(validator_held_count(), 2);
  a.unlock();
  EXPECT_EQ(validator_held_count(), 1);
  // With only c held, a lower-ranked lock is still refused — but after c is
  // released, a and b can be taken again in order.
  c.unlock();
  EXPECT_EQ(validator_held_count(), 0);
  a.lock();
  b.lock();
  EXPECT_EQ(validator_held_count(), 2);
  b.unlock();
  a.unlock();
}

TEST_F(LockTest, ReacquireAfterReleaseIsNotRecursive) {
  SpinLock l(LockRank::kListLock);
  for (int i = 0; i < 100; ++i) {
    l.lock();
    EXPECT_EQ(validator_held_count(), 1);
    l.unlock();
  }
  EXPECT_EQ(validator_held_count(), 0);
}

TEST_F(LockTest, LockGuardReleases) {
  SpinLock a(LockRank::kSlot), b(LockRank::kListLock);
  {
    LockGuard<SpinLock> ga(a);
    EXPECT_TRUE(a.is_locked());
    {
      LockGuard<SpinLock> gb(b);
      EXPECT_EQ(validator_held_count(), 2);
    }
    EXPECT_FALSE(b.is_locked());
    EXPECT_EQ(validator_held_count(), 1);
  }
  EXPECT_FALSE(a.is_locked());
  EXPECT_EQ(validator_held_count(), 0);
}

TEST_F(LockTest, TryLockSuccessIsRecordedFailureIsNot) {
  SpinLock slot(LockRank::kSlot), list(LockRank::kListLock);
  ASSERT_TRUE(slot.try_lock());
  EXPECT_EQ(validator_held_count(), 1);
  // Recursive try_lock of a held spin lock simply fails; nothing recorded.
  EXPECT_FALSE(slot.try_lock());
  EXPECT_EQ(validator_held_count(), 1);
  ASSERT_TRUE(list.try_lock());
  EXPECT_EQ(validator_held_count(), 2);
  list.unlock();
  slot.unlock();
  EXPECT_EQ(validator_held_count(), 0);

  Mutex m(LockRank::kRegistry);
  ASSERT_TRUE(m.try_lock());
  EXPECT_TRUE(m.held_by_me());
  EXPECT_EQ(validator_held_count(), 1);
  m.unlock();
  EXPECT_EQ(validator_held_count(), 0);
}

TEST_F(LockTest, TryLockContendedFailsWithoutBookkeeping) {
  SpinLock l(LockRank::kAlien);
  Mutex m(LockRank::kRegistry);
  std::atomic<int> phase{0};
  std::thread holder([&] {
    set_lock_validation(true);
    m.lock();
    l.lock();
    EXPECT_EQ(validator_held_count(), 2);  // per-thread bookkeeping
    phase.store(1);
    while (phase.load() != 2) std::this_thread::yield();
    l.unlock();
    m.unlock();
    EXPECT_EQ(validator_held_count(), 0);
  });
  while (phase.load() != 1) std::this_thread::yield();
  EXPECT_EQ(validator_held_count(), 0) << "another thread's locks counted here";
  EXPECT_FALSE(l.try_lock());
  EXPECT_FALSE(m.try_lock());
  EXPECT_FALSE(m.held_by_me());
  EXPECT_EQ(validator_held_count(), 0);
  phase.store(2);
  holder.join();
  // Both free again: the same try_locks now succeed and are recorded.
  ASSERT_TRUE(m.try_lock());
  ASSERT_TRUE(l.try_lock());
  EXPECT_EQ(validator_held_count(), 2);
  l.unlock();
  m.unlock();
  EXPECT_EQ(validator_held_count(), 0);
}

TEST_F(LockTest, ValidationIsPerThread) {
  // Thread A holds a list_lock; thread B may take a slot lock meanwhile.
  SpinLock list(LockRank::kListLock), slot(LockRank::kSlot);
  list.lock();
  std::thread b([&] {
    set_lock_validation(true);
    slot.lock();
    EXPECT_EQ(validator_held_count(), 1);
    slot.unlock();
  });
  b.join();
  list.unlock();
}

TEST_F(LockTest, SpinLockExcludes) {
  SpinLock l(LockRank::kListLock);
  long counter = 0;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      set_lock_validation(true);
      for (int i = 0; i < 20000; ++i) {
        LockGuard<SpinLock> g(l);
        ++counter;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, 80000);
}

TEST_F(LockTest, NameAccessors) {
  SpinLock l(LockRank::kListLock);
  EXPECT_STREQ(l.name().kind, "lock");
  EXPECT_EQ(l.name().owner, nullptr);
  EXPECT_EQ(l.name().index, -1);
  l.set_name(LockName{"list_lock", "kmalloc-64", 1});
  EXPECT_STREQ(l.name().kind, "list_lock");
  EXPECT_STREQ(l.name().owner, "kmalloc-64");
  EXPECT_EQ(l.name().index, 1);
}

TEST_F(LockTest, AssertNotHeldPassesBelowRank) {
  SpinLock slot(LockRank::kSlot);
  detail::validator_assert_not_held(LockRank::kListLock, "kmalloc");
  slot.lock();
  detail::validator_assert_not_held(LockRank::kListLock, "kmalloc");  // slot < list_lock
  slot.unlock();
}

// ---- deaths ----

TEST_F(LockDeathTest, ReversalNamesBothLocks) {
  EXPECT_DEATH(
      {
        SpinLock list(LockRank::kListLock, LockName{"list_lock", "dentry_cache", 1});
        SpinLock slot(LockRank::kSlot, LockName{"cpu_slot", "inode_cache", 3});
        list.lock();
        slot.lock();
      },
      "numaslab: fatal: lock validator: order violation: acquiring "
      "cpu_slot\\(inode_cache, #3\\) rank 20 while holding list_lock\\(dentry_cache, #1\\) "
      "rank 40");
}

TEST_F(LockDeathTest, MutexUnderSpinLockDies) {
  EXPECT_DEATH(
      {
        SpinLock alien(LockRank::kAlien, LockName{"alien", "task_struct", 0});
        Mutex reg(LockRank::kRegistry, LockName{"registry_mutex", nullptr, -1});
        alien.lock();
        reg.lock();
      },
      "acquiring registry_mutex rank 10 while holding alien\\(task_struct, #0\\) rank 30");
}

TEST_F(LockDeathTest, TwoLocksOfTheSameRankDie) {
  // The seed bug's shape: a second list_lock (another cache's, e.g. freeing
  // metadata into its own cache) under a list_lock.
  EXPECT_DEATH(
      {
        SpinLock a(LockRank::kListLock, LockName{"list_lock", "kmalloc-1024", 0});
        SpinLock b(LockRank::kListLock, LockName{"list_lock", "kmalloc-64", 1});
        a.lock();
        b.lock();
      },
      "acquiring list_lock\\(kmalloc-64, #1\\) rank 40 while holding "
      "list_lock\\(kmalloc-1024, #0\\) rank 40");
}

TEST_F(LockDeathTest, RecursiveSpinLockDies) {
  EXPECT_DEATH(
      {
        SpinLock l(LockRank::kListLock, LockName{"list_lock", "names_cache", 0});
        l.lock();
        l.lock();
      },
      "numaslab: fatal: lock validator: recursive acquisition of list_lock\\(names_cache, #0\\)");
}

TEST_F(LockDeathTest, RecursiveMutexDies) {
  EXPECT_DEATH(
      {
        Mutex m(LockRank::kRegistry, LockName{"registry_mutex", nullptr, -1});
        m.lock();
        m.lock();
      },
      "recursive acquisition of registry_mutex rank 10");
}

TEST_F(LockDeathTest, ReversalViaTryLockDies) {
  EXPECT_DEATH(
      {
        SpinLock pages(LockRank::kPages, LockName{"page_lock", nullptr, 2});
        SpinLock list(LockRank::kListLock, LockName{"list_lock", "bio", 0});
        pages.lock();
        (void)list.try_lock();
      },
      "acquiring list_lock\\(bio, #0\\) rank 40 while holding page_lock\\(#2\\) rank 50");
}

TEST_F(LockDeathTest, UnnamedLocksAreDescribedByKindAndRank) {
  EXPECT_DEATH(
      {
        SpinLock a(LockRank::kSegments);
        SpinLock b(LockRank::kPages);
        a.lock();
        b.lock();
      },
      "acquiring lock rank 50 while holding lock rank 60");
}

TEST_F(LockDeathTest, ReversalAfterReleasingOthersStillDetected) {
  // Only the locks still held count: after dropping the slot lock, holding
  // the list_lock alone still forbids taking an alien lock.
  EXPECT_DEATH(
      {
        SpinLock slot(LockRank::kSlot, LockName{"cpu_slot", "c", 0});
        SpinLock list(LockRank::kListLock, LockName{"list_lock", "c", 0});
        SpinLock alien(LockRank::kAlien, LockName{"alien", "c", 1});
        slot.lock();
        list.lock();
        slot.unlock();
        alien.lock();
      },
      "acquiring alien\\(c, #1\\) rank 30 while holding list_lock\\(c, #0\\) rank 40");
}

TEST_F(LockDeathTest, AssertNotHeldNamesTheHeldLock) {
  EXPECT_DEATH(
      {
        SpinLock list(LockRank::kListLock, LockName{"list_lock", "radix_tree_node", 1});
        list.lock();
        detail::validator_assert_not_held(LockRank::kListLock, "numaslab_kmalloc");
      },
      "numaslab: fatal: lock validator: numaslab_kmalloc called while holding "
      "list_lock\\(radix_tree_node, #1\\) rank 40");
}

// 17 locks of strictly increasing (made-up) ranks: the 17th overflows the
// validator's fixed per-thread stack.
void take_seventeen_locks() {
  static SpinLock* locks[17];
  for (int i = 0; i < 17; ++i) locks[i] = new SpinLock(static_cast<LockRank>(100 + i));
  for (auto* l : locks) l->lock();
}

TEST_F(LockDeathTest, TooManyLocksHeld) {
  EXPECT_DEATH(take_seventeen_locks(), "more than 16 locks held");
}

TEST(LockValidationSwitch, OffMeansNoBookkeepingInReleaseBuilds) {
  if (kDebug) GTEST_SKIP() << "kDebug builds validate always";
  set_lock_validation(false);
  SpinLock list(LockRank::kListLock), slot(LockRank::kSlot);
  list.lock();
  slot.lock();  // reversal, but validation is off
  EXPECT_EQ(validator_held_count(), 0);
  slot.unlock();
  list.unlock();
}

TEST(LockValidationSwitch, DebugBuildsAlwaysValidate) {
  if (!kDebug) GTEST_SKIP() << "release build";
  set_lock_validation(false);
  EXPECT_TRUE(detail::lock_validation_enabled());
  SpinLock l(LockRank::kSlot);
  l.lock();
  EXPECT_EQ(validator_held_count(), 1);
  l.unlock();
}

}  // namespace
}  // namespace numaslab::detail
