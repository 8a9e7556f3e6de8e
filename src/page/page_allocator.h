// numaslab — per-node page allocator (the buddy allocator analogue).
//
// Contract:
//  * alloc_pages(node, order) returns 2^order contiguous, page-aligned pages
//    whose memory belongs to `node` (its segments; mbind-preferred to the node
//    when the topology says so), or nullptr with errno = ENOMEM (mmap failed or
//    order > kMaxRunOrder). The head descriptor is kAllocated, the others kTail;
//    the caller may then relabel them (kSlab, kLargeHead) — it must keep
//    `order` and `node` as they are.
//    With `zeroed` it also says whether the run reads as zero (released or
//    never touched), and a large run comes from released memory first
//    (calloc: kZeroedRunOrder below).
//  * free_pages(p, order) returns a run from alloc_pages; buddies coalesce.
//    Freeing a pointer that is not the head of an allocated run of that order
//    is a fatal, named error.
//  * alloc_huge(bytes, node, align) maps a segment of its own for `bytes` (>
//    the largest run) and returns its first page past the header pages that
//    is `align`-aligned (a power of two, at most kMaxHugeAlign; kind kHuge,
//    size = bytes), or nullptr with errno = ENOMEM; free_huge() unmaps it.
//  * Free memory is kept (hysteresis); release_idle() madvises blocks that
//    stayed free long enough, trim_node() unmaps whole free segments — both
//    the reaper's job — and a free above the node's keep (set_keep_free_bytes)
//    releases at once. A free block's descriptor `size` holds the time it
//    became free (ms, coarse clock) while its pages may be resident, and 0
//    once they were released (or never touched).
//  * Statistics are exact at quiescent points: pages_in_use(node) ==
//    sum over the node's segments of used_pages.
// Locks: one SpinLock per node, rank kPages; the segment registry (kSegments)
// ranks inside it. mmap/munmap and registry updates are done outside the node
// lock (a new segment is private until published). Callers must not
// hold a kPages lock (they never do: the slab layer calls in with at most a
// list_lock held, or none).
#pragma once

#include <cstddef>
#include <cstdint>

#include "page/page_map.h"

namespace numaslab::detail {

struct PageAllocatorStats {
  std::size_t segments = 0;      // mapped segments (not huge)
  std::size_t pages_in_use = 0;  // pages handed out (runs), excluding headers
  std::size_t pages_free = 0;    // pages in free buddy blocks
  std::size_t huge_mappings = 0;
  std::size_t huge_bytes = 0;           // bytes mapped for huge allocations (incl. headers)
  std::size_t resident_free_pages = 0;  // free pages that may be resident (not released)
};

// Must be called once before use. bind: mbind new segments to their node.
void page_allocator_init(int num_nodes, bool bind);
// Unmaps every segment and forgets every page: only for a start-up that
// failed before anything was handed out (huge mappings are not tracked here
// and must not exist).
void page_allocator_reset();

// zeroed: a caller that wants memory reading as zero (calloc) passes a flag,
// and *zeroed says whether the run does (it was released, or never touched).
// A run of kZeroedRunOrder or more then comes from released memory when the
// node has a block that fits: clearing a resident run that large costs more
// than the faults of the pages its user touches, and keeps all of it
// resident. Smaller runs come from resident memory first, as always (their
// clearing is cheap; released pages would fault in to be cleared).
inline constexpr unsigned kZeroedRunOrder = 6;  // 256 KiB
void* alloc_pages(int node, unsigned order, bool* zeroed = nullptr);
// A run from the node's resident free blocks only (no released block, no new
// segment), or nullptr (errno untouched): a caller that can make resident
// memory free elsewhere (cache/surplus.cc) asks this first.
void* alloc_resident_pages(int node, unsigned order);
void free_pages(void* p, unsigned order);

inline constexpr std::size_t kMaxHugeAlign = kSegmentSize / 2;
void* alloc_huge(std::size_t bytes, int node, std::size_t align = kPageSize);
void free_huge(void* p);
// Resizes a huge allocation to `bytes` (> the largest run) by remapping: in
// place when the address space allows, else moved without copying (keeping
// its alignment). Returns the (possibly new) address, or nullptr with
// errno = ENOMEM (p unchanged).
void* resize_huge(void* p, std::size_t bytes);

// Unmaps completely free segments of `node` (keeping `keep` of them). With
// clean_only, only segments whose memory was already released (below) count.
// Returns bytes returned to the OS.
std::size_t trim_node(int node, std::size_t keep, bool clean_only = false);

// Returns to the OS (madvise MADV_DONTNEED) the memory of free blocks of
// `node` that have stayed free for at least min_age_ms — hysteresis, because a
// page faulted back in costs far more than keeping it. Returns bytes released.
// The blocks stay free and usable; their pages read back as zero.
// At most max_pages pages (largest blocks first).
std::size_t release_idle(int node, std::uint64_t min_age_ms,
                         std::size_t max_pages = ~std::size_t{0});

// Resident free memory a node keeps — its keep: the larger of
// NUMASLAB_KEEP_FREE_BYTES (default 8 MiB) and its pages in use >>
// kKeepInUseShift, so a large heap that breathes keeps its pages and a small
// one stays small. A free_pages that takes the node's resident free pages
// above the keep releases memory at once, down to half of it, largest blocks
// first: blocks free for at least kFreshFreeMs first (a block freed just now
// is the likeliest to be asked for again), then fresher ones. Below the
// keep, free memory waits for release_idle (the reaper). Allocation takes
// resident blocks before released ones (but a large run asked for with
// `zeroed`).
inline constexpr unsigned kKeepInUseShift = 1;
inline constexpr std::uint64_t kFreshFreeMs = 50;
void set_keep_free_bytes(std::size_t bytes);

PageAllocatorStats page_allocator_stats(int node);

// Every node lock, then the segment registry lock, for the fork handlers
// (no validator bookkeeping); and their release.
void page_allocator_lock_for_fork();
void page_allocator_unlock_after_fork();

}  // namespace numaslab::detail
