// numaslab — the per-cache steps of a CPU event: what the kernel's
// cpuup_callback does to every cache (DESIGN.md §3). hotplug/ runs the
// protocol — the events, the order over caches, the second pass — and calls
// these for each cache; the bootstrap and cache creation call the prepare
// steps for the CPUs already online.
//
// Contract (all with the registry mutex held):
//  * cache_prepare_node(c, n): node n's lists exist (R1: created once, freed
//    only by cache destroy) and its free_limit counts its online CPUs.
//  * cache_prepare_cpu(c, cpu) — CPU_UP_PREPARE: allocates the CPU's array
//    and the alien set before taking any lock, attaches the array under the
//    slot stop, installs the alien set under the node's list_lock only if
//    absent, and frees what it did not install after unlocking (R2). -ENOMEM
//    leaves nothing installed it could not complete. (The node's shared
//    array is made, the same way, at the first flush that needs it:
//    ensure_shared_array.)
//  * cache_cpu_dead(c, cpu) — CPU_DEAD (and UP_CANCELED): detaches the CPU's
//    array, returns its objects under the list_lock and lowers free_limit; on
//    the node's last CPU also returns the shared array and detaches shared
//    and alien; after unlocking frees shared, drains every alien array home
//    and frees them, then frees the CPU's array (R3, R4).
//  * cache_shrink_node(c, n): destroys node n's free slabs — the second pass
//    after every cache's first (R4).
// Locks: registry → slot → alien → list_lock; nothing is freed into the
// allocator while a list_lock is held.
#pragma once

#include "cache/cache.h"
#include "cache/registry.h"

namespace numaslab::detail {

int cache_prepare_node(Cache* c, int node) NS_REQUIRES(registry().mutex);
int cache_prepare_cpu(Cache* c, int cpu) NS_REQUIRES(registry().mutex);
void cache_cpu_dead(Cache* c, int cpu) NS_REQUIRES(registry().mutex);
void cache_shrink_node(Cache* c, int node) NS_REQUIRES(registry().mutex);

}  // namespace numaslab::detail
