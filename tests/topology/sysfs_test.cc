#include <gtest/gtest.h>

#include <string>

#include "topology/topology.h"
#include "topology_test_util.h"

namespace numaslab {

using detail::CpuMask;
using detail::read_online_cpus;
using detail::read_sysfs_cpulist;
using detail::TopologyMode;
namespace {

using namespace numaslab::topology_test;

TEST(TopologySysfs, FakeTwoNodes) {
  FakeSysfs fs;
  fs.cpus("0-7", "0-7").node(0, "0-1,4-5").node(1, "2-3,6-7").has_memory("0-1");
  auto t = build("real");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->mode(), TopologyMode::kReal);
  EXPECT_STREQ(t->mode_name(), "real");
  EXPECT_STREQ(t->spec_text(), "real");
  EXPECT_EQ(t->possible_cpus(), 8);
  EXPECT_EQ(t->num_nodes(), 2);
  const int want[] = {0, 0, 1, 1, 0, 0, 1, 1};
  for (int c = 0; c < 8; ++c) EXPECT_EQ(t->cpu_to_node(c), want[c]) << c;
  EXPECT_EQ(t->node_cpus(0), cpulist("0-1,4-5"));
  EXPECT_EQ(t->node_cpus(1), cpulist("2-3,6-7"));
  EXPECT_TRUE(t->node_has_memory(0));
  EXPECT_TRUE(t->node_has_memory(1));
  EXPECT_TRUE(t->bind_memory_to_nodes());
  EXPECT_EQ(t->online_cpus_on_node(0), 4);
  EXPECT_EQ(t->online_cpus_on_node(1), 4);
  expect_consistent(*t);
}

TEST(TopologySysfs, FakeWithoutNodeDirectoryIsOneNode) {
  FakeSysfs fs;
  fs.cpus("0-3", "0-3");
  auto t = build("real");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->num_nodes(), 1);
  EXPECT_EQ(t->node_cpus(0), cpulist("0-3"));
  EXPECT_TRUE(t->node_has_memory(0));
  EXPECT_FALSE(t->bind_memory_to_nodes());
  expect_consistent(*t);
}

TEST(TopologySysfs, FakeEmptyNodeDirectoryIsOneNode) {
  FakeSysfs fs;
  fs.cpus("0-1", "0-1").dir("devices/system/node");
  auto t = build("real");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->num_nodes(), 1);
  EXPECT_TRUE(t->node_has_memory(0));
  expect_consistent(*t);
}

TEST(TopologySysfs, FakeMemorylessNode) {
  FakeSysfs fs;
  fs.cpus("0-3", "0-3").node(0, "0-1").node(1, "2-3").has_memory("0");
  auto t = build("real");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->num_nodes(), 2);
  EXPECT_TRUE(t->node_has_memory(0));
  EXPECT_FALSE(t->node_has_memory(1));
  EXPECT_EQ(t->node_cpus(1), cpulist("2-3"));
  expect_consistent(*t);
}

TEST(TopologySysfs, FakeWithoutHasMemoryGivesEveryNodeMemory) {
  FakeSysfs fs;
  fs.cpus("0-3", "0-3").node(0, "0-1").node(2, "2-3");  // node1 absent: sparse ids
  auto t = build("real");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->num_nodes(), 3);
  EXPECT_TRUE(t->node_has_memory(0));
  EXPECT_FALSE(t->node_has_memory(1));
  EXPECT_TRUE(t->node_has_memory(2));
  EXPECT_TRUE(t->node_cpus(1).empty());
  EXPECT_EQ(t->online_cpus_on_node(1), 0);
  expect_consistent(*t);
}

TEST(TopologySysfs, FakePossibleDiffersFromOnline) {
  FakeSysfs fs;
  fs.cpus("0-7", "0-3,5").node(0, "0-3").node(1, "4-7").has_memory("0-1");
  auto t = build("real");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->possible_cpus(), 8);
  EXPECT_EQ(t->online_cpus(), 5);
  EXPECT_EQ(t->online_mask(), cpulist("0-3,5"));
  EXPECT_FALSE(t->cpu_online(4));
  EXPECT_TRUE(t->cpu_online(5));
  EXPECT_EQ(t->online_cpus_on_node(0), 4);
  EXPECT_EQ(t->online_cpus_on_node(1), 1);
  t->set_cpu_online(4, true);
  EXPECT_EQ(t->online_cpus_on_node(1), 2);
  expect_consistent(*t);
}

TEST(TopologySysfs, FakeUnlistedCpuGoesToNodeZero) {
  FakeSysfs fs;
  // CPU 3 is possible but not present, so no node lists it; node lists may also
  // name CPUs beyond the possible range, which are ignored.
  fs.cpus("0-3", "0-2").node(0, "0").node(1, "1-2,9").has_memory("0-1");
  auto t = build("real");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->cpu_to_node(3), 0);
  EXPECT_EQ(t->node_cpus(0), cpulist("0,3"));
  EXPECT_EQ(t->node_cpus(1), cpulist("1-2"));
  expect_consistent(*t);
}

TEST(TopologySysfs, FakeBadTrees) {
  struct Case {
    const char* possible;
    const char* online;
    const char* reason;
  } cases[] = {
      {"1-3", "1-3", "not a range 0..n-1"},
      {"0,2", "0", "not a range 0..n-1"},
      {"", "", "not a range 0..n-1"},
      {"0-2047", "0", "malformed or names a CPU >= 1024"},
      {"zero", "0", "malformed"},
      {"0-3", "x", "malformed"},
      {"0-3", "", "no possible CPU is online"},
      {"0-3", "4-5", "no possible CPU is online"},
  };
  for (const auto& c : cases) {
    FakeSysfs fs;
    fs.cpus(c.possible, c.online);
    std::string err = build_error("real");
    EXPECT_NE(err.find(c.reason), std::string::npos)
        << c.possible << "/" << c.online << ": " << err;
  }
  FakeSysfs empty;
  EXPECT_NE(build_error("real").find("cannot read"), std::string::npos);
  {
    FakeSysfs fs;
    fs.file("devices/system/cpu/possible", "0-3\n");
    EXPECT_NE(build_error("real").find("cpu/online"), std::string::npos);
  }
  {
    FakeSysfs fs;
    fs.cpus("0-3", "0-3").node(0, "0-2").node(1, "2-3");
    EXPECT_NE(build_error("real").find("CPU 2 is listed in node0 and node1"), std::string::npos);
  }
  {
    FakeSysfs fs;
    fs.cpus("0-3", "0-3").node(0, "0-3").has_memory("");
    EXPECT_NE(build_error("real").find("no NUMA node has memory"), std::string::npos);
  }
  {
    FakeSysfs fs;
    fs.cpus("0-3", "0-3").node(0, "0-3").has_memory("zero");
    EXPECT_NE(build_error("real").find("has_memory is malformed"), std::string::npos);
  }
  {
    FakeSysfs fs;
    fs.cpus("0-3", "0-3").node(0, "0-1").node(1, "2-x");
    EXPECT_NE(build_error("real").find("node1/cpulist is malformed"), std::string::npos);
  }
  {
    FakeSysfs fs;
    fs.cpus("0-3", "0-3").node(0, "0-3").node(kMaxNodes, "");
    EXPECT_NE(build_error("real").find("more than 64 NUMA nodes"), std::string::npos);
  }
}

TEST(TopologySysfs, MapModeOnFakeTree) {
  FakeSysfs fs;
  // The tree's own node layout is ignored in map mode.
  fs.cpus("0-3", "0-2").node(0, "0-3").has_memory("0");
  auto t = build("map:0=0,1=1,2=0,3=1");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->mode(), TopologyMode::kMap);
  EXPECT_STREQ(t->mode_name(), "map");
  EXPECT_STREQ(t->spec_text(), "map:0=0,1=1,2=0,3=1");
  EXPECT_EQ(t->num_nodes(), 2);
  EXPECT_EQ(t->node_cpus(0), cpulist("0,2"));
  EXPECT_EQ(t->node_cpus(1), cpulist("1,3"));
  EXPECT_TRUE(t->node_has_memory(0));
  EXPECT_TRUE(t->node_has_memory(1));
  EXPECT_FALSE(t->bind_memory_to_nodes());
  EXPECT_EQ(t->online_mask(), cpulist("0-2"));
  EXPECT_EQ(t->online_cpus_on_node(0), 2);
  EXPECT_EQ(t->online_cpus_on_node(1), 1);
  expect_consistent(*t);
}

TEST(TopologySysfs, MapModeRejectsMismatch) {
  FakeSysfs fs;
  fs.cpus("0-3", "0-3");
  std::string err = build_error("map:0=0,1=0,2=1");
  EXPECT_NE(err.find("possible CPU 3 is missing from the map"), std::string::npos) << err;
  err = build_error("map:0=0,1=0,2=1,3=1,4=1");
  EXPECT_NE(err.find("map names CPU 4"), std::string::npos) << err;
  err = build_error("map:0=0,1=0,3=1");
  EXPECT_NE(err.find("CPU 2 is missing"), std::string::npos) << err;
  FakeSysfs empty;
  EXPECT_NE(build_error("map:0=0").find("cannot read"), std::string::npos);
}

TEST(TopologySysfs, MapSpecTextIsTruncated) {
  FakeSysfs fs;
  fs.cpus("0-31", "0-31");
  std::string spec = "map:";
  for (int c = 0; c < 32; ++c)
    spec += (c ? "," : "") + std::to_string(c) + "=" + std::to_string(c / 16);
  auto t = build(spec.c_str());
  ASSERT_NE(t, nullptr);
  std::string text = t->spec_text();
  EXPECT_EQ(text.size(), 63u);
  EXPECT_EQ(text.substr(text.size() - 3), "...");
  EXPECT_EQ(spec.compare(0, 60, text, 0, 60), 0) << text;
}

TEST(TopologySysfs, SysfsHelpers) {
  FakeSysfs fs;
  fs.cpus("0-7", "0-3,5");
  CpuMask m = cpulist("9");
  EXPECT_TRUE(read_online_cpus(&m));
  EXPECT_EQ(m, cpulist("0-3,5"));
  EXPECT_TRUE(read_sysfs_cpulist("devices/system/cpu/possible", &m));
  EXPECT_EQ(m, cpulist("0-7"));
  m = cpulist("9");
  EXPECT_FALSE(read_sysfs_cpulist("devices/system/cpu/missing", &m));
  EXPECT_TRUE(m.empty());
  fs.file("devices/system/cpu/bad", "0-3:2\n");
  m = cpulist("9");
  EXPECT_FALSE(read_sysfs_cpulist("devices/system/cpu/bad", &m));
  EXPECT_TRUE(m.empty());
  // Too big for the fixed read buffer is refused, not silently cut short.
  fs.file("devices/system/cpu/huge", std::string(5000, ' ') + "\n");
  EXPECT_FALSE(read_sysfs_cpulist("devices/system/cpu/huge", &m));
  fs.remove("devices/system/cpu/online");
  m = cpulist("9");
  EXPECT_FALSE(read_online_cpus(&m));
  EXPECT_TRUE(m.empty());
}

// The fake sysfs is the only thing read: no file under /sys is opened, and
// the same tree gives the same topology however often it is read.
TEST(TopologySysfs, FakeTreeIsReadThroughThePlatform) {
  using testing_fakes::FakePlatform;
  FakeSysfs fs;
  fs.cpus("0-5", "0-5").node(0, "0-2").node(1, "3-5");
  const std::uint64_t before = FakePlatform::sysfs_reads();
  auto t = build("real");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->possible_cpus(), 6);
  EXPECT_EQ(t->num_nodes(), 2);
  // possible, online, node0..node64 cpulists (65), has_memory.
  EXPECT_EQ(FakePlatform::sysfs_reads() - before, 2u + kMaxNodes + 1 + 1);
  fs.node(1, "3-4").node(0, "0-2,5");
  t = build("real");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->cpu_to_node(5), 0);
  expect_consistent(*t);
}

}  // namespace
}  // namespace numaslab
