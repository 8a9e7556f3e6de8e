#include "stats/summary.h"

#include <unistd.h>

#include <cstring>

#include "base/format.h"
#include "cache/kmalloc.h"
#include "cache/registry.h"
#include "hotplug/hotplug.h"
#include "numaslab/numaslab.h"
#include "page/page_allocator.h"
#include "stats/slabinfo.h"
#include "stats/totals.h"

namespace numaslab::detail {

namespace {

unsigned long long kib(unsigned long long bytes) { return (bytes + 1023) / 1024; }

void put(int fd, const char* line, std::size_t n, std::size_t cap) {
  write_all(fd, line, n < cap ? n : cap - 1);
}

// Writes the slabinfo lines of caches that ever grew (and the header).
void write_slabinfo(int fd) {
  const std::size_t len = slabinfo_text(nullptr, 0);
  char* text;
  {
    NS_INTERNAL_ALLOCATION;
    text = static_cast<char*>(kmalloc(len + 1));
  }
  if (!text) return;
  slabinfo_text(text, len + 1);
  char* line = text;
  int row = 0;
  while (*line) {
    char* end = std::strchr(line, '\n');
    const std::size_t n = end ? static_cast<std::size_t>(end - line) + 1 : std::strlen(line);
    // Header lines first; then a cache line whose num_objs (third field) is 0
    // never grew and is left out.
    bool keep = row++ < 2;
    if (!keep) {
      const char* f = line;
      for (int field = 0; field < 2 && f < line + n; ++field) {
        while (f < line + n && *f != ' ') ++f;
        while (f < line + n && *f == ' ') ++f;
      }
      keep = f < line + n && *f != '0';
    }
    if (keep) write_all(fd, line, n);
    line += n;
  }
  kfree(text);
}

}  // namespace

void write_summary(int fd) {
  char line[512];
  std::size_t n;
  if (!booted()) {
    n = format(line, sizeof line, "numaslab: statistics (pid %d): never started\n",
               static_cast<int>(getpid()));
    put(fd, line, n, sizeof line);
    return;
  }
  struct numaslab_stats st;
  process_stats(&st);
  // Free pages not yet returned to the OS (an upper bound: a block counts
  // as resident if any of it may be).
  unsigned long long resident_free = 0;
  for (int node = 0; node < st.nodes; ++node)
    resident_free += page_allocator_stats(node).resident_free_pages * kPageSize;
  const HotplugStats hp = hotplug_stats();
  n = format(line, sizeof line,
             "numaslab: statistics (pid %d): topology %s, %d nodes, %d of %d CPUs online\n"
             "  caches %llu: %llu objects active of %llu in %llu slabs (%llu KiB of slabs)\n"
             "  memory: %llu KiB in use (slabs and large blocks), %llu KiB free and kept "
             "(%llu KiB of it resident, at most), %llu segments\n"
             "  per-CPU arrays: alloc %llu hits %llu misses, free %llu hits %llu misses, "
             "%llu remote frees\n"
             "  reaper: %llu visits, %llu slabs destroyed, %llu KiB released\n"
             "  hotplug: %llu up, %llu down, %llu canceled, %llu left a node without CPUs\n",
             static_cast<int>(getpid()), topology().spec_text(), st.nodes, st.online_cpus,
             st.possible_cpus, st.caches, st.active_objs, st.num_objs, st.num_slabs,
             kib(st.slab_bytes), kib(st.bytes_in_use), kib(st.bytes_free), kib(resident_free),
             st.segments, st.alloc_hit, st.alloc_miss, st.free_hit, st.free_miss, st.remote_frees,
             st.reaper_visits, st.reaper_slabs_destroyed, kib(st.reaper_bytes_released),
             static_cast<unsigned long long>(hp.ups), static_cast<unsigned long long>(hp.downs),
             static_cast<unsigned long long>(hp.canceled),
             static_cast<unsigned long long>(hp.last_cpu_of_node_downs));
  put(fd, line, n, sizeof line);
  write_slabinfo(fd);
}

}  // namespace numaslab::detail
