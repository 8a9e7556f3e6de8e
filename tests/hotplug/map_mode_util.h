// Map-mode set-up for the hotplug tests: real CPUs (sched_getcpu, rseq when
// available) with CPU 0 on node 0 and every other CPU on node 1, read from a
// fake sysfs tree the test controls (NUMASLAB_SYSFS_ROOT).
#pragma once

#include <sched.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "hotplug_test_util.h"
#include "topology/cpu_mask.h"

namespace numaslab::hotplug_test {

using detail::CpuMask;
using detail::parse_cpulist;

namespace stdfs = std::filesystem;

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

inline void write_text(const stdfs::path& p, const std::string& text) {
  stdfs::create_directories(p.parent_path());
  std::ofstream(p) << text << "\n";
}

inline std::string range_text(int first, int last) {
  return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

// A fake sysfs tree under $TMPDIR, removed at the end.
struct FakeSysfs {
  stdfs::path root;
  FakeSysfs() {
    std::string tmpl = (stdfs::temp_directory_path() / "numaslab-hp-sysfs-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data())) root = buf.data();
  }
  ~FakeSysfs() {
    std::error_code ec;
    if (!root.empty()) stdfs::remove_all(root, ec);
  }
  FakeSysfs(const FakeSysfs&) = delete;
  FakeSysfs& operator=(const FakeSysfs&) = delete;
  stdfs::path cpu_file(const char* name) const { return root / "devices/system/cpu" / name; }
};

// The machine's CPU count if map-mode tests can run here (CPUs 0..n-1
// possible, n >= 2, all in this process's affinity), else 0 with a reason.
inline int map_mode_cpus(std::string* why) {
  const std::string text = read_text("/sys/devices/system/cpu/possible");
  CpuMask possible;
  if (text.empty() || !parse_cpulist(text.c_str(), &possible)) {
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

// Writes possible/online = 0..ncpus-1 into `fake`, points numaslab at it with
// no watcher thread and no reaper, and starts map mode (CPU 0 -> node 0, the
// rest -> node 1: offlining CPUs 1.. empties node 1, the seed's case).
inline void start_map_mode(const FakeSysfs& fake, int ncpus) {
  ASSERT_FALSE(fake.root.empty());
  const std::string all = range_text(0, ncpus - 1);
  write_text(fake.cpu_file("possible"), all);
  write_text(fake.cpu_file("online"), all);
  // Options are read once, at the first numaslab call.
  ASSERT_EQ(setenv("NUMASLAB_SYSFS_ROOT", fake.root.c_str(), 1), 0);
  ASSERT_EQ(setenv("NUMASLAB_WATCH_MS", "0", 1), 0);
  ASSERT_EQ(setenv("NUMASLAB_REAP", "0", 1), 0);  // exact counts
  std::string spec = "map:0=0";
  for (int c = 1; c < ncpus; ++c) spec += "," + std::to_string(c) + "=1";
  ASSERT_EQ(numaslab_init(spec.c_str()), 0) << spec;
  ASSERT_STREQ(numaslab_topology_mode(), "map");
  ASSERT_EQ(numaslab_num_nodes(), 2);
}

}  // namespace numaslab::hotplug_test
