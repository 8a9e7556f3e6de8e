// numaslab — statistics as numbers, for code (numaslab_cache_stats and
// numaslab_stats in numaslab.h): the counters slabinfo prints, without text.
//
// Contract: cache_stats() fills one cache's counters (CacheTotals plus the
// geometry and tunables); process_stats() sums every cache and adds the page
// allocator's bytes per node and the reaper's counters. Both take the
// registry mutex, then each list and slot lock one at a time (as
// slabinfo_text); they allocate nothing and may run at any time.
#pragma once

struct numaslab_cache_stats;
struct numaslab_stats;

namespace numaslab::detail {

struct Cache;

void cache_stats(Cache* c, struct numaslab_cache_stats* out);
void process_stats(struct numaslab_stats* out);

}  // namespace numaslab::detail
