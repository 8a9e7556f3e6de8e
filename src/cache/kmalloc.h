// numaslab — kmalloc: general-purpose allocation over size classes.
//
// Contract:
//  * Classes: 8, 16, 32, 48, 64, 80, 96, 112, 128, then four per doubling
//    (160 … 32768): at most 4 classes per doubling, waste below 25%.
//    size_class() is O(1) (two byte tables); the fast path maps a size to its
//    cache with one load: indexed by the size itself up to 1 KiB, by
//    (size + 127) >> 7 up to 32 KiB. Until start-up fills it, every entry is an empty stand-in
//    cache whose slots send every fast path to the slow path. Class caches are named
//    "kmalloc-<size>" and align objects to 16 bytes (8 for the 8-byte class).
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
Cache* kmalloc_cache(int cls);
void kmalloc_set_cache(int cls, Cache* c);  // bootstrap only
// Points the fast path's size table at the class caches (end of bootstrap).
void kmalloc_publish_table();

void* kmalloc(std::size_t size);
void* kmalloc_node(std::size_t size, int node);
void kfree(void* p);
// The paths behind the entry points' fast paths (api/slow_path_entry.cc).
void* kmalloc_slow(std::size_t size);
void kfree_slow(void* p);
std::size_t ksize(const void* p);  // 0 for nullptr; fatal for foreign pointers

}  // namespace numaslab::detail
