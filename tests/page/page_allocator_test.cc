// Tests for the per-node buddy page allocator (page/page_allocator.h).
#include "page/page_allocator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "base/sanitizer.h"
#include "page_test_util.h"
#include "platform/os_memory.h"
#include "support/sanitizers.h"

extern "C" int __asan_address_is_poisoned(void const volatile* addr) __attribute__((weak));

namespace numaslab::detail::testing_page {
namespace {

using testing_fakes::Call;
using testing_fakes::FakePlatform;

using PageAllocatorTest = PageTest;
using PageAllocatorDeathTest = PageTest;

TEST_F(PageAllocatorTest, EveryOrderIsNaturallyAlignedAndLabelled) {
  fresh_node(kNodeOrders);
  void* runs[kMaxRunOrder + 1];
  std::size_t pages = 0;
  for (unsigned order = 0; order <= kMaxRunOrder; ++order) {
    void* p = alloc_pages(kNodeOrders, order);
    ASSERT_NE(p, nullptr) << "order " << order;
    runs[order] = p;
    pages += std::size_t{1} << order;
    const std::size_t run_bytes = kPageSize << order;
    const std::uintptr_t off = addr_of(p) - segment_base(p);
    EXPECT_EQ(off % run_bytes, 0u) << "order " << order;
    EXPECT_GE(off, kSegmentHeaderPages * kPageSize) << "run overlaps the header";
    EXPECT_LE(off + run_bytes, kSegmentSize) << "run crosses its segment";
    PageDesc* d = page_lookup(p);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->kind, PageKind::kAllocated);
    EXPECT_EQ(d->order, order);
    EXPECT_EQ(d->node, kNodeOrders);
    if (order > 0) {
      PageDesc* last = page_lookup(static_cast<char*>(p) + run_bytes - 1);
      EXPECT_EQ(last->kind, PageKind::kTail);
      EXPECT_EQ(last->order, order);
    }
    std::memset(p, 0xab, run_bytes);  // writable, and no overlap with the others' tags below
    *static_cast<unsigned*>(p) = order;
  }
  PageAllocatorStats s = page_allocator_stats(kNodeOrders);
  EXPECT_EQ(s.pages_in_use, pages);
  EXPECT_EQ(s.pages_in_use + s.pages_free, s.segments * kDataPages);
  for (unsigned order = 0; order <= kMaxRunOrder; ++order) {
    EXPECT_EQ(*static_cast<unsigned*>(runs[order]), order);
    free_pages(runs[order], order);
  }
  s = page_allocator_stats(kNodeOrders);
  EXPECT_EQ(s.pages_in_use, 0u);
  EXPECT_EQ(s.pages_free, s.segments * kDataPages);
}

// The keep (page_allocator.h): the larger of the set bytes and half the pages
// in use. Freed blocks stay resident up to the keep; a free that takes the
// node above it releases at once, down to half the keep, also blocks freed
// just now.
TEST_F(PageAllocatorTest, FreeBlocksStayResidentUpToTheKeep) {
  constexpr int kNode = 3;
  ASSERT_NO_FATAL_FAILURE(fresh_node(kNode));
  constexpr std::size_t kKeep = std::size_t{1} << 20;  // 256 pages
  set_keep_free_bytes(kKeep);
  std::vector<void*> runs;
  for (int i = 0; i < 32; ++i) {  // 32 x 128 KiB = 4 MiB, touched
    void* p = alloc_pages(kNode, 5);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x11, kPageSize << 5);
    runs.push_back(p);
  }
  std::size_t most = 0;
  bool released = false;
  for (void* p : runs) {
    const std::size_t before = page_allocator_stats(kNode).resident_free_pages;
    free_pages(p, 5);
    const PageAllocatorStats s = page_allocator_stats(kNode);
    const std::size_t keep = std::max(kKeep >> kPageShift, s.pages_in_use >> kKeepInUseShift);
    EXPECT_LE(s.resident_free_pages, keep) << "never more than the keep stays resident";
    if (s.resident_free_pages < before) {
      released = true;
      EXPECT_LE(s.resident_free_pages, keep / 2) << "a release goes down to half the keep";
    }
    most = std::max(most, s.resident_free_pages);
  }
  EXPECT_TRUE(released) << "4 MiB of fresh frees went above a 1 MiB keep";
  EXPECT_GE(most, (kKeep >> kPageShift) - (std::size_t{1} << 5))
      << "fresh blocks stay resident up to the keep";
  // Below the keep nothing is released.
  set_keep_free_bytes(std::size_t{8} << 20);
  const std::size_t before = page_allocator_stats(kNode).resident_free_pages;
  std::vector<void*> again;
  for (int i = 0; i < 32; ++i) again.push_back(alloc_pages(kNode, 5));
  for (void* p : again) free_pages(p, 5);
  EXPECT_GE(page_allocator_stats(kNode).resident_free_pages, before)
      << "below the keep nothing is released";
  EXPECT_EQ(page_allocator_stats(kNode).pages_in_use, 0u);
}

// Above the keep, blocks free for kFreshFreeMs go back to the OS before
// fresher ones. A released block reads back as zero; a resident one keeps
// its contents (nothing writes into a free block).
TEST_F(PageAllocatorTest, OlderFreeBlocksAreReleasedBeforeFresherOnes) {
  constexpr int kNode = 3;
  ASSERT_NO_FATAL_FAILURE(fresh_node(kNode));
  constexpr std::size_t kKeep = std::size_t{2} << 20;  // 512 pages
  set_keep_free_bytes(kKeep);
  // 17 blocks of 32 pages to free, each next to one that stays allocated, so
  // that no two free blocks merge; in use throughout: at least 17 x 32
  // pages, so the keep is the set 512 pages at every free below.
  constexpr int kOld = 8, kFresh = 9;
  std::vector<unsigned char*> runs, separators;
  for (int i = 0; i < kOld + kFresh; ++i) {
    void* p = alloc_pages(kNode, 5);
    void* q = alloc_pages(kNode, 5);
    ASSERT_NE(p, nullptr);
    ASSERT_NE(q, nullptr);
    std::memset(p, 0x22, kPageSize << 5);
    runs.push_back(static_cast<unsigned char*>(p));
    separators.push_back(static_cast<unsigned char*>(q));
  }
  for (int i = 0; i < kOld; ++i) free_pages(runs[i], 5);  // 256 pages: within the keep
  EXPECT_EQ(page_allocator_stats(kNode).resident_free_pages, std::size_t{kOld} << 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(kFreshFreeMs + 20));
  // The fresh ones: the last takes the node to 544 pages, above the keep, and
  // the free releases down to 256: the 8 older blocks, then one fresh block.
  for (int i = kOld; i < kOld + kFresh; ++i) free_pages(runs[i], 5);
  EXPECT_EQ(page_allocator_stats(kNode).resident_free_pages, std::size_t{8} << 5);
  for (int i = 0; i < kOld; ++i) EXPECT_EQ(runs[i][0], 0) << "older block " << i << " released";
  int kept = 0;
  for (int i = kOld; i < kOld + kFresh; ++i) kept += runs[i][0] == 0x22;
  EXPECT_EQ(kept, kFresh - 1) << "of the fresh blocks, only what the keep has no room for went";
  for (unsigned char* q : separators) free_pages(q, 5);
  set_keep_free_bytes(std::size_t{8} << 20);
  EXPECT_EQ(page_allocator_stats(kNode).pages_in_use, 0u);
}

// Allocation takes a resident block before released ones, also when a
// released block of the same order went on the free list after it.
TEST_F(PageAllocatorTest, ResidentBlocksAreHandedOutBeforeReleasedOnes) {
  constexpr int kNode = 3;
  ASSERT_NO_FATAL_FAILURE(fresh_node(kNode));
  std::vector<void*> runs;
  for (int i = 0; i < 8; ++i) {
    void* p = alloc_pages(kNode, 3);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x40 + i, kPageSize << 3);
    runs.push_back(p);
  }
  // Two buddy pairs of ours, (x, y) and (z, w): with y and w allocated, a
  // freed x or z cannot merge.
  auto buddy_of = [&](void* p) -> void* {
    for (void* q : runs)
      if (q != p && (page_lookup(p)->index ^ 8u) == page_lookup(q)->index) return q;
    return nullptr;
  };
  void *x = nullptr, *y = nullptr, *z = nullptr, *w = nullptr;
  for (void* p : runs) {
    void* q = buddy_of(p);
    if (!q || p == y || p == w || q == x || q == z) continue;
    if (!x)
      x = p, y = q;
    else if (!z && p != x)
      z = p, w = q;
  }
  ASSERT_NE(x, nullptr);
  ASSERT_NE(z, nullptr);
  for (void* p : runs)
    if (p != x && p != y && p != z && p != w) free_pages(p, 3);
  free_pages(z, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(kFreshFreeMs + 20));
  const unsigned char tag = *static_cast<unsigned char*>(x);
  free_pages(x, 3);  // resident, and fresh
  // z (and every other old free block) is released and goes back on the
  // lists after x.
  ASSERT_GT(release_idle(kNode, kFreshFreeMs), 0u);
  ASSERT_EQ(page_allocator_stats(kNode).resident_free_pages, std::size_t{8})
      << "only x is resident";
  void* c = alloc_pages(kNode, 3);
  EXPECT_EQ(c, x) << "the resident block comes first";
  EXPECT_EQ(*static_cast<unsigned char*>(c), tag) << "its contents are still there";
  free_pages(c, 3);
  free_pages(y, 3);
  free_pages(w, 3);
  EXPECT_EQ(page_allocator_stats(kNode).pages_in_use, 0u);
}

bool reads_zero(const void* p, std::size_t bytes) {
  const auto* b = static_cast<const unsigned char*>(p);
  return std::all_of(b, b + bytes, [](unsigned char c) { return c == 0; });
}

// calloc's request: *zeroed says whether a run reads as zero, and a large
// one comes from released memory while the node has some, so it need not be
// cleared (nor faulted in to be cleared).
TEST_F(PageAllocatorTest, ZeroedRunsSayWhetherTheyReadAsZero) {
  constexpr int kNode = kNodeZeroed;
  ASSERT_NO_FATAL_FAILURE(fresh_node(kNode));
  constexpr unsigned kBig = kZeroedRunOrder;
  constexpr std::size_t kBigBytes = kPageSize << kBig;
  bool zeroed = false;
  void* dirty = alloc_pages(kNode, kBig, &zeroed);
  ASSERT_NE(dirty, nullptr);
  EXPECT_TRUE(zeroed) << "a fresh segment was never touched";
  EXPECT_TRUE(reads_zero(dirty, kBigBytes));
  std::memset(dirty, 0x5a, kBigBytes);
  free_pages(dirty, kBig);  // resident now

  // A large run for calloc: a released block, not the dirty resident one.
  zeroed = false;
  void* big = alloc_pages(kNode, kBig, &zeroed);
  ASSERT_NE(big, nullptr);
  EXPECT_NE(big, dirty) << "the dirty resident run was handed to calloc";
  EXPECT_TRUE(zeroed);
  EXPECT_TRUE(reads_zero(big, kBigBytes));
  free_pages(big, kBig);

  // Without the request, and for a small run, resident memory comes first and
  // says it may be dirty.
  void* plain = alloc_pages(kNode, kBig);
  EXPECT_EQ(plain, dirty) << "resident blocks come first for malloc";
  free_pages(plain, kBig);
  zeroed = true;
  void* small = alloc_pages(kNode, 1, &zeroed);
  ASSERT_NE(small, nullptr);
  EXPECT_FALSE(zeroed) << "a piece of the dirty resident run";
  EXPECT_GE(addr_of(small), addr_of(dirty));
  EXPECT_LT(addr_of(small), addr_of(dirty) + kBigBytes);
  free_pages(small, 1);

  // Once released, the same memory reads as zero and says so.
  ASSERT_GT(release_idle(kNode, 0), 0u);
  EXPECT_EQ(page_allocator_stats(kNode).resident_free_pages, 0u);
  zeroed = false;
  small = alloc_pages(kNode, 1, &zeroed);
  ASSERT_NE(small, nullptr);
  EXPECT_TRUE(zeroed);
  EXPECT_TRUE(reads_zero(small, kPageSize << 1));
  free_pages(small, 1);
  EXPECT_EQ(page_allocator_stats(kNode).pages_in_use, 0u);
}

// A node out of blocks maps a segment outside its lock; a large block freed
// meanwhile (its pages poisoned for a memory checker) is what the allocation
// gets once the lock is back, since resident blocks come first. It is
// addressable like any block handed out.
TEST_F(PageAllocatorTest, ABlockFreedWhileANodeMapsIsAddressableWhenHandedOut) {
  ASSERT_NO_FATAL_FAILURE(fresh_node(kNodeMapRace));
  const char* checker = "";
  (void)tools_init(&checker);
  std::vector<void*> pages;
  while (page_allocator_stats(kNodeMapRace).pages_free > 0 || pages.empty()) {
    void* p = alloc_pages(kNodeMapRace, 0);
    ASSERT_NE(p, nullptr);
    pages.push_back(p);
  }
  ASSERT_EQ(page_allocator_stats(kNodeMapRace).segments, 1u);
  void* freed = pages.back();
  pages.pop_back();
  std::memset(freed, 0x5a, kPageSize);
  FakePlatform::install();
  FakePlatform::before_next_map(
      [](void* p) {
        // What kfree does with a large block: tell the checker, then free.
        if (tools_active()) tool_free_large(p, kPageSize, /*mapped=*/false);
        free_pages(p, 0);
      },
      freed);
  void* c = alloc_pages(kNodeMapRace, 0);
  ASSERT_EQ(c, freed) << "the resident block freed during the mapping comes first";
  EXPECT_EQ(page_allocator_stats(kNodeMapRace).segments, 2u);
  if (test_support::kAsan) {
    ASSERT_NE(__asan_address_is_poisoned, nullptr);
    for (std::size_t off = 0; off < kPageSize; off += 8)
      ASSERT_EQ(__asan_address_is_poisoned(static_cast<char*>(c) + off), 0)
          << "byte " << off << " of the block handed out is still poisoned";
  }
  EXPECT_EQ(static_cast<unsigned char*>(c)[kPageSize - 1], 0x5a);
  free_pages(c, 0);
  for (void* p : pages) free_pages(p, 0);
  EXPECT_EQ(page_allocator_stats(kNodeMapRace).pages_in_use, 0u);
  trim_node(kNodeMapRace, 0);
}

TEST_F(PageAllocatorTest, OutOfRangeRequestsFailWithEnomem) {
  errno = 0;
  EXPECT_EQ(alloc_pages(kNodeOrders, kMaxRunOrder + 1), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(alloc_pages(kNodeOrders, 40), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(alloc_pages(-1, 0), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(alloc_pages(kMaxNodes, 0), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(alloc_huge(SIZE_MAX, kNodeHuge), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(alloc_huge(SIZE_MAX - kPageSize, kNodeHuge), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(alloc_huge(4 << 20, -3), nullptr);
  EXPECT_EQ(errno, ENOMEM);

  // Nodes beyond the configured count are out of range too.
  page_allocator_init(2, false);
  errno = 0;
  EXPECT_EQ(alloc_pages(2, 0), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  page_allocator_init(kMaxNodes, false);
  EXPECT_EQ(page_allocator_stats(kMaxNodes).segments, 0u);
}

TEST_F(PageAllocatorTest, ExhaustAndRefillCoalescesBack) {
  fresh_node(kNodeExhaust);
  // A whole segment's order-0 pages and then some: the node needs a second.
  const std::size_t n = kDataPages + 100;
  std::vector<void*> pages;
  std::set<void*> seen;
  for (std::size_t i = 0; i < n; ++i) {
    void* p = alloc_pages(kNodeExhaust, 0);
    ASSERT_NE(p, nullptr) << i;
    ASSERT_TRUE(seen.insert(p).second) << "page handed out twice: " << p;
    *static_cast<std::size_t*>(p) = i;
    pages.push_back(p);
  }
  PageAllocatorStats s = page_allocator_stats(kNodeExhaust);
  EXPECT_EQ(s.segments, 2u);
  EXPECT_EQ(s.pages_in_use, n);
  EXPECT_EQ(s.pages_free, 2 * kDataPages - n);

  // Free in a scrambled order so coalescing is exercised in every direction.
  std::mt19937 rng(42);
  std::shuffle(pages.begin(), pages.end(), rng);
  for (void* p : pages) free_pages(p, 0);
  s = page_allocator_stats(kNodeExhaust);
  EXPECT_EQ(s.pages_in_use, 0u);
  EXPECT_EQ(s.pages_free, s.segments * kDataPages);
  EXPECT_EQ(s.segments, 2u);

  // No fragmentation left: each segment yields its full-order block again
  // (one per segment: the 9 header pages take the other half's alignment),
  // and then exactly its initial carving of [9, 1024) =
  // 512+256+128+64+32+16+4+2+1 pages (no order-3 block), with no new segment.
  void* big[2];
  for (void*& b : big) {
    b = alloc_pages(kNodeExhaust, kMaxRunOrder);
    ASSERT_NE(b, nullptr);
  }
  EXPECT_NE(segment_base(big[0]), segment_base(big[1]));
  std::vector<std::pair<void*, unsigned>> rest;
  for (unsigned order : {8u, 7u, 6u, 5u, 4u, 2u, 1u, 0u}) {
    for (int k = 0; k < 2; ++k) {
      void* p = alloc_pages(kNodeExhaust, order);
      ASSERT_NE(p, nullptr);
      rest.emplace_back(p, order);
    }
  }
  s = page_allocator_stats(kNodeExhaust);
  EXPECT_EQ(s.segments, 2u);
  EXPECT_EQ(s.pages_free, 0u);
  EXPECT_EQ(s.pages_in_use, 2 * kDataPages);
  for (void* b : big) free_pages(b, kMaxRunOrder);
  for (auto [p, order] : rest) free_pages(p, order);
  s = page_allocator_stats(kNodeExhaust);
  EXPECT_EQ(s.pages_in_use, 0u);
  EXPECT_EQ(s.pages_free, 2 * kDataPages);
  EXPECT_EQ(trim_node(kNodeExhaust, 0), 2 * kSegmentSize);
}

TEST_F(PageAllocatorTest, SplitBlocksAreReusedBeforeNewSegments) {
  fresh_node(kNodeSplit);
  // Allocating order 0 splits large blocks; the halves serve later requests.
  void* a = alloc_pages(kNodeSplit, 0);
  void* b = alloc_pages(kNodeSplit, 4);
  void* c = alloc_pages(kNodeSplit, 8);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(page_allocator_stats(kNodeSplit).segments, 1u);
  free_pages(b, 4);
  void* d = alloc_pages(kNodeSplit, 4);
  EXPECT_EQ(d, b);  // the just-freed block is the only order-4 block
  free_pages(a, 0);
  free_pages(c, 8);
  free_pages(d, 4);
  PageAllocatorStats s = page_allocator_stats(kNodeSplit);
  EXPECT_EQ(s.pages_free, kDataPages);
  EXPECT_EQ(s.segments, 1u);
}

TEST_F(PageAllocatorTest, SlabRelabelledRunsFreeNormally) {
  fresh_node(kNodeSlabLabels);
  constexpr unsigned kOrder = 2;
  char* p = static_cast<char*>(alloc_pages(kNodeSlabLabels, kOrder));
  ASSERT_NE(p, nullptr);
  // What the slab layer does: kSlab on every page, order and node untouched.
  int cache = 0, slab = 0;
  for (unsigned i = 0; i < (1u << kOrder); ++i) {
    PageDesc* d = page_lookup(p + i * kPageSize);
    d->kind = PageKind::kSlab;
    d->owner = &cache;
    d->slab = &slab;
  }
  free_pages(p, kOrder);
  PageAllocatorStats s = page_allocator_stats(kNodeSlabLabels);
  EXPECT_EQ(s.pages_in_use, 0u);
  EXPECT_EQ(s.pages_free, kDataPages);
  EXPECT_EQ(page_lookup(p)->kind, PageKind::kFree);
}

TEST_F(PageAllocatorDeathTest, BadFreesAreFatalAndNamed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  fresh_node(kNodeDeath);
  char* p = static_cast<char*>(alloc_pages(kNodeDeath, 3));
  ASSERT_NE(p, nullptr);
  EXPECT_DEATH(free_pages(p, 2),
               "numaslab: fatal: free_pages: 0x[0-9a-f]+ is not the head of an allocated run of "
               "order 2: the run has a different order");
  EXPECT_DEATH(free_pages(p + kPageSize, 3),
               "free_pages: 0x[0-9a-f]+ is not the head of an allocated run of order 3: it points "
               "inside a run");
  EXPECT_DEATH(free_pages(p + 8, 3),
               "free_pages: 0x[0-9a-f]+ is not the head of an allocated run of order 3: it is not "
               "page aligned");
  int on_stack[1024] = {};
  void* foreign = reinterpret_cast<void*>((addr_of(on_stack) + kPageSize - 1) & ~(kPageSize - 1));
  EXPECT_DEATH(free_pages(foreign, 0), "free_pages: 0x[0-9a-f]+ .*: it is not a numaslab page");
  EXPECT_DEATH(free_pages(reinterpret_cast<void*>(segment_base(p)), 0),
               "free_pages: 0x[0-9a-f]+ .*: it is a segment header page");
  EXPECT_DEATH(free_huge(p), "free_huge: 0x[0-9a-f]+ is not a huge allocation");

  free_pages(p, 3);
  EXPECT_DEATH(free_pages(p, 3),
               "free_pages: 0x[0-9a-f]+ is not the head of an allocated run of order 3: the page "
               "is free");

  // kSlab labels every page: an interior slab page is still caught.
  char* s = static_cast<char*>(alloc_pages(kNodeDeath, 1));
  ASSERT_NE(s, nullptr);
  page_lookup(s)->kind = PageKind::kSlab;
  page_lookup(s + kPageSize)->kind = PageKind::kSlab;
  EXPECT_DEATH(free_pages(s + kPageSize, 1), "order 1: it points inside a run");
  free_pages(s, 1);
}

TEST_F(PageAllocatorDeathTest, BadHugeFreesAreFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  fresh_node(kNodeDeath);
  char* h = static_cast<char*>(alloc_huge(3 << 20, kNodeDeath));
  ASSERT_NE(h, nullptr);
  EXPECT_DEATH(free_huge(h + kPageSize), "free_huge: 0x[0-9a-f]+ is not a huge allocation");
  EXPECT_DEATH(free_pages(h, 0), "free_pages: 0x[0-9a-f]+ .*: it is in a huge allocation");
  free_huge(h);
  EXPECT_DEATH(free_huge(h), "free_huge: 0x[0-9a-f]+ is not a huge allocation");
}

TEST_F(PageAllocatorTest, HugeAllocationsMapAndUnmap) {
  fresh_node(kNodeHuge);
  const std::size_t mapped_before = os_mapped_bytes();
  const std::size_t sizes[] = {(2 << 20) + 1, 5 * (1 << 20) + 17, 64 << 20};
  for (std::size_t bytes : sizes) {
    char* p = static_cast<char*>(alloc_huge(bytes, kNodeHuge));
    ASSERT_NE(p, nullptr) << bytes;
    EXPECT_EQ(addr_of(p) % kPageSize, 0u);
    PageDesc* d = page_lookup(p);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->kind, PageKind::kHuge);
    EXPECT_EQ(d->size, bytes);
    EXPECT_EQ(d->node, kNodeHuge);
    EXPECT_TRUE(segment_of(d)->huge);
    p[0] = 1;
    p[bytes - 1] = 2;
    PageAllocatorStats s = page_allocator_stats(kNodeHuge);
    EXPECT_EQ(s.huge_mappings, 1u);
    EXPECT_GE(s.huge_bytes, bytes + kSegmentHeaderPages * kPageSize);
    EXPECT_LT(s.huge_bytes, bytes + (kSegmentHeaderPages + 1) * kPageSize);
    EXPECT_EQ(os_mapped_bytes(), mapped_before + s.huge_bytes);
    EXPECT_EQ(s.segments, 0u);  // huge mappings are not buddy segments
    free_huge(p);
    s = page_allocator_stats(kNodeHuge);
    EXPECT_EQ(s.huge_mappings, 0u);
    EXPECT_EQ(s.huge_bytes, 0u);
    EXPECT_EQ(os_mapped_bytes(), mapped_before);
    EXPECT_EQ(page_lookup(p), nullptr);
  }
}

TEST_F(PageAllocatorTest, AlignedHugeAllocationsStartAtTheirAlignment) {
  fresh_node(kNodeHuge);
  for (std::size_t align = kPageSize; align <= kMaxHugeAlign; align <<= 1) {
    const std::size_t bytes = (3 << 20) + 5;
    char* p = static_cast<char*>(alloc_huge(bytes, kNodeHuge, align));
    ASSERT_NE(p, nullptr) << align;
    EXPECT_EQ(addr_of(p) % align, 0u) << align;
    PageDesc* d = page_lookup(p);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->kind, PageKind::kHuge);
    EXPECT_EQ(page_lookup(p + kPageSize)->kind, PageKind::kTail);
    // The header's last page, or a page skipped to reach the alignment.
    EXPECT_EQ(page_lookup(p - kPageSize)->kind,
              align == kPageSize ? PageKind::kHeader : PageKind::kUnused);
    p[0] = 1;
    p[bytes - 1] = 2;
    // A remap keeps the block's offset in its mapping, so its alignment.
    char* q = static_cast<char*>(resize_huge(p, 40 << 20));
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(addr_of(q) % align, 0u) << align;
    EXPECT_EQ(q[0], 1);
    EXPECT_EQ(q[bytes - 1], 2);
    free_huge(q);
  }
  errno = 0;
  EXPECT_EQ(alloc_huge(3 << 20, kNodeHuge, 2 * kMaxHugeAlign), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(page_allocator_stats(kNodeHuge).huge_mappings, 0u);
}

TEST_F(PageAllocatorTest, MapFailureReturnsEnomemAndChangesNothing) {
  fresh_node(kNodeFault);
  const std::size_t mapped_before = os_mapped_bytes();
  FakePlatform::install();
  FakePlatform::fail_next(Call::kMap, 1);
  errno = 0;
  EXPECT_EQ(alloc_pages(kNodeFault, 0), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(FakePlatform::pending(Call::kMap), 0u);
  PageAllocatorStats s = page_allocator_stats(kNodeFault);
  EXPECT_EQ(s.segments, 0u);
  EXPECT_EQ(s.pages_in_use, 0u);
  EXPECT_EQ(s.pages_free, 0u);
  EXPECT_EQ(os_mapped_bytes(), mapped_before);

  void* p = alloc_pages(kNodeFault, 5);
  ASSERT_NE(p, nullptr);
  s = page_allocator_stats(kNodeFault);
  EXPECT_EQ(s.segments, 1u);
  EXPECT_EQ(s.pages_in_use, 32u);
  free_pages(p, 5);
}

TEST_F(PageAllocatorTest, HugeMapFailureReturnsEnomem) {
  fresh_node(kNodeHugeFault);
  FakePlatform::install();
  FakePlatform::fail_next(Call::kMap, 1);
  errno = 0;
  EXPECT_EQ(alloc_huge(8 << 20, kNodeHugeFault), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(page_allocator_stats(kNodeHugeFault).huge_mappings, 0u);
  void* h = alloc_huge(8 << 20, kNodeHugeFault);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(page_allocator_stats(kNodeHugeFault).huge_mappings, 1u);
  free_huge(h);
}

TEST_F(PageAllocatorTest, TrimReturnsFreeSegmentsOnly) {
  fresh_node(kNodeTrim);
  void* runs[3];
  for (void*& r : runs) {
    r = alloc_pages(kNodeTrim, kMaxRunOrder);  // one full-order block per segment
    ASSERT_NE(r, nullptr);
  }
  void* small = alloc_pages(kNodeTrim, 0);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(page_allocator_stats(kNodeTrim).segments, 3u);
  EXPECT_EQ(trim_node(kNodeTrim, 0), 0u) << "no segment is free yet";

  for (void* r : runs)
    if (segment_base(r) != segment_base(small)) free_pages(r, kMaxRunOrder);
  const std::size_t mapped_before = os_mapped_bytes();
  // Two segments are fully free; keep one of them.
  EXPECT_EQ(trim_node(kNodeTrim, 1), kSegmentSize);
  EXPECT_EQ(os_mapped_bytes(), mapped_before - kSegmentSize);
  PageAllocatorStats s = page_allocator_stats(kNodeTrim);
  EXPECT_EQ(s.segments, 2u);
  EXPECT_EQ(trim_node(kNodeTrim, 0), kSegmentSize);
  EXPECT_EQ(os_mapped_bytes(), mapped_before - 2 * kSegmentSize);
  s = page_allocator_stats(kNodeTrim);
  EXPECT_EQ(s.segments, 1u);
  EXPECT_EQ(s.pages_in_use, (std::size_t{1} << kMaxRunOrder) + 1);
  EXPECT_EQ(s.pages_in_use + s.pages_free, kDataPages);

  // The trimmed segments' pointers are no longer ours; the rest still works.
  for (void* r : runs) {
    if (segment_base(r) == segment_base(small)) {
      EXPECT_NE(page_lookup(r), nullptr);
      free_pages(r, kMaxRunOrder);
    } else {
      EXPECT_EQ(page_lookup(r), nullptr);
    }
  }
  free_pages(small, 0);
  EXPECT_EQ(trim_node(kNodeTrim, 0), kSegmentSize);
  s = page_allocator_stats(kNodeTrim);
  EXPECT_EQ(s.segments, 0u);
  EXPECT_EQ(s.pages_free, 0u);
  EXPECT_EQ(s.pages_in_use, 0u);
  // And the node serves again afterwards.
  void* again = alloc_pages(kNodeTrim, 3);
  ASSERT_NE(again, nullptr);
  free_pages(again, 3);
}

TEST_F(PageAllocatorTest, BindFailureIsIgnored) {
  fresh_node(kNodeBind);
  // Node 11 most likely does not exist on this machine: mbind fails, the
  // allocation must not.
  page_allocator_init(kMaxNodes, /*bind=*/true);
  void* p = alloc_pages(kNodeBind, 0);
  void* h = alloc_huge(3 << 20, kNodeBind);
  page_allocator_init(kMaxNodes, /*bind=*/false);
  ASSERT_NE(p, nullptr);
  ASSERT_NE(h, nullptr);
  free_pages(p, 0);
  free_huge(h);
}

TEST_F(PageAllocatorTest, ConcurrentAllocFreeKeepsStatsConsistent) {
  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 50'000;  // 200k operations in all
  constexpr int kSlots = 48;
  const int nodes[2] = {kNodeThreadsA, kNodeThreadsB};
  for (int node : nodes) fresh_node(node);

  struct Run {
    char* p = nullptr;
    unsigned order = 0;
    int node = 0;
    std::uint64_t tag = 0;
  };
  std::atomic<int> failures{0};
  auto worker = [&](int t) {
    std::mt19937_64 rng(1000 + t);
    Run slots[kSlots];
    std::uint64_t next_tag = std::uint64_t(t) << 48;
    auto release = [&](Run& r) {
      const std::size_t bytes = kPageSize << r.order;
      PageDesc* d = page_lookup(r.p);
      if (d == nullptr || d->kind != PageKind::kAllocated || d->order != r.order ||
          d->node != r.node || *reinterpret_cast<std::uint64_t*>(r.p) != r.tag ||
          *reinterpret_cast<std::uint64_t*>(r.p + bytes - 8) != ~r.tag)
        failures.fetch_add(1);
      free_pages(r.p, r.order);
      r.p = nullptr;
    };
    for (int op = 0; op < kOpsPerThread; ++op) {
      Run& r = slots[rng() % kSlots];
      if (r.p != nullptr) {
        release(r);
        continue;
      }
      // Mostly small runs, sometimes large ones, occasionally the largest.
      unsigned roll = rng() % 100;
      r.order = roll < 70 ? rng() % 3 : roll < 95 ? 3 + rng() % 4 : 7 + rng() % 3;
      r.node = nodes[rng() % 2];
      r.p = static_cast<char*>(alloc_pages(r.node, r.order));
      if (r.p == nullptr) {
        failures.fetch_add(1);
        continue;
      }
      r.tag = ++next_tag;
      // Tags at both ends: an overlapping run handed to another thread would
      // overwrite one of them.
      *reinterpret_cast<std::uint64_t*>(r.p) = r.tag;
      *reinterpret_cast<std::uint64_t*>(r.p + (kPageSize << r.order) - 8) = ~r.tag;
    }
    for (Run& r : slots)
      if (r.p != nullptr) release(r);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (std::thread& th : threads) th.join();

  EXPECT_EQ(failures.load(), 0);
  for (int node : nodes) {
    PageAllocatorStats s = page_allocator_stats(node);
    EXPECT_EQ(s.pages_in_use, 0u) << "node " << node;
    EXPECT_GE(s.segments, 1u);
    // Fully coalesced: every segment is whole again.
    EXPECT_EQ(s.pages_free, s.segments * kDataPages) << "node " << node;
    EXPECT_EQ(trim_node(node, 0), s.segments * kSegmentSize);
    EXPECT_EQ(page_allocator_stats(node).segments, 0u);
  }
}

}  // namespace
}  // namespace numaslab::detail::testing_page
