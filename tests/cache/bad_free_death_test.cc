// Heap corruption by the caller is detected and named, never followed: one
// line on stderr ("numaslab: fatal: ..."), then abort.
#include <csignal>
#include <cstdlib>
#include <vector>

#include "cache_test_util.h"

namespace numaslab::detail {
namespace {

using namespace testing_cache;

#define PTR "0x[0-9a-f]+"

class BadFreeDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    init_sim();
    ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
    victim_ = numaslab_cache_create("victim", 96, 0, 0, nullptr);
    ASSERT_NE(victim_, nullptr);
  }
  numaslab_cache* victim_ = nullptr;
};

// The same at NUMASLAB_CHECK=full, which catches a double free at once.
class BadFreeFullDeathTest : public BadFreeDeathTest {
 protected:
  void SetUp() override {
    setenv("NUMASLAB_CHECK", "full", 1);
    BadFreeDeathTest::SetUp();
  }
};

TEST_F(BadFreeDeathTest, CacheFreeOfAStackPointer) {
  int on_stack[4] = {};
  EXPECT_EXIT(numaslab_cache_free(victim_, on_stack), ::testing::KilledBySignal(SIGABRT),
              "numaslab: fatal: numaslab_cache_free: " PTR
              " was never returned by numaslab \\(cache 'victim'\\)");
}

TEST_F(BadFreeDeathTest, CacheFreeOfAMallocPointer) {
  void* m = std::malloc(96);
  EXPECT_DEATH(numaslab_cache_free(victim_, m),
               "numaslab_cache_free: " PTR " was never returned by numaslab \\(cache 'victim'\\)");
  std::free(m);
}

TEST_F(BadFreeDeathTest, KfreeOfAStackPointer) {
  char on_stack[32];
  EXPECT_DEATH(numaslab_kfree(on_stack),
               "numaslab: fatal: numaslab_kfree: " PTR " was never returned by numaslab");
}

TEST_F(BadFreeDeathTest, KfreeOfAMallocPointer) {
  void* m = std::malloc(4000);
  EXPECT_DEATH(numaslab_kfree(m), "numaslab_kfree: " PTR " was never returned by numaslab");
  std::free(m);
}

TEST_F(BadFreeDeathTest, KfreeOfAStaticPointer) {
  static char in_data[64];
  EXPECT_DEATH(numaslab_kfree(in_data), "numaslab_kfree: " PTR " was never returned by numaslab");
}

TEST_F(BadFreeFullDeathTest, ImmediateDoubleFree) {
  void* p = numaslab_cache_alloc(victim_);
  ASSERT_NE(p, nullptr);
  numaslab_cache_free(victim_, p);
  EXPECT_DEATH(numaslab_cache_free(victim_, p),
               "numaslab: fatal: numaslab_cache_free: double free of " PTR " \\(cache 'victim'\\)");
}

TEST_F(BadFreeFullDeathTest, DoubleFreeFromAnotherCpuAndNode) {
  void* p = numaslab_cache_alloc(victim_);
  numaslab_cache_free(victim_, p);
  ASSERT_EQ(numaslab_bind_thread_to_cpu(3), 0);
  EXPECT_DEATH(numaslab_cache_free(victim_, p),
               "numaslab_cache_free: double free of " PTR " \\(cache 'victim'\\)");
}

TEST_F(BadFreeFullDeathTest, DoubleFreeAfterTheObjectWentBackToItsSlab) {
  void* keep = numaslab_cache_alloc(victim_);
  void* p = numaslab_cache_alloc(victim_);
  ASSERT_EQ(page_lookup(keep)->slab, page_lookup(p)->slab) << "same slab, so it stays alive";
  numaslab_cache_free(victim_, p);
  // shrink drains every array into the slabs: p is free *in its slab* now.
  EXPECT_EQ(numaslab_cache_shrink(victim_), 1);
  auto* s = static_cast<Slab*>(page_lookup(p)->slab);
  std::int64_t idx = slab_object_index(raw(victim_)->geo, s, p);
  ASSERT_GE(idx, 0);
  ASSERT_NE(s->load_bufctl(static_cast<std::uint32_t>(idx)), kBufctlCached);
  ASSERT_NE(s->load_bufctl(static_cast<std::uint32_t>(idx)), kBufctlUser);
  EXPECT_DEATH(numaslab_cache_free(victim_, p),
               "numaslab_cache_free: double free of " PTR " \\(cache 'victim'\\)");
}

TEST_F(BadFreeFullDeathTest, KfreeDoubleFree) {
  void* p = numaslab_kmalloc(100);
  numaslab_kfree(p);
  EXPECT_DEATH(numaslab_kfree(p), "numaslab_kfree: double free of " PTR " \\(cache 'kmalloc-112'\\)");
}

// NUMASLAB_CHECK=fast: the second free is taken; the double free is caught
// when the two copies go back to their slab, named as what it is.
// Runs at NUMASLAB_CHECK=fast whatever the environment says.
class BadFreeFastDeathTest : public BadFreeDeathTest {
 protected:
  void SetUp() override {
    setenv("NUMASLAB_CHECK", "fast", 1);
    BadFreeDeathTest::SetUp();
  }
};

TEST_F(BadFreeFastDeathTest, DoubleFreeAtFastIsCaughtWhenItGoesBackToItsSlab) {
  void* keep = numaslab_cache_alloc(victim_);
  void* p = numaslab_cache_alloc(victim_);
  ASSERT_NE(keep, nullptr);
  numaslab_cache_free(victim_, p);
  numaslab_cache_free(victim_, p);  // not caught here at this level
  EXPECT_DEATH(numaslab_cache_shrink(victim_),
               "numaslab: fatal: cache 'victim': double free of " PTR
               " \\(found already free in its slab on node 0\\)");
}

TEST_F(BadFreeFastDeathTest, KfreeDoubleFreeAtFastIsCaughtWhenItGoesBackToItsSlab) {
  void* p = numaslab_kmalloc(100);
  numaslab_kfree(p);
  numaslab_kfree(p);
  EXPECT_DEATH(numaslab_cache_shrink(pub(kmalloc_cache(size_class(100)))),
               "cache 'kmalloc-112': double free of " PTR);
}

TEST_F(BadFreeDeathTest, FreeToTheWrongCacheNamesBoth) {
  numaslab_cache* other = numaslab_cache_create("other_cache", 96, 0, 0, nullptr);
  ASSERT_NE(other, nullptr);
  void* p = numaslab_cache_alloc(other);
  EXPECT_DEATH(numaslab_cache_free(victim_, p),
               "numaslab: fatal: numaslab_cache_free: " PTR
               " belongs to cache 'other_cache', freed to cache 'victim'");
}

TEST_F(BadFreeDeathTest, KmallocObjectFreedToAUserCache) {
  void* p = numaslab_kmalloc(96);
  EXPECT_DEATH(numaslab_cache_free(victim_, p),
               "numaslab_cache_free: " PTR " belongs to cache 'kmalloc-96', freed to cache 'victim'");
}

TEST_F(BadFreeDeathTest, CacheFreeOfAnInteriorPointer) {
  auto* p = static_cast<char*>(numaslab_cache_alloc(victim_));
  EXPECT_DEATH(numaslab_cache_free(victim_, p + 8),
               "numaslab: fatal: numaslab_cache_free: " PTR
               " is an interior pointer, not the start of an object \\(cache 'victim'\\)");
  EXPECT_DEATH(numaslab_cache_free(victim_, p + 95), "is an interior pointer");
}

TEST_F(BadFreeDeathTest, CacheFreeOfTheSlabManagementArea) {
  void* p = numaslab_cache_alloc(victim_);
  auto* s = static_cast<Slab*>(page_lookup(p)->slab);
  ASSERT_FALSE(raw(victim_)->geo.off_slab);
  EXPECT_DEATH(numaslab_cache_free(victim_, s), "is an interior pointer");
}

TEST_F(BadFreeDeathTest, KfreeOfAnInteriorPointer) {
  auto* p = static_cast<char*>(numaslab_kmalloc(100));
  EXPECT_DEATH(numaslab_kfree(p + 16),
               "numaslab_kfree: " PTR
               " is an interior pointer, not the start of an object \\(cache 'kmalloc-112'\\)");
}

TEST_F(BadFreeDeathTest, KfreeOfALargeBlocksInteriorPointer) {
  auto* p = static_cast<char*>(numaslab_kmalloc(100000));
  ASSERT_NE(p, nullptr);
  EXPECT_DEATH(numaslab_kfree(p + 100),
               "numaslab: fatal: numaslab_kfree: " PTR
               " is an interior pointer of a 100000-byte block");
  EXPECT_DEATH(numaslab_kfree(p + 3 * kPageSize),
               "numaslab_kfree: " PTR " is an interior pointer of a large block");
}

TEST_F(BadFreeDeathTest, KfreeDoubleFreeOfALargeBlock) {
  void* p = numaslab_kmalloc(100000);
  ASSERT_NE(p, nullptr);
  numaslab_kfree(p);
  EXPECT_DEATH(numaslab_kfree(p),
               "numaslab_kfree: double free of " PTR " \\(a 100000-byte block, already freed\\)");
}

TEST_F(BadFreeDeathTest, KfreeOfAHugeBlocksInteriorPointer) {
  auto* p = static_cast<char*>(numaslab_kmalloc(std::size_t{3} << 20));
  ASSERT_NE(p, nullptr);
  EXPECT_DEATH(numaslab_kfree(p + 64), "numaslab_kfree: " PTR " is an interior pointer of a huge block");
  EXPECT_DEATH(numaslab_kfree(p + (1 << 20)), "numaslab_kfree: " PTR " is an interior pointer");
}

TEST_F(BadFreeDeathTest, KfreeDoubleFreeOfAHugeBlock) {
  void* p = numaslab_kmalloc(std::size_t{3} << 20);
  ASSERT_NE(p, nullptr);
  numaslab_kfree(p);
  EXPECT_DEATH(numaslab_kfree(p),
               "numaslab_kfree: double free of " PTR " \\(a 3145728-byte block, already freed\\)");
}

TEST_F(BadFreeDeathTest, KsizeOfAForeignPointer) {
  int local = 0;
  EXPECT_DEATH((void)numaslab_ksize(&local),
               "numaslab: fatal: numaslab_ksize: " PTR " was never returned by numaslab");
  void* m = std::malloc(10);
  EXPECT_DEATH((void)numaslab_ksize(m), "numaslab_ksize: " PTR " was never returned by numaslab");
  std::free(m);
}

TEST_F(BadFreeDeathTest, KsizeOfAFreedLargeBlock) {
  void* p = numaslab_kmalloc(100000);
  numaslab_kfree(p);
  EXPECT_DEATH((void)numaslab_ksize(p), "numaslab_ksize: " PTR " is not an allocated object");
}

TEST_F(BadFreeDeathTest, NullCache) {
  int x;
  EXPECT_DEATH(numaslab_cache_free(nullptr, &x), "numaslab: fatal: numaslab_cache_free: NULL cache");
  EXPECT_DEATH(numaslab_cache_alloc(nullptr), "numaslab_cache_alloc: NULL cache");
}

TEST_F(BadFreeDeathTest, DestroyingAKmallocCacheIsRefused) {
  EXPECT_DEATH(numaslab_cache_destroy(pub(kmalloc_cache(4))),
               "numaslab_cache_destroy: cache 'kmalloc-64' belongs to numaslab and cannot be "
               "destroyed");
  EXPECT_DEATH(numaslab_cache_destroy(pub(cache_cache())),
               "cache 'kmem_cache' belongs to numaslab");
}

TEST_F(BadFreeDeathTest, DiagnosticIsASingleLine) {
  int local = 0;
  EXPECT_EXIT(numaslab_kfree(&local), ::testing::KilledBySignal(SIGABRT),
              "^numaslab: fatal: numaslab_kfree: " PTR " was never returned by numaslab\n$");
}

}  // namespace
}  // namespace numaslab::detail
