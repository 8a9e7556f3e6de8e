// Shared helpers for the reaper tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "cache/alien_cache.h"
#include "cache/registry.h"
#include "numaslab/numaslab.h"

namespace reaptest {

inline numaslab::detail::Cache* internal(numaslab_cache* c) {
  return reinterpret_cast<numaslab::detail::Cache*>(c);
}

// Starts numaslab with the background reaper off, so tests drive it.
inline void init_manual(const char* topo = "sim:2x2") {
  setenv("NUMASLAB_REAP", "0", 1);
  ASSERT_EQ(numaslab_init(topo), 0);
}

inline std::uint32_t array_avail(numaslab_cache* c, int cpu) {
  auto& s = internal(c)->slot(cpu);
  numaslab::detail::LockGuard<numaslab::detail::SpinLock> g(s.lock);
  return s.avail();
}

inline long rss_bytes() {
  std::ifstream f("/proc/self/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace reaptest
