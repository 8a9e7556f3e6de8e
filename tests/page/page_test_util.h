// Shared helpers for the page-layer tests.
//
// Tests in one binary may share a process (running the binary directly) or
// not (ctest runs each test alone), so every test owns distinct node numbers
// and starts by checking its nodes are idle and trimming them to zero
// segments: the outcome never depends on which tests ran before.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "base/lock.h"
#include "fakes/fake_platform.h"
#include "page/page_allocator.h"
#include "platform/os_memory.h"

namespace numaslab::detail::testing_page {

// Node numbers, one set per test, so tests never see each other's segments.
enum TestNode : int {
  kNodeForeign = 1,
  kNodeLookup = 2,
  kNodeOrders = 3,
  kNodeExhaust = 4,
  kNodeDeath = 5,
  kNodeHuge = 6,
  kNodeFault = 7,
  kNodeTrim = 8,
  kNodeThreadsA = 9,
  kNodeThreadsB = 10,
  kNodeBind = 11,
  kNodeHugeLookup = 12,
  kNodeSlabLabels = 13,
  kNodeHugeFault = 14,
  kNodeSplit = 15,
  kNodeMapRace = 16,
  kNodeZeroed = 17,
};

inline constexpr std::size_t kDataPages = kPagesPerSegment - kSegmentHeaderPages;

inline std::uintptr_t addr_of(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

inline std::uintptr_t segment_base(const void* p) {
  return addr_of(p) & ~(std::uintptr_t{kSegmentSize} - 1);
}

class PageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    page_allocator_init(kMaxNodes, /*bind=*/false);
    set_lock_validation(true);
    testing_fakes::FakePlatform::uninstall();
  }
  void TearDown() override {
    set_lock_validation(false);
    testing_fakes::FakePlatform::uninstall();
  }

  // Asserts `node` has nothing in use and returns all its segments to the OS.
  static void fresh_node(int node) {
    PageAllocatorStats s = page_allocator_stats(node);
    ASSERT_EQ(s.pages_in_use, 0u) << "node " << node << " is shared between tests";
    ASSERT_EQ(s.huge_mappings, 0u);
    trim_node(node, 0);
    s = page_allocator_stats(node);
    ASSERT_EQ(s.segments, 0u);
    ASSERT_EQ(s.pages_free, 0u);
  }
};

}  // namespace numaslab::detail::testing_page
