// numaslab — segments and page descriptors: the struct page analogue.
//
// Contract:
//  * All memory numaslab hands out lives in *segments*: kSegmentSize-aligned
//    mappings. A segment's first pages hold its SegmentHeader (node, magic,
//    and one PageDesc per page); the rest are pages served by the per-node
//    page allocator (page/page_allocator.h). Huge allocations (above
//    kMaxRunOrder) get a mapping of their own (kind kHuge, one run); only its
//    first kSegmentSize block is registered, so page_lookup resolves pointers
//    into the first 4 MiB of a huge mapping and returns nullptr beyond.
//  * page_lookup(p) maps any address to its PageDesc in O(1): address mask to
//    the segment base, a check in the segment registry (a byte map over the
//    address space, so an address we never mapped is *recognised*, not
//    followed), then index (p - base) >> kPageShift. A registered segment
//    whose header magic is wrong is reported as corruption (fatal).
//  * A PageDesc is written only by whoever owns the page run: the page
//    allocator while the run is free (under its node's lock), the slab layer
//    while it holds a slab (kind kSlab: `owner` = cache, `slab` = slab
//    descriptor, on *every* page of the slab), the large-object path for
//    kLargeHead (its other pages stay kTail). Readers of an allocated page's
//    descriptor need no lock: the fields are stable while the run is allocated.
// Lock: the segment registry is updated under kSegments (innermost);
// page_lookup reads it lock-free (atomic bytes).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/config.h"

namespace numaslab::detail {

inline constexpr std::size_t kSegmentShift = 22;  // 4 MiB
inline constexpr std::size_t kSegmentSize = std::size_t{1} << kSegmentShift;
inline constexpr std::size_t kPagesPerSegment = kSegmentSize >> kPageShift;  // 1024
// Largest run the buddy allocator serves from a segment: 2^9 pages = 2 MiB.
inline constexpr unsigned kMaxRunOrder = 9;

enum class PageKind : std::uint8_t {
  kUnused = 0,  // never set up
  kHeader,      // segment header pages
  kFree,        // head page of a free buddy block (order = block order)
  kFreeTail,    // other pages of a free buddy block
  kAllocated,   // head of an allocated run whose user has not claimed it yet
  kTail,        // non-head page of an allocated run (any user)
  kSlab,        // page of a slab (owner = cache, slab = slab descriptor)
  kLargeHead,   // head page of a large kmalloc run (owner = nullptr)
  kHuge,        // first data page of a huge (own-segment) allocation
};

struct PageDesc {
  PageKind kind;
  std::uint8_t
      order;  // run order for kFree / kAllocated / kTail / kLargeHead; slab order for kSlab
  std::uint16_t node;   // node of the segment (copy, for speed)
  std::uint32_t index;  // page index within the segment
  union {
    struct {
      void* owner;  // kSlab: the cache
      void* slab;   // kSlab: the slab descriptor
    };
    struct {
      PageDesc* next;  // kFree: buddy free list
      PageDesc* prev;
    };
  };
  std::size_t size;  // kLargeHead / kHuge: bytes requested by the user (for ksize)
};
static_assert(sizeof(PageDesc) == 32, "PageDesc must stay 32 bytes");

struct SegmentHeader {
  std::uint64_t magic;  // kSegmentMagic
  std::uint32_t node;
  std::uint32_t header_pages;  // pages [0, header_pages) hold this header
  std::size_t mapped_bytes;    // kSegmentSize, or the huge mapping's length
  bool huge;
  SegmentHeader* next_in_node;            // guarded by: node page allocator lock
  std::atomic<std::uint32_t> used_pages;  // pages allocated (not free, not header); 0 for huge
  PageDesc pages[kPagesPerSegment];
};

// Pages [0, kSegmentHeaderPages) of every segment (huge ones too) hold the
// header: the descriptor array alone is 32 KiB, so this is 9 pages.
inline constexpr std::size_t kSegmentHeaderPages =
    (sizeof(SegmentHeader) + kPageSize - 1) / kPageSize;
static_assert(kSegmentHeaderPages == 9, "segment header layout changed: update the comments");

inline constexpr std::uint64_t kSegmentMagic = 0x6e756d61736c6162ULL;  // "numaslab"

// A descriptor's kind is relabelled by the run's owner (slab grow/destroy,
// large kmalloc) without the node's page lock, while the buddy allocator reads
// a neighbour's kind under it to decide a merge. Both sides use these
// (relaxed atomics): the merge only cares about kFree, which an allocated run
// never has.
inline PageKind page_kind(const PageDesc* d) {
  return static_cast<PageKind>(
      __atomic_load_n(reinterpret_cast<const std::uint8_t*>(&d->kind), __ATOMIC_RELAXED));
}
inline void set_page_kind(PageDesc* d, PageKind k) {
  __atomic_store_n(reinterpret_cast<std::uint8_t*>(&d->kind), static_cast<std::uint8_t>(k),
                   __ATOMIC_RELAXED);
}

inline constexpr unsigned kAddressBits = 47;
inline constexpr std::uintptr_t kAddressLimit = std::uintptr_t{1} << kAddressBits;
// The segment registry: one byte per possible segment (page_map.cc).
inline constexpr std::size_t kSegmentMapBytes = std::size_t{1} << (kAddressBits - kSegmentShift);
[[noreturn]] void page_lookup_corrupt(const void* seg, const void* p);

}  // namespace numaslab::detail
extern "C" std::uint8_t ns_segment_map[numaslab::detail::kSegmentMapBytes];
namespace numaslab::detail {

// True if `p` lies in a segment we registered. Never dereferences `p`.
inline bool segment_registered(const void* p) {
  auto addr = reinterpret_cast<std::uintptr_t>(p);
  if (__builtin_expect(addr >= kAddressLimit, 0)) return false;
  return std::atomic_ref<std::uint8_t>(ns_segment_map[addr >> kSegmentShift])
             .load(std::memory_order_acquire) != 0;
}

// Returns the descriptor of the page holding `p`, or nullptr if `p` is not in
// a segment we own. Never dereferences memory that is not ours. A pointer into
// the second or later 4 MiB of a huge mapping is not resolvable, by design.
inline PageDesc* page_lookup(const void* p) {
  if (!segment_registered(p)) return nullptr;
  auto addr = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t base = addr & ~(std::uintptr_t{kSegmentSize} - 1);
  auto* seg = reinterpret_cast<SegmentHeader*>(base);
  if (__builtin_expect(seg->magic != kSegmentMagic, 0)) page_lookup_corrupt(seg, p);
  return &seg->pages[(addr - base) >> kPageShift];
}

// For pointers known to be ours (taken from our own arrays): no registry check.
inline PageDesc* page_lookup_trusted(const void* p) {
  auto addr = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t base = addr & ~(std::uintptr_t{kSegmentSize} - 1);
  return &reinterpret_cast<SegmentHeader*>(base)->pages[(addr - base) >> kPageShift];
}

// Address of the first byte of the page described by `d`.
void* page_address(const PageDesc* d);

// Segment of a descriptor.
inline SegmentHeader* segment_of(const PageDesc* d) {
  return reinterpret_cast<SegmentHeader*>(reinterpret_cast<std::uintptr_t>(d) &
                                          ~(std::uintptr_t{kSegmentSize} - 1));
}

// Registry maintenance (page allocator only).
void segment_register(SegmentHeader* seg);
void segment_unregister(SegmentHeader* seg);

// The registry lock, for the fork handlers (page_allocator_lock_for_fork).
void segment_registry_lock_for_fork();
void segment_registry_unlock_after_fork();

}  // namespace numaslab::detail
