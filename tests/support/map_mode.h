// Map mode for tests: real CPUs (sched_getcpu, rseq when available) with
// CPU 0 on node 0 and every other CPU on node 1, the CPUs' possible/online
// files served by a fake sysfs the test controls (testing_fakes::FakeSysfs).
#pragma once

#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <string>

#include "fakes/fake_platform.h"
#include "numaslab/numaslab.h"
#include "topology/cpu_mask.h"

namespace numaslab::test_support {

using testing_fakes::FakeSysfs;

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

inline std::string range_text(int first, int last) {
  return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

// The machine's CPU count if map-mode tests on real CPUs can run here (CPUs
// 0..n-1 possible, n >= 2, all in this process's affinity), else 0 with a
// reason.
inline int map_mode_cpus(std::string* why) {
  const std::string text = read_text("/sys/devices/system/cpu/possible");
  detail::CpuMask possible;
  if (text.empty() || !detail::parse_cpulist(text.c_str(), &possible)) {
    *why = "cannot read /sys/devices/system/cpu/possible";
    return 0;
  }
  const int n = possible.last() + 1;
  if (n < 2 || possible.count() != n) {
    *why = "needs CPUs 0..n-1 with n >= 2";
    return 0;
  }
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    *why = "sched_getaffinity failed";
    return 0;
  }
  for (int c = 0; c < n; ++c) {
    if (!CPU_ISSET(c, &allowed)) {
      *why = "CPU " + std::to_string(c) + " is outside this process's affinity";
      return 0;
    }
  }
  return n;
}

// The number of CPUs a map-mode test that fakes the allowed set uses: every
// CPU the kernel may report (so sched_getcpu stays in range), and at least 2.
inline int fake_map_mode_cpus() {
  detail::CpuMask possible;
  const std::string text = read_text("/sys/devices/system/cpu/possible");
  const int n = detail::parse_cpulist(text.c_str(), &possible) ? possible.last() + 1 : 0;
  return n < 2 ? 2 : n;
}

// Makes possible/online = 0..ncpus-1 in `fake`, and starts map mode (CPU 0
// -> node 0, the rest -> node 1: offlining CPUs 1.. empties node 1, the
// seed's case) with no reaper and, unless watch_ms > 0, no watcher thread.
inline void start_map_mode(FakeSysfs& fake, int ncpus, int watch_ms = 0) {
  const std::string all = range_text(0, ncpus - 1);
  fake.cpus(all, all);
  // Options are read once, at the first numaslab call.
  ASSERT_EQ(setenv("NUMASLAB_WATCH_MS", std::to_string(watch_ms).c_str(), 1), 0);
  ASSERT_EQ(setenv("NUMASLAB_REAP", "0", 1), 0);  // exact counts
  std::string spec = "map:0=0";
  for (int c = 1; c < ncpus; ++c) spec += "," + std::to_string(c) + "=1";
  ASSERT_EQ(numaslab_init(spec.c_str()), 0) << spec;
  ASSERT_STREQ(numaslab_topology_mode(), "map");
  ASSERT_EQ(numaslab_num_nodes(), 2);
}

}  // namespace numaslab::test_support
