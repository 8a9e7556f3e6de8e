// numaslab — kmalloc: general-purpose allocation over size classes.
//
// Contract:
//  * Classes: 8, 16, 32, 48, 64, 80, 96, 112, 128, then four per doubling
//    (160 … 32768): at most 4 classes per doubling, waste below 25%.
//    size_class() is O(1) (two byte tables); the fast path maps a size to its
//    cache with one load: indexed by the size itself up to 1 KiB, by
//    (size + 127) >> 7 up to 32 KiB. Until start-up fills it, every entry is an empty stand-in
//    cache whose slots send every fast path to the slow path. Class caches are named
//    "kmalloc-<size>"; their objects are naturally aligned: to the largest
//    power of two dividing the class size, at most a page (class_align), so
//    every object is 16-byte aligned except in the 8-byte class, and a
//    64-byte class object is 64-byte aligned.
//  * kmalloc_aligned(size, align) serves an alignment (a power of two) from
//    the smallest class that fits and whose objects have that alignment, up
//    to a page; above, from a page run of the alignment's order (up to
//    2 MiB), or for a block larger than the largest run a mapping whose block
//    starts at that alignment. A larger alignment fails with ENOMEM.
//    kmalloc_aligns(size, align) says when kmalloc itself is aligned enough.
//  * Above 32 KiB: a page run from the node's page allocator (up to 2 MiB),
//    above that a mapping of its own. Such blocks are page aligned.
//  * kmalloc(0) returns a unique minimal object. A size that cannot be
//    represented (> kMaxKmallocSize, or overflow) returns nullptr with ENOMEM,
//    as does memory exhaustion.
//  * kfree(nullptr) does nothing. kfree of a pointer numaslab never returned,
//    an interior pointer, or a double free is fatal with a one-line diagnostic.
#pragma once

#include <cstddef>

#include "cache/cache.h"

namespace numaslab::detail {

inline constexpr std::size_t kKmallocMaxCached = 32768;
inline constexpr std::size_t kMaxKmallocSize = std::size_t{1} << 40;
inline constexpr int kNumKmallocClasses = 41;

int size_class(std::size_t size);  // -1 if size > kKmallocMaxCached
std::size_t class_size(int cls);
std::size_t class_align(int cls);  // alignment of every object of the class
Cache* kmalloc_cache(int cls);
void kmalloc_set_cache(int cls, Cache* c);  // bootstrap only
// Points the fast path's size table at the class caches (end of bootstrap).
void kmalloc_publish_table();

void* kmalloc(std::size_t size);
void* kmalloc_node(std::size_t size, int node);
// numaslab's own metadata (arrays, alien sets, node lists): one object
// straight from node's slabs, so a rare allocation never refills a CPU array
// with a batch of its class (nor charges the CPU's budget for it). Falls back
// to kmalloc_node where the node cannot serve it.
void* kmalloc_metadata(std::size_t size, int node);
// align: a power of two; nullptr with ENOMEM if it cannot be served.
// node -1: the current node.
void* kmalloc_aligned(std::size_t size, std::size_t align, int node = -1);
// kmalloc(size) is align-aligned: every class is 16-byte aligned but the 8-byte one.
inline bool kmalloc_aligns(std::size_t size, std::size_t align) {
  return align <= 8 || (align <= 16 && size > 8);
}
inline constexpr std::size_t kMaxKmallocAlign = kPageSize << kMaxRunOrder;  // 2 MiB
void kfree(void* p);
// realloc's semantics over kmalloc: p nullptr is kmalloc(size); otherwise the
// block stays where it is while `size` fits it and uses more than half of it
// (a huge block grows or shrinks in place or moves by remapping, without a
// copy), else the contents move to a new block. nullptr with ENOMEM (p
// untouched) on failure. size 0 gives a minimal block, as kmalloc(0).
void* krealloc(void* p, std::size_t size);
// calloc's block above the largest class (size > kKmallocMaxCached, numaslab
// started, in a fork gate section): a page run taken from released memory
// where the node has one, or a mapping of its own, reads as zero and is not
// written (no page faults in until the caller touches it); any other run is
// cleared. nullptr with ENOMEM on failure.
void* kzalloc_large(std::size_t size);
// The paths behind the entry points' fast paths (api/slow_path_entry.cc).
void* kmalloc_slow(std::size_t size);
void kfree_slow(void* p);
std::size_t ksize(const void* p);  // 0 for nullptr; fatal for foreign pointers

}  // namespace numaslab::detail
