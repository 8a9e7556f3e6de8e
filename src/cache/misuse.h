// numaslab — naming the caller's mistakes: what a bad free, a use of a
// destroyed cache or a stale handle really is, in one line.
//
// Contract:
//  * Everything here runs off the fast paths: in the failure branch of a
//    check the fast path makes anyway, in a slow path a destroyed cache is
//    steered into (its per-CPU slots hold no array and it has no node
//    lists), or in destroy/shrink under the registry mutex.
//  * A destroyed cache's descriptor is not freed at once: it is quarantined
//    (marked destroyed, name kept) for the next kQuarantine destroys, so a
//    stale handle is recognised instead of reaching a new cache that reused
//    the memory. Beyond that window a stale handle is reported as "not a
//    cache" by destroy and shrink (the registry is searched first).
//  * The recently freed ring remembers the addresses of the last
//    kFreedBlocks large and huge blocks freed, so a second free of one is
//    named a double free, and a free of a free page numaslab never handed
//    out is not.
// Locks: quarantine under the registry mutex; the freed ring is lock-free.
#pragma once

#include <cstddef>

#include "cache/cache.h"

namespace numaslab::detail {

inline constexpr int kQuarantine = 64;
inline constexpr int kFreedBlocks = 256;

// True once cache_destroy has taken c out of service.
inline bool cache_destroyed(const Cache* c) {
  return __atomic_load_n(&c->destroyed, __ATOMIC_RELAXED);
}
[[noreturn]] void report_destroyed(const Cache* c, const char* api);

// numaslab_cache_free(c, obj) found obj is not an object of c (d may be
// nullptr): says whether obj is foreign, inside another cache's object or
// a free page, or whether c itself was destroyed.
[[noreturn]] void report_bad_cache_free(const Cache* c, const PageDesc* d, const void* obj,
                                        const char* api);

// kfree (freeing) or ksize met a pointer that is not allocated: a large or
// huge block freed already (named from the freed ring), else a pointer
// numaslab never returned — into one of its free pages (free_page) or not.
[[noreturn]] void report_not_allocated(const void* p, const char* api, bool freeing,
                                       bool free_page);

void freed_blocks_note(const void* p, std::size_t size);  // a large/huge block was freed
void freed_blocks_forget(const void* p);                  // ... and handed out again
// Size of the block freed at p if it is in the ring, else 0.
std::size_t freed_blocks_find(const void* p);

}  // namespace numaslab::detail
