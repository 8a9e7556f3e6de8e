#include "topology/topology.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <memory>
#include <string>

#include "topology_test_util.h"

namespace numaslab {

using detail::TopologyMode;
namespace {

using namespace numaslab::topology_test;

// Topology is constant-initialisable, so the allocator can keep it in a global
// that is ready before any constructor runs.
constinit Topology g_constinit_check;

TEST(Topology, ConstantInitialisedIsEmpty) {
  EXPECT_EQ(g_constinit_check.possible_cpus(), 0);
  EXPECT_EQ(g_constinit_check.online_cpus(), 0);
  EXPECT_FALSE(g_constinit_check.cpu_online(0));
}

TEST(Topology, Sim2x2) {
  auto t = build("sim:2x2");  // sim never touches sysfs
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->mode(), TopologyMode::kSim);
  EXPECT_STREQ(t->mode_name(), "sim");
  EXPECT_STREQ(t->spec_text(), "sim:2x2");
  EXPECT_EQ(t->possible_cpus(), 4);
  EXPECT_EQ(t->num_nodes(), 2);
  const int want[] = {0, 0, 1, 1};
  for (int c = 0; c < 4; ++c) EXPECT_EQ(t->cpu_to_node(c), want[c]);
  EXPECT_EQ(t->node_cpus(0), cpulist("0-1"));
  EXPECT_EQ(t->node_cpus(1), cpulist("2-3"));
  EXPECT_TRUE(t->node_has_memory(0));
  EXPECT_TRUE(t->node_has_memory(1));
  EXPECT_FALSE(t->node_has_memory(2));
  EXPECT_FALSE(t->bind_memory_to_nodes());
  EXPECT_EQ(t->online_mask(), cpulist("0-3"));
  EXPECT_EQ(t->online_cpus_on_node(0), 2);
  EXPECT_EQ(t->online_cpus_on_node(1), 2);
  EXPECT_EQ(t->online_cpus_on_node(2), 0);
  EXPECT_EQ(t->online_cpus_on_node(-1), 0);
  expect_consistent(*t);
}

TEST(Topology, Sim4x2) {
  auto t = build("sim:4x2");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->possible_cpus(), 8);
  EXPECT_EQ(t->num_nodes(), 4);
  for (int c = 0; c < 8; ++c) EXPECT_EQ(t->cpu_to_node(c), c / 2) << c;
  EXPECT_EQ(t->node_cpus(3), cpulist("6-7"));
  for (int n = 0; n < 4; ++n) EXPECT_EQ(t->online_cpus_on_node(n), 2);
  EXPECT_STREQ(t->spec_text(), "sim:4x2");
  expect_consistent(*t);
}

TEST(Topology, SimLargest) {
  auto t = build("sim:64x16");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->possible_cpus(), kMaxCpus);
  EXPECT_EQ(t->cpu_to_node(kMaxCpus - 1), kMaxNodes - 1);
  expect_consistent(*t);
}

TEST(Topology, SetCpuOnlineKeepsNodeCounts) {
  auto t = build("sim:2x2");
  ASSERT_NE(t, nullptr);
  t->set_cpu_online(1, false);
  EXPECT_FALSE(t->cpu_online(1));
  EXPECT_EQ(t->online_cpus_on_node(0), 1);
  EXPECT_EQ(t->online_cpus(), 3);
  t->set_cpu_online(1, false);  // already offline: no change
  EXPECT_EQ(t->online_cpus_on_node(0), 1);
  t->set_cpu_online(0, true);  // already online: no change
  EXPECT_EQ(t->online_cpus_on_node(0), 1);
  EXPECT_EQ(t->online_cpus(), 3);
  expect_consistent(*t);
  t->set_cpu_online(2, false);
  t->set_cpu_online(3, false);
  EXPECT_EQ(t->online_cpus_on_node(1), 0);
  EXPECT_EQ(t->online_mask(), cpulist("0"));
  expect_consistent(*t);
  t->set_cpu_online(1, true);
  t->set_cpu_online(3, true);
  t->set_cpu_online(3, true);
  EXPECT_EQ(t->online_cpus_on_node(0), 2);
  EXPECT_EQ(t->online_cpus_on_node(1), 1);
  EXPECT_EQ(t->online_mask(), cpulist("0-1,3"));
  expect_consistent(*t);
}

TEST(TopologyDeathTest, SetCpuOnlineRejectsImpossibleCpu) {
  auto t = build("sim:2x2");
  ASSERT_NE(t, nullptr);
  EXPECT_DEATH(t->set_cpu_online(4, true), "not possible");
  EXPECT_DEATH(t->set_cpu_online(-1, false), "not possible");
}

TEST(Topology, FailedInitLeavesEmptyTopology) {
  FakeSysfs fs;
  fs.cpus("0-3", "0-3");
  auto t = std::make_unique<Topology>();
  char err[256];
  ASSERT_TRUE(t->init(*spec_of("real"), err, sizeof err)) << err;
  EXPECT_EQ(t->online_cpus(), 4);
  fs.remove("devices/system/cpu/online");  // the tree becomes unreadable
  EXPECT_FALSE(t->init(*spec_of("real"), err, sizeof err));
  EXPECT_NE(std::string(err).find("cannot read /sys/devices/system/cpu/online"), std::string::npos)
      << err;
  EXPECT_EQ(t->possible_cpus(), 0);
  EXPECT_EQ(t->num_nodes(), 0);
  EXPECT_EQ(t->online_cpus(), 0);
  EXPECT_FALSE(t->cpu_online(0));
  ASSERT_TRUE(t->init(*spec_of("sim:2x3"), err, sizeof err)) << err;
  EXPECT_EQ(t->online_cpus(), 6);
  expect_consistent(*t);
}

TEST(Topology, RealMachine) {
  if (!stdfs::exists("/sys/devices/system/cpu/possible")) GTEST_SKIP() << "no /sys";
  auto t = build("real");
  ASSERT_NE(t, nullptr);
  EXPECT_GE(t->possible_cpus(), 1);
  EXPECT_GE(t->num_nodes(), 1);
  EXPECT_EQ(t->bind_memory_to_nodes(), t->num_nodes() > 1);
  const int cpu = sched_getcpu();
  ASSERT_GE(cpu, 0);
  EXPECT_TRUE(t->cpu_online(cpu));
  EXPECT_GE(t->online_cpus_on_node(t->cpu_to_node(cpu)), 1);
  bool any_memory = false;
  for (int n = 0; n < t->num_nodes(); ++n) any_memory |= t->node_has_memory(n);
  EXPECT_TRUE(any_memory);
  expect_consistent(*t);
  CpuMask online;
  ASSERT_TRUE(read_online_cpus(&online));
  EXPECT_TRUE(online.test(cpu));
}

TEST(Topology, AllowedCpusContainCurrentCpu) {
  CpuMask allowed = cpulist("1023");
  ASSERT_TRUE(read_allowed_cpus(&allowed));
  const int cpu = sched_getcpu();
  ASSERT_GE(cpu, 0);
  EXPECT_TRUE(allowed.test(cpu));
  EXPECT_GE(allowed.count(), 1);
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(allowed.count(), CPU_COUNT(&set));
}

// The allowed set is the platform's sched_getaffinity: a fake one is read
// back as it is, and a failing one is reported, not taken as "no CPU".
TEST(Topology, AllowedCpusComeFromThePlatform) {
  using testing_fakes::Call;
  using testing_fakes::FakePlatform;
  FakePlatform::install();
  FakePlatform::set_allowed({0, 2, 65, 1023});
  CpuMask allowed;
  ASSERT_TRUE(read_allowed_cpus(&allowed));
  EXPECT_EQ(allowed, cpulist("0,2,65,1023"));
  FakePlatform::fail_next(Call::kAffinity, 1);
  allowed = cpulist("7");
  EXPECT_FALSE(read_allowed_cpus(&allowed));
  EXPECT_TRUE(allowed.empty());
  EXPECT_EQ(FakePlatform::failures(Call::kAffinity), 1u);
  FakePlatform::uninstall();
  ASSERT_TRUE(read_allowed_cpus(&allowed));
  EXPECT_TRUE(allowed.test(sched_getcpu()));
}

}  // namespace
}  // namespace numaslab
