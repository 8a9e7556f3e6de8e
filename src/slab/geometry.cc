#include "slab/geometry.h"

namespace numaslab::detail {

namespace {
constexpr std::size_t align_up(std::size_t v, std::size_t a) { return (v + a - 1) & ~(a - 1); }
constexpr std::uint32_t kSlabLimit = ~0u - 4;  // leaves room for the bufctl state markers
}  // namespace

void cache_estimate(unsigned order, std::size_t buffer_size, std::size_t align, bool off_slab,
                    std::uint32_t* num, std::size_t* left_over) {
  const std::size_t bytes = kPageSize << order;
  std::size_t n;
  std::size_t mgmt = 0;
  if (off_slab) {
    n = bytes / buffer_size;
  } else {
    n = bytes > kSlabDescSize ? (bytes - kSlabDescSize) / (buffer_size + kBufctlSize) : 0;
    // The first guess ignores the alignment of the management area; it is at
    // most one too high.
    if (n && align_up(kSlabDescSize + n * kBufctlSize, align) + n * buffer_size > bytes) --n;
    if (n) mgmt = align_up(kSlabDescSize + n * kBufctlSize, align);
  }
  if (n > kSlabLimit) n = kSlabLimit;
  *num = static_cast<std::uint32_t>(n);
  *left_over = n ? bytes - n * buffer_size - mgmt : bytes;
}

bool compute_geometry(std::size_t size, std::size_t align, unsigned flags, SlabGeometry* g) {
  if (size == 0 || size > kMaxObjectSize) return false;
  if (align & (align - 1)) return false;
  if (align > kPageSize) return false;

  size = align_up(size, kWord);
  std::size_t ralign = kWord;
  if (flags & kHwCacheAlign) {
    ralign = kCacheLine;
    while (size <= ralign / 2) ralign /= 2;
  }
  if (ralign < kWord) ralign = kWord;
  if (align > ralign) ralign = align;
  align = ralign;
  size = align_up(size, align);
  if (size > kMaxObjectSize) return false;

  SlabGeometry r;
  r.off_slab = size >= kPageSize / 8;
  std::size_t left_over = 0;
  bool found = false;
  const bool tight = (flags & kPackTight) != 0;
  for (unsigned order = 0; order <= kMaxSlabOrder; ++order) {
    std::uint32_t num;
    std::size_t rem;
    cache_estimate(order, size, align, r.off_slab, &num, &rem);
    if (num == 0) continue;
    if (r.off_slab && num > kOffSlabLimit) break;  // keep the previous acceptable order
    const std::size_t bytes = kPageSize << order;
    if (tight) {
      if (order > kTightMaxOrder && found) break;
      // Keep this order if it wastes a smaller share than the best so far.
      if (!found || rem * (kPageSize << r.order) < left_over * bytes) {
        r.num = num;
        r.order = order;
        left_over = rem;
        found = true;
      }
      if (rem * kTightWaste <= bytes) break;
      continue;
    }
    r.num = num;
    r.order = order;
    left_over = rem;
    found = true;
    if (flags & kReclaimAccount) break;
    if (order >= kBreakOrder) break;
    if (rem * 8 <= bytes) break;
  }
  if (!found) {
    // Off-slab objects so small that even order 0 exceeds the off-slab limit:
    // cap the count instead (the rest is leftover).
    if (!r.off_slab) return false;
    r.order = 0;
    r.num = kOffSlabLimit;
    left_over = kPageSize - r.num * size;
  }

  std::size_t slab_size = align_up(r.num * kBufctlSize + kSlabDescSize, align);
  if (r.off_slab && left_over >= slab_size) {
    r.off_slab = false;
    left_over -= slab_size;
  }
  if (r.off_slab) slab_size = r.num * kBufctlSize + kSlabDescSize;

  r.buffer_size = static_cast<std::uint32_t>(size);
  r.align = static_cast<std::uint32_t>(align);
  r.colour_off = static_cast<std::uint32_t>(align > kCacheLine ? align : kCacheLine);
  r.colour = static_cast<std::uint32_t>(left_over / r.colour_off);
  r.slab_size = static_cast<std::uint32_t>(slab_size);
  r.left_over = static_cast<std::uint32_t>(left_over);
  // ceil(2^40 / size): offset * error < 2^40 for offsets below 2^20 (a slab is
  // at most 128 KiB), so the multiply-shift equals the division exactly.
  r.reciprocal = ((std::uint64_t{1} << 40) + size - 1) / size;
  *g = r;
  return true;
}

}  // namespace numaslab::detail
