// numaslab — the statistics summary NUMASLAB_STATS=1 prints at exit
// (runtime/process.cc; malloc_stats() prints it on demand): process totals, the page allocator, the
// per-CPU array counters, the reaper, hotplug events, then slabinfo's line
// of every cache that ever grew.
//
// Contract: write_summary(fd) writes the text with write(2); its only
// allocation is the slabinfo buffer, from kmalloc. It takes the locks
// slabinfo_text and process_stats take, one at a time, so it may run at any
// time after start-up (before it, it writes one line saying so).
#pragma once

namespace numaslab::detail {

void write_summary(int fd);

}  // namespace numaslab::detail
