// Tests for slab/geometry.h: the kernel's slab sizing rules.
#include "slab/geometry.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "slab/slab.h"

namespace numaslab::detail {
namespace {

constexpr std::size_t round_up(std::size_t v, std::size_t a) { return (v + a - 1) / a * a; }

SlabGeometry geometry(std::size_t size, std::size_t align, unsigned flags) {
  SlabGeometry g;
  EXPECT_TRUE(compute_geometry(size, align, flags, &g))
      << "size " << size << " align " << align << " flags " << flags;
  return g;
}

// ---- reference values: x86-64, 4 KiB pages, 64-byte lines, sizeof(struct
// slab) = 48, SLAB_HWCACHE_ALIGN as the kernel's kmalloc caches use. These
// are /proc/slabinfo's objperslab / pagesperslab of a 2.6.16 x86-64 kernel.

struct Ref {
  std::size_t size;
  std::uint32_t num;
  std::uint32_t order;
  bool off_slab;
  int left_over;  // -1: don't check
  int colour;     // -1: don't check
};

class KernelReference : public ::testing::TestWithParam<Ref> {};

TEST_P(KernelReference, MatchesKmallocCaches) {
  const Ref r = GetParam();
  SlabGeometry g = geometry(r.size, 0, kHwCacheAlign);
  EXPECT_EQ(g.num, r.num);
  EXPECT_EQ(g.order, r.order);
  EXPECT_EQ(g.off_slab, r.off_slab);
  EXPECT_EQ(g.buffer_size, r.size);
  if (r.left_over >= 0) {
    EXPECT_EQ(g.left_over, static_cast<std::uint32_t>(r.left_over));
  }
  if (r.colour >= 0) {
    EXPECT_EQ(g.colour, static_cast<std::uint32_t>(r.colour));
  }
}

INSTANTIATE_TEST_SUITE_P(
    X86_64, KernelReference,
    ::testing::Values(Ref{32, 112, 0, false, 0, 0}, Ref{64, 59, 0, false, 0, 0},
                      Ref{128, 30, 0, false, 64, 1}, Ref{192, 20, 0, false, 128, 2},
                      Ref{256, 15, 0, false, 128, 2}, Ref{512, 8, 0, true, 0, 0},
                      Ref{1024, 4, 0, true, 0, 0}, Ref{2048, 2, 0, true, 0, 0},
                      Ref{4096, 1, 0, true, 0, 0}, Ref{8192, 1, 1, true, 0, 0},
                      Ref{16384, 1, 2, true, 0, 0}, Ref{32768, 1, 3, true, 0, 0},
                      Ref{65536, 1, 4, true, 0, 0}, Ref{131072, 1, 5, true, 0, 0}),
    [](const ::testing::TestParamInfo<Ref>& i) { return "size" + std::to_string(i.param.size); });

TEST(Geometry, HwCacheAlignSqueezesSmallObjects) {
  // The alignment starts at a line and halves while size <= align / 2.
  EXPECT_EQ(geometry(8, 0, kHwCacheAlign).align, 8u);
  EXPECT_EQ(geometry(16, 0, kHwCacheAlign).align, 16u);
  EXPECT_EQ(geometry(17, 0, kHwCacheAlign).align, 32u);
  EXPECT_EQ(geometry(24, 0, kHwCacheAlign).buffer_size, 32u);
  EXPECT_EQ(geometry(32, 0, kHwCacheAlign).align, 32u);
  EXPECT_EQ(geometry(33, 0, kHwCacheAlign).align, 64u);
  EXPECT_EQ(geometry(33, 0, kHwCacheAlign).buffer_size, 64u);
  EXPECT_EQ(geometry(100, 0, kHwCacheAlign).buffer_size, 128u);
  // Without the flag: word alignment.
  EXPECT_EQ(geometry(1, 0, 0).buffer_size, 8u);
  EXPECT_EQ(geometry(1, 0, 0).align, 8u);
  EXPECT_EQ(geometry(100, 0, 0).buffer_size, 104u);
  // The caller's alignment wins when larger.
  EXPECT_EQ(geometry(100, 256, kHwCacheAlign).align, 256u);
  EXPECT_EQ(geometry(100, 256, kHwCacheAlign).buffer_size, 256u);
  EXPECT_EQ(geometry(8, 32, kHwCacheAlign).align, 32u);
  // A smaller caller alignment than a word is raised to a word.
  EXPECT_EQ(geometry(4, 4, 0).align, 8u);
  EXPECT_EQ(geometry(4, 1, 0).buffer_size, 8u);
}

TEST(Geometry, ColourOffsetIsLineOrAlignment) {
  EXPECT_EQ(geometry(100, 0, 0).colour_off, 64u);
  EXPECT_EQ(geometry(100, 128, 0).colour_off, 128u);
  EXPECT_EQ(geometry(100, 1024, 0).colour_off, 1024u);
}

TEST(Geometry, OffSlabThresholdAndMoveBackOnSlab) {
  // buffer_size >= 512 (PAGE_SIZE/8) starts off-slab ...
  EXPECT_FALSE(geometry(504, 0, 0).off_slab);
  SlabGeometry g = geometry(1024, 0, 0);
  EXPECT_TRUE(g.off_slab);
  EXPECT_EQ(g.slab_size, 4 * kBufctlSize + kSlabDescSize);
  // ... unless the leftover can hold the management: 600-byte objects leave
  // 496 bytes per page, enough for 48 + 6*4 = 72 bytes.
  g = geometry(600, 0, 0);
  EXPECT_FALSE(g.off_slab);
  EXPECT_EQ(g.num, 6u);
  EXPECT_EQ(g.order, 0u);
  EXPECT_EQ(g.slab_size, 72u);
  EXPECT_EQ(g.left_over, 4096u - 6 * 600 - 72);
  EXPECT_EQ(g.colour, (4096u - 6 * 600 - 72) / 64);
}

TEST(Geometry, ReclaimAccountTakesSmallestOrder) {
  // 1100-byte objects: order 0 leaves 796 bytes (> 1/8 of 4 KiB), so the
  // normal rule goes to order 1; SLAB_RECLAIM_ACCOUNT stays at order 0.
  SlabGeometry normal = geometry(1104, 0, 0);
  SlabGeometry reclaim = geometry(1104, 0, kReclaimAccount);
  EXPECT_EQ(normal.order, 1u);
  EXPECT_EQ(normal.num, 7u);
  EXPECT_EQ(reclaim.order, 0u);
  EXPECT_EQ(reclaim.num, 3u);
}

TEST(Geometry, BreakOrderStopsGrowth) {
  // 3000-byte objects waste 1096 bytes at order 0 and 2192 bytes at order 1
  // (both > 1/8), but the search stops at slab_break_gfp_order.
  SlabGeometry g = geometry(3000, 0, 0);
  EXPECT_EQ(g.order, kBreakOrder);
  EXPECT_EQ(g.num, 2u);
}

TEST(Geometry, PackTightWastesAtMostASixteenth) {
  // The kmalloc classes' geometry: the kernel's rule stops 3072-byte objects
  // at order 1 (2 per 8 KiB, a quarter lost); kPackTight goes on to the first
  // order that loses at most 1/16, or else the order that loses least.
  SlabGeometry kernel = geometry(3072, 0, 0);
  EXPECT_EQ(kernel.order, 1u);
  EXPECT_EQ(kernel.num, 2u);
  SlabGeometry tight = geometry(3072, 0, kPackTight);
  EXPECT_EQ(tight.order, 2u);
  EXPECT_EQ(tight.num, 5u);
  EXPECT_EQ(geometry(3584, 0, kPackTight).num, 9u) << "order 3: 9 objects, 2 % lost";
  for (std::size_t size = 8; size <= kMaxObjectSize; size += size < 1024 ? 8 : 128) {
    SlabGeometry g = geometry(size, 0, kPackTight);
    const std::size_t bytes = kPageSize << g.order;
    const std::size_t mgmt = g.off_slab ? 0 : g.slab_size;
    ASSERT_EQ(mgmt + std::size_t{g.num} * g.buffer_size + g.left_over, bytes) << "size " << size;
    // The search weighs each order as the kernel estimates it (management
    // off-slab from 1/8 page up, moved back on-slab afterwards if it fits).
    const bool off = g.buffer_size >= kPageSize / 8;
    auto loss = [&](unsigned o, std::size_t* rem) {
      std::uint32_t num;
      cache_estimate(o, g.buffer_size, g.align, off, &num, rem);
      return num != 0 && !(off && num > kOffSlabLimit);
    };
    std::size_t chosen;
    ASSERT_TRUE(loss(g.order, &chosen)) << "size " << size;
    for (unsigned o = 0; o < g.order; ++o) {
      std::size_t rem;
      if (!loss(o, &rem)) continue;
      EXPECT_GT(rem * kTightWaste, kPageSize << o)
          << "size " << size << ": order " << o << " was good enough";
      EXPECT_GE(rem * bytes, chosen * (kPageSize << o))
          << "size " << size << ": order " << o << " loses less than order " << g.order;
    }
    if (chosen * kTightWaste > bytes)
      for (unsigned o = g.order + 1; o <= kTightMaxOrder && o <= kMaxSlabOrder; ++o) {
        std::size_t rem;
        if (!loss(o, &rem)) continue;
        EXPECT_GE(rem * bytes, chosen * (kPageSize << o))
            << "size " << size << ": order " << o << " loses less than order " << g.order;
      }
  }
}

TEST(Geometry, RejectsBadInput) {
  SlabGeometry g;
  g.num = 12345;
  g.buffer_size = 777;
  EXPECT_FALSE(compute_geometry(0, 0, 0, &g));
  EXPECT_FALSE(compute_geometry(kMaxObjectSize + 1, 0, 0, &g));
  EXPECT_FALSE(compute_geometry(std::size_t{1} << 40, 0, 0, &g));
  EXPECT_FALSE(compute_geometry(SIZE_MAX, 0, 0, &g));
  EXPECT_FALSE(compute_geometry(64, 3, 0, &g));
  EXPECT_FALSE(compute_geometry(64, 48, 0, &g));
  EXPECT_FALSE(compute_geometry(64, 96, kHwCacheAlign, &g));
  EXPECT_FALSE(compute_geometry(64, 2 * kPageSize, 0, &g));
  // Geometry untouched on failure.
  EXPECT_EQ(g.num, 12345u);
  EXPECT_EQ(g.buffer_size, 777u);
  // Boundaries that are fine.
  EXPECT_TRUE(compute_geometry(kMaxObjectSize, 0, 0, &g));
  EXPECT_TRUE(compute_geometry(kMaxObjectSize, kPageSize, kHwCacheAlign, &g));
  EXPECT_TRUE(compute_geometry(1, kPageSize, 0, &g));
  EXPECT_EQ(g.buffer_size, kPageSize);
}

// ---- an independent oracle for the kernel's algorithm (mm/slab.c 2.6.16:
// kmem_cache_create's alignment steps, calculate_slab_order, cache_estimate,
// and the "move the management back on-slab" step).

struct Oracle {
  std::size_t buffer_size, align, num, order, left_over, slab_size, colour;
  bool off_slab;
};

bool kernel_oracle(std::size_t size, std::size_t align, unsigned flags, Oracle* o) {
  const std::size_t kBytesPerWord = 8, kLine = 64, kSlabStruct = 48, kBufctl = 4;
  const std::size_t kOffslabLimit = (256 - kSlabStruct) / kBufctl;
  if (size & (kBytesPerWord - 1)) size = round_up(size, kBytesPerWord);
  std::size_t ralign;
  if (flags & kHwCacheAlign) {
    ralign = kLine;
    while (size <= ralign / 2) ralign /= 2;
  } else {
    ralign = kBytesPerWord;
  }
  if (ralign < align) ralign = align;
  align = ralign;
  size = round_up(size, align);
  bool off = size >= (4096 >> 3);
  std::size_t left = 0, num = 0, order = 0;
  for (std::size_t gfp = 0; gfp <= 5; ++gfp) {
    const std::size_t bytes = std::size_t{4096} << gfp;
    std::size_t n, mgmt = 0;
    if (off) {
      n = bytes / size;
    } else {
      n = (bytes - kSlabStruct) / (size + kBufctl);
      if (round_up(kSlabStruct + n * kBufctl, align) + n * size > bytes) --n;
      mgmt = round_up(kSlabStruct + n * kBufctl, align);
    }
    std::size_t rem = bytes - n * size - mgmt;
    if (n == 0) continue;
    if (off && n > kOffslabLimit) break;
    num = n;
    order = gfp;
    left = rem;
    if (flags & kReclaimAccount) break;
    if (gfp >= 1) break;  // slab_break_gfp_order
    if (left * 8 <= bytes) break;
  }
  if (num == 0) return false;
  std::size_t slab_size = round_up(num * kBufctl + kSlabStruct, align);
  if (off && left >= slab_size) {
    off = false;
    left -= slab_size;
  }
  if (off) slab_size = num * kBufctl + kSlabStruct;
  std::size_t colour_off = kLine < align ? align : kLine;
  *o = Oracle{size, align, num, order, left, slab_size, left / colour_off, off};
  return true;
}

std::vector<std::size_t> sweep_sizes() {
  std::vector<std::size_t> v;
  for (std::size_t s = 1; s <= 1024; ++s) v.push_back(s);
  for (std::size_t s = 1025; s <= 16384; s += 7) v.push_back(s);
  for (std::size_t s = 16384; s <= kMaxObjectSize; s += 509) v.push_back(s);
  for (std::size_t p = 8; p <= kMaxObjectSize; p *= 2) {
    v.push_back(p - 1);
    v.push_back(p);
    v.push_back(p + 1);
  }
  v.push_back(kMaxObjectSize);
  return v;
}

constexpr std::size_t kAligns[] = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
constexpr unsigned kFlagSets[] = {0, kHwCacheAlign, kReclaimAccount,
                                  kHwCacheAlign | kReclaimAccount};

TEST(Geometry, SweepInvariantsAndOracle) {
  std::size_t checked = 0;
  for (std::size_t size : sweep_sizes()) {
    for (std::size_t align : kAligns) {
      for (unsigned flags : kFlagSets) {
        SCOPED_TRACE(::testing::Message()
                     << "size " << size << " align " << align << " flags 0x" << std::hex << flags);
        SlabGeometry g;
        const bool ok = compute_geometry(size, align, flags, &g);
        Oracle o{};
        const bool want_ok = size <= kMaxObjectSize && round_up(size, 8) <= kMaxObjectSize &&
                             kernel_oracle(size, align, flags, &o) &&
                             o.buffer_size <= kMaxObjectSize;
        ASSERT_EQ(ok, want_ok);
        if (!ok) continue;
        ++checked;
        const std::size_t bytes = kPageSize << g.order;
        // Invariants from geometry.h.
        ASSERT_GE(g.num, 1u);
        ASSERT_LE(g.order, kMaxSlabOrder);
        ASSERT_GE(g.buffer_size, size);
        ASSERT_EQ(g.buffer_size % g.align, 0u);
        ASSERT_EQ(g.align & (g.align - 1), 0u);
        ASSERT_GE(g.align, kWord);
        if (align) {
          ASSERT_GE(g.align, align);
        }
        const std::size_t mgmt = g.off_slab ? 0 : g.slab_size;
        ASSERT_EQ(mgmt + std::size_t{g.num} * g.buffer_size + g.left_over, bytes);
        if (g.off_slab) {
          ASSERT_LE(g.num, kOffSlabLimit);
          ASSERT_EQ(g.slab_size, g.num * kBufctlSize + kSlabDescSize);
          // The descriptor fits an on-slab kmalloc class (no recursion).
          ASSERT_LE(g.slab_size, 256u);
        } else {
          ASSERT_EQ(g.slab_size, round_up(kSlabDescSize + g.num * kBufctlSize, g.align));
          ASSERT_EQ(g.slab_size % g.align, 0u) << "objects after the descriptor stay aligned";
        }
        // Waste rule: at most 1/8 unless the order search had to stop.
        if (!(flags & kReclaimAccount) && g.order < kBreakOrder) {
          ASSERT_LE(std::size_t{g.left_over} * 8, bytes);
        }
        ASSERT_EQ(g.colour_off, g.align > kCacheLine ? g.align : kCacheLine);
        ASSERT_LE(std::size_t{g.colour} * g.colour_off, g.left_over);
        ASSERT_EQ(g.colour, g.left_over / g.colour_off);
        ASSERT_EQ(g.colour_off % g.align, 0u) << "colouring keeps objects aligned";
        // Against the kernel's algorithm, field by field.
        ASSERT_EQ(g.buffer_size, o.buffer_size);
        ASSERT_EQ(g.align, o.align);
        ASSERT_EQ(g.num, o.num);
        ASSERT_EQ(g.order, o.order);
        ASSERT_EQ(g.off_slab, o.off_slab);
        ASSERT_EQ(g.left_over, o.left_over);
        ASSERT_EQ(g.slab_size, o.slab_size);
        ASSERT_EQ(g.colour, o.colour);
      }
    }
  }
  EXPECT_GT(checked, 50000u);
}

TEST(Geometry, CacheEstimateMatchesDefinition) {
  for (std::size_t bs : {8u, 32u, 64u, 136u, 200u, 256u, 504u}) {
    for (std::size_t align : {8u, 16u, 64u}) {
      if (bs % align) continue;
      for (unsigned order = 0; order <= kMaxSlabOrder; ++order) {
        std::uint32_t num;
        std::size_t left;
        cache_estimate(order, bs, align, false, &num, &left);
        const std::size_t bytes = kPageSize << order;
        const std::size_t mgmt = round_up(kSlabDescSize + num * kBufctlSize, align);
        EXPECT_EQ(mgmt + num * bs + left, bytes);
        // Maximal: one more object would not fit.
        const std::size_t mgmt1 = round_up(kSlabDescSize + (num + 1) * kBufctlSize, align);
        EXPECT_GT(mgmt1 + (num + 1) * bs, bytes) << bs << " " << align << " " << order;
      }
    }
  }
  std::uint32_t num;
  std::size_t left;
  cache_estimate(0, 1000, 8, true, &num, &left);
  EXPECT_EQ(num, 4u);
  EXPECT_EQ(left, 96u);
  cache_estimate(0, 8192, 8, true, &num, &left);
  EXPECT_EQ(num, 0u);
  EXPECT_EQ(left, 4096u);
}

// ---- divide_by_size ----

std::uint64_t g_offsets_checked = 0;

void check_all_offsets(const SlabGeometry& g) {
  const std::uint32_t bytes = static_cast<std::uint32_t>(kPageSize << g.order);
  for (std::uint32_t off = 0; off < bytes; ++off) {
    ++g_offsets_checked;
    const std::uint32_t want = off / g.buffer_size;
    const std::uint32_t got = divide_by_size(g, off);
    if (got != want) {
      ADD_FAILURE() << "buffer_size " << g.buffer_size << " offset " << off << ": got " << got
                    << ", want " << want;
      return;
    }
  }
}

TEST(DivideBySize, ExhaustiveOverSlabOffsets) {
  for (std::size_t size :
       {8u,    24u,   40u,   56u,   72u,    104u,   136u,   192u,   200u,   328u,   520u,
        1000u, 1104u, 3000u, 4104u, 12296u, 24584u, 40000u, 65536u, 65544u, 99992u, 131072u}) {
    check_all_offsets(geometry(size, 0, 0));
  }
  check_all_offsets(geometry(100, 0, kHwCacheAlign));
  check_all_offsets(geometry(1, 4096, 0));
  EXPECT_GT(g_offsets_checked, 600000u);
}

TEST(DivideBySize, BoundariesForEveryStride) {
  // Every possible stride (multiples of 8 up to 128 KiB): the offsets around
  // each object boundary, and the last byte of the slab.
  for (std::size_t size = 8; size <= kMaxObjectSize; size += 8) {
    SlabGeometry g = geometry(size, 0, 0);
    ASSERT_EQ(g.buffer_size, size);
    const std::uint64_t bytes = kPageSize << g.order;
    for (std::uint64_t k = 0; k * size < bytes; ++k) {
      const std::uint64_t base = k * size;
      for (std::uint64_t off : {base, base + 1, base + size - 1}) {
        if (off >= bytes) continue;
        ASSERT_EQ(divide_by_size(g, static_cast<std::uint32_t>(off)), off / size)
            << "size " << size << " offset " << off;
      }
    }
    ASSERT_EQ(divide_by_size(g, static_cast<std::uint32_t>(bytes - 1)), (bytes - 1) / size);
  }
}

}  // namespace
}  // namespace numaslab::detail
