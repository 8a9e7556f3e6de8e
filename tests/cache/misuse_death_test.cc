// Misuse named as what it is: a destroyed cache, a stale handle, a freed
// object asked for its size, an interior pointer of another cache, a free
// page, a large or huge block freed twice, NULL arguments.
#include <cerrno>
#include <csignal>
#include <cstring>

#include "cache_test_util.h"

namespace numaslab::detail {
namespace {

using namespace testing_cache;

#define PTR "0x[0-9a-f]+"

class MisuseDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    init_sim();
    ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  }
  // A cache that was created, used and destroyed.
  numaslab_cache* destroyed(const char* name) {
    numaslab_cache* c = numaslab_cache_create(name, 64, 0, 0, nullptr);
    EXPECT_NE(c, nullptr);
    void* p = numaslab_cache_alloc(c);
    numaslab_cache_free(c, p);
    EXPECT_EQ(numaslab_cache_destroy(c), 0);
    return c;
  }
};

TEST_F(MisuseDeathTest, AllocFromADestroyedCache) {
  numaslab_cache* c = destroyed("gone");
  EXPECT_EXIT(numaslab_cache_alloc(c), ::testing::KilledBySignal(SIGABRT),
              "numaslab: fatal: numaslab_cache_alloc: cache 'gone' was destroyed");
}

TEST_F(MisuseDeathTest, AllocFromADestroyedCacheOnAnotherNode) {
  numaslab_cache* c = destroyed("gone");
  ASSERT_EQ(numaslab_bind_thread_to_cpu(3), 0);
  EXPECT_DEATH(numaslab_cache_alloc(c), "numaslab_cache_alloc: cache 'gone' was destroyed");
  EXPECT_DEATH(numaslab_cache_alloc_node(c, 0), "cache 'gone' was destroyed");
}

TEST_F(MisuseDeathTest, FreeToADestroyedCache) {
  numaslab_cache* live = numaslab_cache_create("live", 64, 0, 0, nullptr);
  numaslab_cache* c = destroyed("gone");
  void* p = numaslab_cache_alloc(live);
  EXPECT_DEATH(numaslab_cache_free(c, p), "numaslab_cache_free: cache 'gone' was destroyed");
  numaslab_cache_free(live, p);
}

TEST_F(MisuseDeathTest, ShrinkADestroyedCache) {
  numaslab_cache* c = destroyed("gone");
  EXPECT_DEATH(numaslab_cache_shrink(c), "numaslab_cache_shrink: cache 'gone' was destroyed");
}

TEST_F(MisuseDeathTest, DestroyTwice) {
  numaslab_cache* c = destroyed("gone");
  EXPECT_DEATH(numaslab_cache_destroy(c),
               "numaslab: fatal: numaslab_cache_destroy: cache 'gone' was destroyed");
}

// The descriptor of a destroyed cache is not handed to the next cache, so the
// stale handle cannot reach (and destroy) an unrelated live cache.
TEST_F(MisuseDeathTest, StaleHandleDoesNotReachANewCache) {
  numaslab_cache* old = destroyed("old");
  numaslab_cache* fresh = numaslab_cache_create("fresh", 64, 0, 0, nullptr);
  ASSERT_NE(fresh, nullptr);
  EXPECT_NE(static_cast<void*>(fresh), static_cast<void*>(old));
  EXPECT_DEATH(numaslab_cache_destroy(old), "numaslab_cache_destroy: cache 'old' was destroyed");
  // The live cache is untouched.
  void* p = numaslab_cache_alloc(fresh);
  ASSERT_NE(p, nullptr);
  numaslab_cache_free(fresh, p);
  EXPECT_EQ(numaslab_cache_destroy(fresh), 0);
  EXPECT_VERIFY_OK();
}

// Past the quarantine the descriptor may have been reused; a handle that
// reaches no live cache is still never followed: it is "not a cache", or the
// destroyed cache that reused the memory.
TEST_F(MisuseDeathTest, VeryStaleHandleIsStillCaught) {
  numaslab_cache* old = destroyed("old");
  for (int i = 0; i < 80; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "churn%d", i);
    destroyed(name);
  }
  EXPECT_DEATH(numaslab_cache_destroy(old), "numaslab_cache_destroy: (" PTR
                                            " is not a cache|cache 'churn[0-9]+' was destroyed)");
  EXPECT_VERIFY_OK();
}

TEST_F(MisuseDeathTest, QuarantineKeepsVerifyClean) {
  for (int i = 0; i < 100; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "q%d", i);
    destroyed(name);
  }
  EXPECT_VERIFY_OK();
}

// A freed object waiting in an array still looks allocated at
// NUMASLAB_CHECK=fast (objects out of their slab share one state there).
class MisuseFullDeathTest : public MisuseDeathTest {
 protected:
  void SetUp() override {
    setenv("NUMASLAB_CHECK", "full", 1);
    MisuseDeathTest::SetUp();
  }
};

TEST_F(MisuseFullDeathTest, KsizeOfAFreedObject) {
  void* p = numaslab_kmalloc(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(numaslab_ksize(p), 112u);
  numaslab_kfree(p);
  EXPECT_DEATH(numaslab_ksize(p), "numaslab_ksize: " PTR
                                  " is not allocated: it was freed or never "
                                  "handed out \\(cache 'kmalloc-112'\\)");
}

TEST_F(MisuseDeathTest, KsizeOfAFreedObjectBackInItsSlab) {
  void* keep = numaslab_kmalloc(100);
  void* p = numaslab_kmalloc(100);
  ASSERT_NE(keep, nullptr);
  ASSERT_EQ(page_lookup(keep)->slab, page_lookup(p)->slab) << "same slab, so it stays alive";
  numaslab_kfree(p);
  numaslab_reap();  // p back in its slab (the slab stays: keep is in it)
  EXPECT_DEATH(numaslab_ksize(p), "numaslab_ksize: " PTR
                                  " is not allocated: it was freed or never "
                                  "handed out \\(cache 'kmalloc-112'\\)");
  numaslab_kfree(keep);
}

TEST_F(MisuseDeathTest, KsizeOfAnInteriorPointer) {
  char* p = static_cast<char*>(numaslab_kmalloc(100));
  EXPECT_DEATH(numaslab_ksize(p + 8), "numaslab_ksize: " PTR " is an interior pointer");
  numaslab_kfree(p);
}

TEST_F(MisuseDeathTest, InteriorPointerOfAnotherCacheIsNamedInterior) {
  numaslab_cache* pg = numaslab_cache_create("pg", 4096, 4096, 0, nullptr);
  char* q = static_cast<char*>(numaslab_kmalloc(224));
  EXPECT_DEATH(numaslab_cache_free(pg, q + 1),
               "numaslab_cache_free: " PTR
               " is not the start of an object: it lies inside a slab "
               "of cache 'kmalloc-224' \\(freed to cache 'pg'\\)");
  numaslab_kfree(q);
}

// The report's case: the byte before a page-aligned object, when the page
// before it belongs to another cache's slab.
TEST_F(MisuseDeathTest, ByteBeforeAPageAlignedObject) {
  numaslab_cache* pg = numaslab_cache_create("pg", 4096, 4096, 0, nullptr);
  char* hit = nullptr;
  for (int i = 0; i < 512 && !hit; ++i) {
    (void)numaslab_kmalloc(224);
    auto* p = static_cast<char*>(numaslab_cache_alloc(pg));
    PageDesc* d = page_lookup(p - 1);
    if (d && d->kind == PageKind::kSlab && d->owner != raw(pg)) hit = p;
  }
  ASSERT_NE(hit, nullptr) << "no pg object follows another cache's page";
  EXPECT_DEATH(numaslab_cache_free(pg, hit - 1),
               "numaslab_cache_free: " PTR
               " is not the start of an object: it lies inside a slab "
               "of cache '[a-z0-9-]+' \\(freed to cache 'pg'\\)");
}

TEST_F(MisuseDeathTest, ObjectOfAnotherCacheIsNamedByOwner) {
  numaslab_cache* a = numaslab_cache_create("a", 64, 0, 0, nullptr);
  numaslab_cache* b = numaslab_cache_create("b", 64, 0, 0, nullptr);
  void* p = numaslab_cache_alloc(a);
  EXPECT_DEATH(numaslab_cache_free(b, p),
               "numaslab_cache_free: " PTR " belongs to cache 'a', freed to cache 'b'");
  numaslab_cache_free(a, p);
}

TEST_F(MisuseDeathTest, KmallocBlockFreedToACache) {
  numaslab_cache* a = numaslab_cache_create("a", 64, 0, 0, nullptr);
  void* p = numaslab_kmalloc(100000);
  EXPECT_DEATH(numaslab_cache_free(a, p),
               "numaslab_cache_free: " PTR " is a kmalloc block, not an object of cache 'a'");
  numaslab_kfree(p);
}

// A free page numaslab never handed out is not a "double free".
TEST_F(MisuseDeathTest, KfreeOfANeverAllocatedPage) {
  char* p = static_cast<char*>(numaslab_kmalloc(64 * 1024));
  ASSERT_NE(p, nullptr);
  PageDesc* d = page_lookup(p);
  SegmentHeader* seg = segment_of(d);
  char* free_page = nullptr;
  for (std::uint32_t i = d->index + 1; i < kPagesPerSegment && !free_page; ++i)
    if (seg->pages[i].kind == PageKind::kFree || seg->pages[i].kind == PageKind::kFreeTail)
      free_page = static_cast<char*>(page_address(&seg->pages[i]));
  ASSERT_NE(free_page, nullptr);
  EXPECT_DEATH(numaslab_kfree(free_page),
               "numaslab_kfree: " PTR
               " was never returned by numaslab \\(it points into free memory\\)");
  EXPECT_DEATH(numaslab_ksize(free_page), "numaslab_ksize: " PTR " was never returned by numaslab");
  numaslab_kfree(p);
}

TEST_F(MisuseDeathTest, LargeBlockFreedTwice) {
  void* p = numaslab_kmalloc(100000);
  ASSERT_NE(p, nullptr);
  numaslab_kfree(p);
  EXPECT_DEATH(numaslab_kfree(p),
               "numaslab_kfree: double free of " PTR " \\(a 100000-byte block, already freed\\)");
}

TEST_F(MisuseDeathTest, HugeBlockFreedTwice) {
  void* p = numaslab_kmalloc(8 << 20);
  ASSERT_NE(p, nullptr);
  numaslab_kfree(p);
  EXPECT_DEATH(numaslab_kfree(p),
               "numaslab_kfree: double free of " PTR " \\(a 8388608-byte block, already freed\\)");
  EXPECT_DEATH(numaslab_ksize(p), "numaslab_ksize: " PTR
                                  " is not an allocated object \\(a 8388608-byte "
                                  "block, already freed\\)");
}

// A block handed out again at the same address is not reported.
TEST_F(MisuseDeathTest, ReusedAddressIsNotADoubleFree) {
  void* p = numaslab_kmalloc(100000);
  numaslab_kfree(p);
  void* q = numaslab_kmalloc(100000);
  ASSERT_NE(q, nullptr);
  numaslab_kfree(q);  // not fatal whether or not q == p
  EXPECT_VERIFY_OK();
}

TEST_F(MisuseDeathTest, NullArguments) {
  // Lengths only, nothing written.
  const std::size_t n = numaslab_slabinfo(nullptr, 100);
  EXPECT_GT(n, 100u);
  EXPECT_GT(numaslab_slabinfo_json(nullptr, 100), 100u);
  numaslab_get_hotplug_stats(nullptr);  // documented no-op
  EXPECT_EQ(numaslab_tune(nullptr, 1, 1, 0), -EINVAL);
  EXPECT_EQ(numaslab_slabinfo_write(nullptr), -EINVAL);
  EXPECT_EQ(numaslab_cache_destroy(nullptr), -EINVAL);
  errno = 0;
  EXPECT_EQ(numaslab_cache_create(nullptr, 64, 0, 0, nullptr), nullptr);
  EXPECT_EQ(errno, EINVAL);
  numaslab_kfree(nullptr);
  EXPECT_EQ(numaslab_ksize(nullptr), 0u);
  EXPECT_EQ(numaslab_node_of(nullptr), -EINVAL);
  EXPECT_EQ(numaslab_verify(nullptr, 100), 0);
  EXPECT_EQ(numaslab_cache_name(nullptr), nullptr);
  EXPECT_VERIFY_OK();
}

}  // namespace
}  // namespace numaslab::detail
