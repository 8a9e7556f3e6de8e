// The current CPU in real and map modes is the platform's getcpu: with a
// fake CPU number (tests/fakes/fake_platform.h) a thread on a 2-CPU machine
// runs "on" CPU 3 of a 2-node map, and LockedSlots serve it from CPU 3's
// arrays and node 1's memory. A number the kernel could not mean (beyond
// the possible CPUs) or a failing getcpu reads as CPU 0.
#include <algorithm>
#include <fstream>
#include <string>

#include "cpu_test_util.h"
#include "fakes/fake_platform.h"
#include "topology/cpu_mask.h"

namespace numaslab::cpu_test {
namespace {

using testing_fakes::FakePlatform;
using testing_fakes::FakeSysfs;

// Every CPU the kernel may report, and at least 4.
int cpus_for_the_map() {
  std::ifstream in("/sys/devices/system/cpu/possible");
  std::string text;
  std::getline(in, text);
  detail::CpuMask possible;
  const int n = detail::parse_cpulist(text.c_str(), &possible) ? possible.last() + 1 : 0;
  return std::max(n, 4);
}

TEST(CpuCurrent, LockedSlotsFollowThePlatformsCpuNumber) {
  const int ncpus = cpus_for_the_map();
  FakeSysfs fs;
  const std::string all = "0-" + std::to_string(ncpus - 1);
  fs.cpus(all, all);
  setenv("NUMASLAB_RSEQ", "0", 1);
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  setenv("NUMASLAB_REAP", "0", 1);
  std::string spec = "map:0=0,1=0";
  for (int c = 2; c < ncpus; ++c) spec += "," + std::to_string(c) + "=1";
  ASSERT_EQ(numaslab_init(spec.c_str()), 0) << spec;
  ASSERT_STREQ(numaslab_slots_policy(), "locked");

  FakePlatform::set_cpu(3);
  EXPECT_EQ(numaslab_current_cpu(), 3);
  EXPECT_EQ(numaslab_current_node(), 1);
  numaslab_cache* c = numaslab_cache_create("cpu-fake", 64, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  void* p = numaslab_cache_alloc(c);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(numaslab_node_of(p), 1) << "CPU 3 allocates from its node's memory";
  numaslab_cache_free(c, p);
  EXPECT_NE(slot_view(raw(c), 3).ac, nullptr);
  const std::uint64_t hits = locked_hits(c);
  EXPECT_EQ(numaslab_cache_alloc(c), p) << "the object just freed on CPU 3 is its array's top";
  EXPECT_EQ(locked_hits(c), hits + 1);

  FakePlatform::set_cpu(1);
  EXPECT_EQ(numaslab_current_node(), 0);
  void* q = numaslab_cache_alloc(c);
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, p) << "CPU 1 has an array of its own";
  EXPECT_EQ(numaslab_node_of(q), 0);
  numaslab_cache_free(c, q);
  numaslab_cache_free(c, p);  // a free on node 0's CPU of a node-1 object: alien

  FakePlatform::set_cpu(ncpus + 7);  // beyond the possible CPUs
  EXPECT_EQ(numaslab_current_cpu(), 0);
  FakePlatform::set_cpu(-1);  // getcpu fails
  EXPECT_EQ(numaslab_current_cpu(), 0);
  FakePlatform::set_cpu(FakePlatform::kRealCpu);
  const int real = numaslab_current_cpu();
  EXPECT_GE(real, 0);
  EXPECT_LT(real, ncpus);
  VerifyResult vr = verify();
  EXPECT_EQ(vr.errors, 0) << vr.report;
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

}  // namespace
}  // namespace numaslab::cpu_test
