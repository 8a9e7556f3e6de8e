// Shared helpers for the slab-layer tests: real pages from the page
// allocator, formatted as slabs and labelled the way the cache layer does, so
// NodeLists operations (which find slabs through page_lookup) work on them
// without a cache.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "base/lock.h"
#include "page/page_allocator.h"
#include "page/page_map.h"
#include "slab/geometry.h"
#include "slab/node_lists.h"
#include "slab/slab.h"

namespace numaslab::detail::testing_slab {

// A made-up cache identity for PageDesc::owner.
inline char g_fake_cache_tag;

struct FakeSlab {
  void* pages = nullptr;
  void* offslab_desc = nullptr;
  Slab* slab = nullptr;
};

class SlabEnv {
 public:
  explicit SlabEnv(const SlabGeometry& g) : g_(g) {}
  SlabEnv(const SlabEnv&) = delete;
  ~SlabEnv() {
    for (FakeSlab& f : slabs_) release(f);
  }

  // A new slab over fresh pages of node 0, labelled kSlab on every page.
  Slab* make(std::uint32_t colour = 0, int node = 0) {
    FakeSlab f;
    f.pages = alloc_pages(0, g_.order);
    EXPECT_NE(f.pages, nullptr);
    if (!f.pages) return nullptr;
    if (g_.off_slab) f.offslab_desc = std::aligned_alloc(64, 4096);
    f.slab = slab_format(g_, f.pages, colour, node, f.offslab_desc);
    for (std::size_t i = 0; i < (std::size_t{1} << g_.order); ++i) {
      PageDesc* d = page_lookup(static_cast<char*>(f.pages) + i * kPageSize);
      EXPECT_NE(d, nullptr);
      d->owner = &g_fake_cache_tag;
      d->slab = f.slab;
      d->kind = PageKind::kSlab;
    }
    slabs_.push_back(f);
    return f.slab;
  }

  void* object(Slab* s, std::uint32_t i) const {
    return s->s_mem + static_cast<std::size_t>(i) * g_.buffer_size;
  }

 private:
  void release(FakeSlab& f) {
    if (!f.pages) return;
    for (std::size_t i = 0; i < (std::size_t{1} << g_.order); ++i) {
      PageDesc* d = page_lookup(static_cast<char*>(f.pages) + i * kPageSize);
      d->owner = nullptr;
      d->slab = nullptr;
      d->kind = i == 0 ? PageKind::kAllocated : PageKind::kTail;
    }
    free_pages(f.pages, g_.order);
    std::free(f.offslab_desc);
    f.pages = nullptr;
  }

  SlabGeometry g_;
  std::vector<FakeSlab> slabs_;
};

class SlabLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    page_allocator_init(1, /*bind=*/false);
    set_lock_validation(true);
  }
  void TearDown() override { set_lock_validation(false); }

  static SlabGeometry geo(std::size_t size, std::size_t align = 0, unsigned flags = 0) {
    SlabGeometry g;
    EXPECT_TRUE(compute_geometry(size, align, flags, &g));
    return g;
  }
};

}  // namespace numaslab::detail::testing_slab
