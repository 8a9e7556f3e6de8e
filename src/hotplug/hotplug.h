// numaslab — CPU hotplug: the seed patch's protocol over all caches (the
// kernel's cpuup_callback; the steps it runs on each cache are
// cache/cpu_up_down.h).
//
// Contract (DESIGN.md §3, rules R1–R6):
//  * cpu_up(c): UP_PREPARE — under the registry mutex, every cache first gets
//    node lists on c's node (R1: created once, never freed on down), then c's
//    per-CPU array and, if the node lacks them, a shared array and alien
//    arrays, all allocated before any list_lock is taken and installed under
//    it, spares freed after (R2). Then ONLINE: c joins the online mask and
//    every cache's free_limit on the node follows the new CPU count.
//    A failed UP_PREPARE runs UP_CANCELED, which is the DEAD path: nothing
//    allocated for c survives (node lists excepted, by R1).
//  * cpu_down(c): c leaves the online mask (sim-mode threads on c migrate,
//    same node first), then DEAD. Pass 1, per cache: detach c's array under
//    its slot lock (which waits out any thread still inside it), return its
//    objects to the slabs under the node's list_lock and lower free_limit; if
//    c was the node's last online CPU also return the shared array's objects
//    and detach shared and alien; unlock; then free the shared array, drain
//    every alien array home and free them, free c's array (R3, R4). Pass 2:
//    every cache shrinks the node's free slabs.
//  * Both return 0 or -EINVAL (no such CPU), -EALREADY (already in that
//    state), -EBUSY (the last online CPU), -ENOMEM (UP_PREPARE failed).
// Locks: registry mutex for the whole event; below it the cache layer's order.
#pragma once

#include <cstdint>

#include "cache/registry.h"

namespace numaslab::detail {

int hotplug_cpu_up(int cpu) NS_EXCLUDES(registry().mutex);
int hotplug_cpu_down(int cpu) NS_EXCLUDES(registry().mutex);

struct HotplugStats {
  std::uint64_t ups = 0;
  std::uint64_t downs = 0;
  std::uint64_t canceled = 0;
  std::uint64_t last_cpu_of_node_downs = 0;
};
HotplugStats hotplug_stats();

}  // namespace numaslab::detail
