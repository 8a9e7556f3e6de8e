// numaslab — slab geometry: how a cache lays objects out in a slab.
//
// Contract: compute_geometry() is a pure function reproducing the kernel's
// kmem_cache_create sizing (mm/slab.c, 2.6.16: calculate_slab_order and
// cache_estimate):
//   * size rounds up to a word; with kHwCacheAlign the alignment starts at a
//     cache line and halves while size <= align/2; the caller's align wins if
//     larger; buffer_size = round_up(size, align).
//   * buffer_size >= kPageSize/8 puts the management (descriptor + bufctl
//     array) off-slab, unless the leftover of the chosen order can hold it.
//   * order: the first order whose leftover is <= 1/8 of the slab, never past
//     kBreakOrder unless objects do not fit at all, never past kMaxSlabOrder;
//     off-slab slabs hold at most kOffSlabLimit objects so their descriptor
//     always fits an on-slab kmalloc class (no recursion while growing).
//   * colour = leftover / colour_off, colour_off = max(cache line, align).
//   * kPackTight (kmalloc classes only) departs from the kernel's order
//     choice as described at the flag.
// Invariants: num >= 1; mgmt + num * buffer_size + leftover == kPageSize << order,
// where mgmt = slab_size if on-slab, else 0.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/config.h"

namespace numaslab::detail {

// Cache creation flags (public values in numaslab.h mirror these).
inline constexpr unsigned kHwCacheAlign = 0x2000;     // SLAB_HWCACHE_ALIGN
inline constexpr unsigned kReclaimAccount = 0x20000;  // SLAB_RECLAIM_ACCOUNT

// Internal (not a public flag): the kmalloc classes' geometry. The order
// search goes past kBreakOrder, up to kTightMaxOrder, to the first order that
// wastes at most 1/kTightWaste of the slab, or else the order that wastes
// least: a 3072-byte class packs 5 objects in 16 KiB (6 % lost) instead of 2
// in 8 KiB (25 %). Pages of a slab are touched only as objects are handed
// out, so a larger slab costs a program that uses a few objects nothing.
inline constexpr unsigned kPackTight = 0x40000000;
inline constexpr unsigned kTightMaxOrder = 4;
inline constexpr unsigned kTightWaste = 16;

inline constexpr unsigned kBreakOrder = 1;  // slab_break_gfp_order on a > 32 MB machine
inline constexpr std::size_t kWord = sizeof(void*);
inline constexpr std::size_t kSlabDescSize = 48;  // sizeof(Slab), checked in slab.h
inline constexpr std::size_t kBufctlSize = 4;
// 2.6.16's offslab_limit on 64-bit: (256 - sizeof(struct slab)) / sizeof(bufctl),
// from the largest on-slab general cache (size-256).
inline constexpr std::uint32_t kOffSlabLimit = (256 - kSlabDescSize) / kBufctlSize;  // 52
inline constexpr std::size_t kMaxObjectSize = kPageSize << kMaxSlabOrder;            // 128 KiB

struct SlabGeometry {
  std::uint32_t buffer_size = 0;  // object stride
  std::uint32_t align = 0;
  std::uint32_t num = 0;         // objects per slab
  std::uint32_t order = 0;       // slab = 2^order pages
  std::uint32_t colour = 0;      // number of colours
  std::uint32_t colour_off = 0;  // colour step in bytes
  std::uint32_t slab_size = 0;   // descriptor + bufctl bytes (aligned if on-slab)
  std::uint32_t left_over = 0;   // unused bytes per slab after management
  bool off_slab = false;
  // Division by buffer_size as a multiply and shift (obj index from offset).
  std::uint64_t reciprocal = 0;
};

// Returns false (geometry untouched) if size is 0, too large (> kMaxObjectSize),
// align is not a power of two or larger than a page.
bool compute_geometry(std::size_t size, std::size_t align, unsigned flags, SlabGeometry* g);

// The kernel's cache_estimate for one order: objects and leftover bytes.
void cache_estimate(unsigned order, std::size_t buffer_size, std::size_t align, bool off_slab,
                    std::uint32_t* num, std::size_t* left_over);

// offset / buffer_size for offset < slab bytes, exact, using g.reciprocal.
inline std::uint32_t divide_by_size(const SlabGeometry& g, std::uint32_t offset) {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(offset) * g.reciprocal) >> 40);
}

}  // namespace numaslab::detail
