// numaslab — verify(): walks every cache and checks the invariants.
//
// Contract: for every cache and node — list membership matches inuse; each
// slab's free list has num - inuse entries, in range, acyclic; free_objects
// equals the free objects counted; every page of a slab maps back to it; every
// array (per-CPU, shared, alien) has 0 <= avail <= limit, holds only objects
// of its cache in state kBufctlCached, from the right node (a CPU's node, the
// shared array's node, the alien array's home), with no duplicate inside one
// array; a CPU has an array iff it is online; in a debug cache, the red
// zone of every object in use and the poison and red zone of every free one
// (debug/slab_debug.h: one line per bad object). Then conservation (R6):
//   user + Σ arrays + free_in_slabs == num_slabs * num,
// with Σ arrays == number of objects in state kBufctlCached.
// Objects may move between the pieces while verify runs, so call it at a
// quiescent point (the stress tool pauses its workers). It takes the registry
// mutex (no hotplug, create or destroy meanwhile), then each slot, alien and
// list lock one at a time. Writes a readable report; returns the error count.
#pragma once

#include <cstddef>

namespace numaslab::detail {

int verify_all(char* buf, std::size_t len);

}  // namespace numaslab::detail
