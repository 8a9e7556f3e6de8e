// Checks the constants the hand-written fast paths hard-code
// (fast_path_layout.h) against the C++ types.
#include "cache/fast_path_layout.h"

#include <cstddef>

#include "cache/kmalloc.h"

namespace numaslab::detail {

static_assert(NS_SLOTS_OFF == Cache::slots_offset());
static_assert(offsetof(Cache, fast_path_guard) + 2 * sizeof(CpuSlot) == Cache::slots_offset(),
              "cpu_id -1 and -2 must index the guard slots");
static_assert(NS_RSEQ_CPU_ID == 4);
static_assert(NS_SLOT_SHIFT == 7 && sizeof(CpuSlot) == (1u << NS_SLOT_SHIFT));
static_assert(NS_SLOT_TOP == offsetof(CpuSlot, top));
static_assert(NS_SLOT_BASE == offsetof(CpuSlot, base));
static_assert(NS_SLOT_CAP == offsetof(CpuSlot, cap));
static_assert(NS_SLOT_NODE == offsetof(CpuSlot, node) && sizeof(CpuSlot::node) == 2 &&
              offsetof(CpuSlot, stopped) == NS_SLOT_NODE + 2 &&
              offsetof(CpuSlot, zero_) == NS_SLOT_NODE + 3);
static_assert(NS_SLOT_STOPPED == offsetof(CpuSlot, stopped));
static_assert(NS_SLOT_HITS == offsetof(CpuSlot, alloc_hits));
static_assert(NS_SEGMENT_SHIFT == kSegmentShift);
static_assert(NS_SEGMENT_MASK == -static_cast<long>(kSegmentSize));
static_assert(NS_SEGMENT_MAP_LAST == kSegmentMapBytes - 1);
static_assert(NS_PAGES_OFF == offsetof(SegmentHeader, pages));
static_assert(sizeof(PageDesc) == 32 && kPagesPerSegment == 1024 && kPageShift == 12 &&
              NS_DESC_SHIFT == kPageShift - 5 && NS_DESC_MASK == (kPagesPerSegment - 1) * 32);
static_assert(NS_DESC_KIND == offsetof(PageDesc, kind) && sizeof(PageKind) == 1);
static_assert(NS_DESC_NODE == offsetof(PageDesc, node) && sizeof(PageDesc::node) == 2);
static_assert(NS_DESC_OWNER == offsetof(PageDesc, owner));
static_assert(NS_KIND_SLAB == static_cast<int>(PageKind::kSlab));
static_assert(NS_KMALLOC_MAX == kKmallocMaxCached && NS_KMALLOC_SMALL == 1024 &&
              NS_KMALLOC_BIG_SHIFT == 7);

}  // namespace numaslab::detail
