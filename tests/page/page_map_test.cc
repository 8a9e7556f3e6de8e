// Tests for the segment registry and page_lookup (page/page_map.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "page/page_allocator.h"
#include "page/page_map.h"
#include "page_test_util.h"
#include "platform/os_memory.h"

namespace numaslab::detail::testing_page {
namespace {

using PageMapTest = PageTest;

TEST_F(PageMapTest, ForeignPointersAreNotOurs) {
  fresh_node(kNodeForeign);
  // Make sure the registry exists, so the lookups below go through the bitmap.
  void* run = alloc_pages(kNodeForeign, 0);
  ASSERT_NE(run, nullptr);

  int on_stack = 0;
  EXPECT_EQ(page_lookup(nullptr), nullptr);
  EXPECT_EQ(page_lookup(reinterpret_cast<void*>(0x1000)), nullptr);
  EXPECT_EQ(page_lookup(&on_stack), nullptr);
  // The test binary uses the C library's malloc, whose memory is not ours.
  void* m = std::malloc(100);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(page_lookup(m), nullptr);
  std::free(m);
  void* big = std::malloc(8 << 20);  // an mmap'ed chunk, likely spanning a 4 MiB boundary
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(page_lookup(big), nullptr);
  EXPECT_EQ(page_lookup(static_cast<char*>(big) + (6 << 20)), nullptr);
  std::free(big);
  // Outside the 47-bit user address space.
  EXPECT_EQ(page_lookup(reinterpret_cast<void*>(std::uintptr_t{1} << 47)), nullptr);
  EXPECT_EQ(page_lookup(reinterpret_cast<void*>(~std::uintptr_t{0})), nullptr);
  EXPECT_EQ(page_lookup(reinterpret_cast<void*>(0xffff800000001000ULL)), nullptr);

  free_pages(run, 0);
}

TEST_F(PageMapTest, SegmentAlignedForeignMemoryIsRecognisedNotFollowed) {
  fresh_node(kNodeForeign);
  void* run = alloc_pages(kNodeForeign, 0);  // registry exists
  ASSERT_NE(run, nullptr);
  // A segment-aligned mapping that even carries our magic: the registry bit is
  // what decides, not the contents.
  void* fake = os_map_aligned(kSegmentSize, kSegmentSize);
  ASSERT_NE(fake, nullptr);
  auto* hdr = static_cast<SegmentHeader*>(fake);
  hdr->magic = kSegmentMagic;
  EXPECT_EQ(page_lookup(fake), nullptr);
  EXPECT_EQ(page_lookup(static_cast<char*>(fake) + 12345 * 16), nullptr);
  os_unmap(fake, kSegmentSize);
  free_pages(run, 0);
}

TEST_F(PageMapTest, LookupInsideRunGivesTheRightDescriptor) {
  fresh_node(kNodeLookup);
  constexpr unsigned kOrder = 3;
  char* p = static_cast<char*>(alloc_pages(kNodeLookup, kOrder));
  ASSERT_NE(p, nullptr);
  const std::uint32_t index = static_cast<std::uint32_t>((addr_of(p) - segment_base(p)) >> kPageShift);

  PageDesc* head = page_lookup(p);
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(head->kind, PageKind::kAllocated);
  EXPECT_EQ(head->order, kOrder);
  EXPECT_EQ(head->node, kNodeLookup);
  EXPECT_EQ(head->index, index);
  EXPECT_EQ(page_address(head), p);
  EXPECT_EQ(page_lookup(p + 100), head);  // any byte of the page

  for (std::uint32_t i = 1; i < (1u << kOrder); ++i) {
    PageDesc* tail = page_lookup(p + i * kPageSize + 123);
    ASSERT_NE(tail, nullptr);
    EXPECT_EQ(tail->kind, PageKind::kTail) << i;
    EXPECT_EQ(tail->order, kOrder) << i;
    EXPECT_EQ(tail->node, kNodeLookup) << i;
    EXPECT_EQ(tail->index, index + i) << i;
    EXPECT_EQ(page_address(tail), p + i * kPageSize);
  }

  SegmentHeader* seg = segment_of(head);
  EXPECT_EQ(addr_of(seg), segment_base(p));
  EXPECT_EQ(seg->magic, kSegmentMagic);
  EXPECT_EQ(seg->node, static_cast<std::uint32_t>(kNodeLookup));
  EXPECT_EQ(seg->header_pages, kSegmentHeaderPages);
  EXPECT_FALSE(seg->huge);
  EXPECT_EQ(seg->used_pages.load(), 1u << kOrder);
  // The header pages themselves are ours too, labelled as such.
  PageDesc* h0 = page_lookup(seg);
  ASSERT_NE(h0, nullptr);
  EXPECT_EQ(h0->kind, PageKind::kHeader);
  EXPECT_EQ(page_lookup(reinterpret_cast<char*>(seg) + (kSegmentHeaderPages - 1) * kPageSize)->kind,
            PageKind::kHeader);

  free_pages(p, kOrder);
  EXPECT_EQ(head->kind, PageKind::kFree);
}

TEST_F(PageMapTest, HugeMappingResolvesOnlyItsFirstSegment) {
  fresh_node(kNodeHugeLookup);
  constexpr std::size_t kBytes = 6 << 20;
  char* p = static_cast<char*>(alloc_huge(kBytes, kNodeHugeLookup));
  ASSERT_NE(p, nullptr);
  std::uintptr_t base = segment_base(p);
  EXPECT_EQ(addr_of(p), base + kSegmentHeaderPages * kPageSize);

  PageDesc* d = page_lookup(p);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->kind, PageKind::kHuge);
  EXPECT_EQ(d->size, kBytes);
  PageDesc* inner = page_lookup(p + (1 << 20));
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner->kind, PageKind::kTail);
  // Beyond the first 4 MiB block of the mapping: not registered, by design.
  EXPECT_EQ(page_lookup(reinterpret_cast<void*>(base + kSegmentSize + 8)), nullptr);
  p[kBytes - 1] = 1;  // the whole request is mapped

  free_huge(p);
}

}  // namespace
}  // namespace numaslab::detail::testing_page
