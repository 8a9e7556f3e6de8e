// numaslab — tuning a cache's limit, batchcount and shared factor at run time.
//
// Contract: cache_tune() builds every new array first (per-CPU arrays for
// online CPUs, shared arrays for nodes with online CPUs), then swaps each CPU's
// array under its slot lock and each node's shared array under its list_lock,
// returns the old arrays' objects to their slabs, and frees the old arrays
// after unlocking (R2/R3). Safe under concurrent allocation and frees.
// Invalid values — limit < 1 or > kMaxArrayLimit, batchcount < 1 or > limit,
// shared < 0 or > kMaxSharedFactor — return -EINVAL and change nothing;
// -ENOMEM also changes nothing. Alien arrays keep their size (as the kernel).
// tune_line() accepts "name limit batchcount shared", the text a root user
// writes to /proc/slabinfo; unknown cache → -ENOENT, malformed → -EINVAL.
// Locks: registry mutex (caller for cache_tune), then slot, then list_lock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cache/cache.h"
#include "cache/registry.h"

namespace numaslab::detail {

inline constexpr std::uint32_t kMaxArrayLimit = 4096;
inline constexpr std::uint32_t kMaxSharedFactor = 64;
inline constexpr std::size_t kMaxTuneLine = 128;

int cache_tune(Cache* c, long limit, long batch, long shared) NS_REQUIRES(registry().mutex);
int tune_by_name(const char* name, long limit, long batch, long shared);
int tune_line(const char* line);

}  // namespace numaslab::detail
