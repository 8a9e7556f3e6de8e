// kmalloc: size classes, the large and huge paths, errors, kzalloc.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "cache_test_util.h"
#include "page/page_allocator.h"

namespace numaslab::detail {
namespace {

using namespace testing_cache;

// ---- size classes ----

int linear_class(std::size_t size) {
  for (int cls = 0; cls < kNumKmallocClasses; ++cls)
    if (class_size(cls) >= size) return cls;
  return -1;
}

TEST(SizeClass, TableAgreesWithLinearScanForEverySize) {
  for (std::size_t size = 0; size <= kKmallocMaxCached; ++size)
    ASSERT_EQ(size_class(size), linear_class(size)) << "size " << size;
  EXPECT_EQ(size_class(kKmallocMaxCached + 1), -1);
  EXPECT_EQ(size_class(100000), -1);
  EXPECT_EQ(size_class(SIZE_MAX), -1);
}

TEST(SizeClass, ClassesAreIncreasingAndDocumented) {
  const std::size_t first[] = {8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256};
  for (int i = 0; i < 13; ++i) EXPECT_EQ(class_size(i), first[i]);
  EXPECT_EQ(class_size(kNumKmallocClasses - 1), kKmallocMaxCached);
  for (int cls = 1; cls < kNumKmallocClasses; ++cls) {
    EXPECT_GT(class_size(cls), class_size(cls - 1));
    EXPECT_EQ(class_size(cls) % 16, 0u) << "16-byte alignment of every class but the first";
  }
}

TEST(SizeClass, AtMostFourClassesPerDoublingAboveSixtyFour) {
  for (std::size_t lo = 64; lo < kKmallocMaxCached; lo *= 2) {
    int n = 0;
    for (int cls = 0; cls < kNumKmallocClasses; ++cls)
      if (class_size(cls) > lo && class_size(cls) <= 2 * lo) ++n;
    EXPECT_LE(n, 4) << "(" << lo << ", " << 2 * lo << "]";
    EXPECT_GE(n, 1);
  }
  // ... which bounds the waste: below 25% of the class for every size > 64.
  for (std::size_t size = 65; size <= kKmallocMaxCached; ++size) {
    std::size_t cs = class_size(size_class(size));
    ASSERT_LT((cs - size) * 4, cs) << "size " << size << " class " << cs;
  }
}

// ---- kmalloc through the C API ----

std::vector<std::size_t> sweep_sizes() {
  std::set<std::size_t> s;
  for (std::size_t i = 0; i <= 4200; ++i) s.insert(i);
  for (std::size_t i = 4200; i <= 70000; i += 97) s.insert(i);
  for (int cls = 0; cls < kNumKmallocClasses; ++cls) {
    std::size_t c = class_size(cls);
    s.insert(c - 1);
    s.insert(c);
    s.insert(c + 1);
  }
  for (std::size_t p = 4096; p <= 65536 * 2; p *= 2) {
    s.insert(p - 1);
    s.insert(p);
    s.insert(p + 1);
  }
  return std::vector<std::size_t>(s.begin(), s.end());
}

TEST(Kmalloc, EverySizeHasRoomAlignmentAndIsWritable) {
  init_sim();
  for (std::size_t size : sweep_sizes()) {
    auto* p = static_cast<unsigned char*>(numaslab_kmalloc(size));
    ASSERT_NE(p, nullptr) << size;
    const std::size_t ks = numaslab_ksize(p);
    ASSERT_GE(ks, size);
    if (size <= kKmallocMaxCached) {
      ASSERT_EQ(ks, class_size(size_class(size))) << size;
      if (size >= 16) {
        ASSERT_EQ(addr(p) % 16, 0u) << size;
      }
      ASSERT_EQ(addr(p) % 8, 0u) << size;
    } else {
      ASSERT_EQ(addr(p) % kPageSize, 0u) << "large blocks are page aligned: " << size;
      ASSERT_EQ(ks % kPageSize, 0u);
      ASSERT_LT(ks, 2 * size + kPageSize) << "a power-of-two page run";
    }
    // Writable over all of ksize.
    std::memset(p, static_cast<int>(size & 0xff), ks);
    ASSERT_EQ(p[ks - 1], static_cast<unsigned char>(size & 0xff));
    numaslab_kfree(p);
  }
  EXPECT_VERIFY_OK();
}

TEST(Kmalloc, ZeroSizeGivesUniqueObjects) {
  init_sim();
  void* a = numaslab_kmalloc(0);
  void* b = numaslab_kmalloc(0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_GE(numaslab_ksize(a), 1u);
  numaslab_kfree(a);
  numaslab_kfree(b);
  numaslab_kfree(nullptr);  // no-op
  EXPECT_EQ(numaslab_ksize(nullptr), 0u);
}

TEST(Kmalloc, ManyLiveObjectsNeverOverlap) {
  init_sim();
  struct Block {
    unsigned char* p;
    std::size_t n;
  };
  std::vector<Block> blocks;
  unsigned seed = 1;
  for (int i = 0; i < 4000; ++i) {
    seed = seed * 1103515245u + 12345u;
    std::size_t n = (seed >> 8) % (i % 50 == 0 ? 200000 : 3000);
    auto* p = static_cast<unsigned char*>(numaslab_kmalloc(n));
    ASSERT_NE(p, nullptr);
    std::memset(p, i & 0xff, n);
    blocks.push_back({p, n});
  }
  for (std::size_t i = 0; i < blocks.size(); ++i)
    for (std::size_t b = 0; b < blocks[i].n; b += 7)
      ASSERT_EQ(blocks[i].p[b], i & 0xff) << "block " << i << " overwritten";
  for (auto& b : blocks) numaslab_kfree(b.p);
  EXPECT_VERIFY_OK();
}

TEST(Kmalloc, ClassCachesAreNamedAndUsed) {
  init_sim();
  for (int cls = 0; cls < kNumKmallocClasses; ++cls) {
    std::string name = "kmalloc-" + std::to_string(class_size(cls));
    Cache* c = find_cache(name.c_str());
    ASSERT_NE(c, nullptr) << name;
    EXPECT_EQ(c, kmalloc_cache(cls));
    EXPECT_TRUE(c->is_kmalloc);
    EXPECT_EQ(c->geo.buffer_size, class_size(cls));
    void* p = numaslab_kmalloc(class_size(cls));
    PageDesc* d = page_lookup(p);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->kind, PageKind::kSlab);
    EXPECT_EQ(d->owner, c) << name;
    numaslab_kfree(p);
  }
}

TEST(Kmalloc, LargeBlocksComeFromPageRunsAndGoBack) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  const std::size_t before = page_allocator_stats(0).pages_in_use;
  void* p = numaslab_kmalloc(1 << 20);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(addr(p) % kPageSize, 0u);
  EXPECT_EQ(numaslab_ksize(p), std::size_t{1} << 20);
  EXPECT_EQ(page_allocator_stats(0).pages_in_use, before + 256);
  PageDesc* d = page_lookup(p);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->kind, PageKind::kLargeHead);
  EXPECT_EQ(d->size, std::size_t{1} << 20);
  std::memset(p, 0x42, 1 << 20);
  numaslab_kfree(p);
  EXPECT_EQ(page_allocator_stats(0).pages_in_use, before);
  // 40000 bytes: an order-4 run.
  p = numaslab_kmalloc(40000);
  EXPECT_EQ(numaslab_ksize(p), 16 * kPageSize);
  numaslab_kfree(p);
  EXPECT_EQ(page_allocator_stats(0).pages_in_use, before);
}

TEST(Kmalloc, HugeAllocationsMapAndUnmap) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(2), 0);
  for (std::size_t size : {std::size_t{3} << 20, std::size_t{64} << 20}) {
    const PageAllocatorStats before = page_allocator_stats(1);
    auto* p = static_cast<unsigned char*>(numaslab_kmalloc(size));
    ASSERT_NE(p, nullptr) << size;
    EXPECT_EQ(addr(p) % kPageSize, 0u);
    EXPECT_GE(numaslab_ksize(p), size);
    EXPECT_EQ(numaslab_node_of(p), 1) << "local node of CPU 2";
    PageAllocatorStats during = page_allocator_stats(1);
    EXPECT_EQ(during.huge_mappings, before.huge_mappings + 1);
    EXPECT_GE(during.huge_bytes, before.huge_bytes + size);
    for (std::size_t off = 0; off < size; off += kPageSize) p[off] = 0x77;
    p[size - 1] = 0x78;
    EXPECT_EQ(p[size / 2 & ~(kPageSize - 1)], 0x77);
    numaslab_kfree(p);
    PageAllocatorStats after = page_allocator_stats(1);
    EXPECT_EQ(after.huge_mappings, before.huge_mappings) << "kfree released the mapping";
    EXPECT_EQ(after.huge_bytes, before.huge_bytes);
    EXPECT_EQ(numaslab_node_of(p), -EINVAL) << "no longer ours";
  }
}

TEST(Kmalloc, ImpossibleSizesAreEnomem) {
  init_sim();
  for (std::size_t size : {SIZE_MAX, SIZE_MAX - 4095, std::size_t{1} << 50, std::size_t{1} << 63,
                           kMaxKmallocSize + 1}) {
    errno = 0;
    EXPECT_EQ(numaslab_kmalloc(size), nullptr) << size;
    EXPECT_EQ(errno, ENOMEM) << size;
    errno = 0;
    EXPECT_EQ(numaslab_kmalloc_node(size, 1), nullptr) << size;
    EXPECT_EQ(errno, ENOMEM) << size;
    errno = 0;
    EXPECT_EQ(numaslab_kzalloc(size), nullptr) << size;
    EXPECT_EQ(errno, ENOMEM) << size;
  }
  EXPECT_VERIFY_OK();
}

TEST(Kmalloc, KzallocZeroesRecycledMemory) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(1), 0);
  // Small classes, a page run cleared, a run large enough to come from
  // released memory (page_allocator.h: kZeroedRunOrder), a mapping.
  for (std::size_t size : {std::size_t{1}, std::size_t{200}, std::size_t{3000}, std::size_t{20000},
                           std::size_t{100000}, std::size_t{1} << 20, std::size_t{3} << 20}) {
    auto* dirty = static_cast<unsigned char*>(numaslab_kmalloc(size));
    ASSERT_NE(dirty, nullptr);
    std::memset(dirty, 0xab, numaslab_ksize(dirty));
    numaslab_kfree(dirty);
    auto* z = static_cast<unsigned char*>(numaslab_kzalloc(size));
    ASSERT_NE(z, nullptr);
    if (size <= kKmallocMaxCached) {
      EXPECT_EQ(z, dirty) << "LIFO reuse on the same CPU (so the zeroing is what is tested)";
    }
    for (std::size_t i = 0; i < size; ++i) ASSERT_EQ(z[i], 0) << "size " << size << " byte " << i;
    numaslab_kfree(z);
  }
}

TEST(Kmalloc, KzallocZeroesEverySmallSize) {
  // Every size the inline clearing covers (stores of 1, 4, 8 and 16 bytes)
  // and the first ones past it (memset), each on a recycled, dirty block.
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(1), 0);
  for (std::size_t size = 0; size <= 300; ++size) {
    auto* dirty = static_cast<unsigned char*>(numaslab_kmalloc(size));
    ASSERT_NE(dirty, nullptr);
    std::memset(dirty, 0xab, numaslab_ksize(dirty));
    numaslab_kfree(dirty);
    auto* z = static_cast<unsigned char*>(numaslab_kzalloc(size));
    ASSERT_EQ(z, dirty) << "LIFO reuse on the same CPU, size " << size;
    for (std::size_t i = 0; i < size; ++i) ASSERT_EQ(z[i], 0) << "size " << size << " byte " << i;
    numaslab_kfree(z);
  }
}

TEST(Kmalloc, KmallocNodeSmallSizesHonourTheNode) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(1), 0);
  std::vector<void*> v;
  for (std::size_t size = 1; size <= kKmallocMaxCached; size = size * 3 / 2 + 1) {
    for (int node = 0; node < 2; ++node) {
      void* p = numaslab_kmalloc_node(size, node);
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(numaslab_node_of(p), node) << size;
      ASSERT_GE(numaslab_ksize(p), size);
      v.push_back(p);
    }
  }
  for (void* p : v) numaslab_kfree(p);
  EXPECT_VERIFY_OK();
}

}  // namespace
}  // namespace numaslab::detail
