// numaslab — the reaper: background maintenance (the kernel's cache_reap).
//
// Contract:
//  * A background thread (started at init unless NUMASLAB_REAP=0; stoppable)
//    visits each online CPU about every NUMASLAB_REAP_MS (default 2 s),
//    staggered so visits spread over the period. A CPU that goes down is no
//    longer visited; it is again once it comes back.
//  * A visit to CPU c, for every cache, never blocking (registry trylock, alien
//    trylock; a busy registry skips the visit):
//      - drains one alien array of c's node, round-robin over home nodes;
//      - trims c's array by about a fifth of its limit (at most half of what it
//        holds) unless it was touched since the last visit — the "touched"
//        hysteresis keeps busy CPUs' caches warm; an array untouched for
//        kIdleDrainVisits visits is drained completely (idle catch-all);
//      - at most every two periods per node: trims the shared array the same
//        way, and destroys its surplus free slabs and about a fifth of
//        free_limit's worth more (none if free slabs were needed since the
//        last time: free_touched).
//    Nodes without online CPUs get the node-level work too (the kernel never
//    reaped them).
//  * After each round the page allocator releases (madvise) free memory that
//    stayed free for NUMASLAB_RELEASE_DELAY_MS, and unmaps whole free segments
//    already released (keeping one per node).
//  * reap_now(): one synchronous, forced round — every array drained, every
//    free slab destroyed, all free memory released now.
// Locks: registry (trylock) → slot → alien (trylock) → list_lock; slabs are
// destroyed and memory released with none held.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cache/registry.h"

namespace numaslab::detail {

inline constexpr std::uint32_t kIdleDrainVisits = 3;

// Starts the background thread unless NUMASLAB_REAP=0. False (errno kept in
// the return of reaper_start_error()) if the thread could not be created.
bool reaper_start();
int reaper_start_error();
void reaper_stop();
bool reaper_running();
// Fork: the reaper mutex is held across fork (lock_for_fork/unlock_after_fork,
// no validator); the child has no reaper thread, so it forgets it (the
// runtime starts a new one when the child next allocates).
void reaper_lock_for_fork();
void reaper_unlock_after_fork();
void reaper_forget_in_child();

// Visits one CPU (as the background thread does). Returns false if the
// registry was busy and the visit was skipped.
bool reap_cpu(int cpu, bool force);
// Node-level work for one node.
void reap_node(int node, bool force);
// A forced round over every CPU and node, then memory release with no delay.
// Returns bytes given back to the OS.
std::size_t reap_now() NS_EXCLUDES(registry().mutex);

struct ReaperStats {
  std::uint64_t visits = 0;
  std::uint64_t skipped = 0;          // registry busy
  std::uint64_t objects_drained = 0;  // from CPU and shared arrays
  std::uint64_t alien_drains = 0;
  std::uint64_t slabs_destroyed = 0;
  std::uint64_t bytes_released = 0;  // madvise'd or unmapped
};
ReaperStats reaper_stats();

}  // namespace numaslab::detail
