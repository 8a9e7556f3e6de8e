// numaslab — statistics in the /proc/slabinfo 2.1 format (the kernel's s_show;
// writes to /proc/slabinfo, slabinfo_write, are cache/tune.h's).
//
// Contract: slabinfo_text() writes the two header lines and one line per
// cache (registry order, newest first), formatted exactly as the kernel's
// slabinfo 2.1 with statistics:
//   name active_objs num_objs objsize objperslab pagesperslab
//   : tunables limit batchcount sharedfactor
//   : slabdata active_slabs num_slabs sharedavail
//   : globalstat listallocs maxobjs grown reaped error maxfreeable nodeallocs
//                remotefrees alienoverflow
//   : cpustat allochit allocmiss freehit freemiss
// objsize is the object stride (buffer_size), as in the kernel. Per-CPU
// counters are summed on read. Takes the registry mutex, then each list and
// slot lock one at a time; allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace numaslab::detail {

struct Cache;

struct CacheTotals {
  std::uint64_t active_objs = 0, num_objs = 0, active_slabs = 0, num_slabs = 0;
  std::uint64_t shared_avail = 0, free_objects = 0;
  std::uint64_t list_allocs = 0, high_mark = 0, grown = 0, reaped = 0;
  std::uint64_t max_freeable = 0, node_allocs = 0, node_fallbacks = 0;
  std::uint64_t remote_frees = 0, alien_overflows = 0;
  std::uint64_t alloc_hit = 0, alloc_miss = 0, free_hit = 0, free_miss = 0;
};

// Sums one cache's counters. Caller holds the registry mutex.
CacheTotals cache_totals(Cache* c);

std::size_t slabinfo_text(char* buf, std::size_t len);

// The state of the background services, as the layer that starts them
// (runtime/) reports it.
struct ServicesStatus {
  bool reaper_running = false;
  int reaper_error = 0;  // errno of the last failed start, 0 if none
  bool watcher_running = false;
  int watcher_error = 0;
  bool pending = false;  // a wanted service is not running and will be retried
  std::uint64_t start_failures = 0;
  std::uint64_t retries = 0;
};

// The same data as JSON, plus per-node lists and per-CPU arrays, the
// topology, page-allocator bytes per node, the services and reaper counters.
// Cache names need no escaping: cache_create accepts only printable ASCII
// without spaces, quotes or backslashes.
std::size_t slabinfo_json(char* buf, std::size_t len, const ServicesStatus& services);

}  // namespace numaslab::detail
