// The hotplug events API: numaslab_cpu_up/down return codes, the online
// state they leave behind, and the event counters.
#include <cerrno>
#include <climits>

#include "support/cache_state.h"
#include "support/handles.h"
#include "support/init.h"
#include "support/report.h"

namespace numaslab::hotplug_test {
namespace {

using namespace ::numaslab::test_support;

TEST(HotplugEvents, UnknownCpuIsInvalid) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  const int possible = numaslab_num_possible_cpus();
  ASSERT_EQ(possible, 4);
  for (int cpu : {-1, possible, possible + 1, INT_MIN, INT_MAX}) {
    EXPECT_EQ(numaslab_cpu_up(cpu), -EINVAL) << cpu;
    EXPECT_EQ(numaslab_cpu_down(cpu), -EINVAL) << cpu;
    EXPECT_EQ(numaslab_cpu_online(cpu), -EINVAL) << cpu;
  }
  numaslab_hotplug_stats s = hotplug_stats();
  EXPECT_EQ(s.ups, 0u);
  EXPECT_EQ(s.downs, 0u);
  EXPECT_EQ(s.canceled, 0u);
  for (int cpu = 0; cpu < possible; ++cpu) EXPECT_EQ(numaslab_cpu_online(cpu), 1) << cpu;
}

TEST(HotplugEvents, AlreadyInThatStateIsEalready) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  for (int cpu = 0; cpu < 4; ++cpu) EXPECT_EQ(numaslab_cpu_up(cpu), -EALREADY) << cpu;
  EXPECT_EQ(numaslab_cpu_down(3), 0);
  EXPECT_EQ(numaslab_cpu_down(3), -EALREADY);
  EXPECT_EQ(numaslab_cpu_online(3), 0);
  EXPECT_EQ(numaslab_cpu_up(3), 0);
  EXPECT_EQ(numaslab_cpu_up(3), -EALREADY);
  EXPECT_EQ(numaslab_cpu_online(3), 1);
  numaslab_hotplug_stats s = hotplug_stats();
  EXPECT_EQ(s.ups, 1u);
  EXPECT_EQ(s.downs, 1u);
  EXPECT_VERIFY_OK();
}

TEST(HotplugEvents, LastOnlineCpuIsBusy) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x1"));
  EXPECT_EQ(numaslab_cpu_down(1), 0);
  EXPECT_EQ(numaslab_cpu_down(0), -EBUSY);
  EXPECT_EQ(numaslab_cpu_online(0), 1);
  EXPECT_EQ(numaslab_cpu_online(1), 0);
  EXPECT_EQ(numaslab_cpu_up(1), 0);
  // Now CPU 0 may go, and CPU 1 becomes the last one.
  EXPECT_EQ(numaslab_cpu_down(0), 0);
  EXPECT_EQ(numaslab_cpu_down(1), -EBUSY);
  EXPECT_EQ(numaslab_cpu_online(1), 1);
  // The calling thread was on CPU 0: it migrated to the only CPU left.
  EXPECT_EQ(numaslab_current_cpu(), 1);
  void* p = numaslab_kmalloc(100);
  ASSERT_NE(p, nullptr);
  numaslab_kfree(p);
  EXPECT_EQ(numaslab_cpu_up(0), 0);
  numaslab_hotplug_stats s = hotplug_stats();
  EXPECT_EQ(s.ups, 2u);
  EXPECT_EQ(s.downs, 2u);
  EXPECT_EQ(s.last_cpu_of_node_downs, 2u);
  EXPECT_VERIFY_OK();
}

TEST(HotplugEvents, SingleCpuMachineCannotGoDown) {
  ASSERT_NO_FATAL_FAILURE(start("sim:1x1"));
  EXPECT_EQ(numaslab_cpu_down(0), -EBUSY);
  EXPECT_EQ(numaslab_cpu_up(0), -EALREADY);
  EXPECT_EQ(numaslab_cpu_online(0), 1);
  EXPECT_EQ(hotplug_stats().downs, 0u);
}

TEST(HotplugEvents, OnlineReflectsEveryTransition) {
  ASSERT_NO_FATAL_FAILURE(start("sim:4x2"));
  const int possible = numaslab_num_possible_cpus();
  ASSERT_EQ(possible, 8);
  std::vector<int> want(possible, 1);
  auto check = [&] {
    for (int cpu = 0; cpu < possible; ++cpu)
      EXPECT_EQ(numaslab_cpu_online(cpu), want[cpu]) << "cpu " << cpu;
  };
  check();
  for (int cpu : {7, 2, 3, 5}) {
    ASSERT_EQ(numaslab_cpu_down(cpu), 0) << cpu;
    want[cpu] = 0;
    check();
  }
  for (int cpu : {3, 7}) {
    ASSERT_EQ(numaslab_cpu_up(cpu), 0) << cpu;
    want[cpu] = 1;
    check();
  }
  EXPECT_VERIFY_OK();
}

TEST(HotplugEvents, StatsCountUpsDownsAndLastCpuOfNode) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  struct Step {
    bool up;
    int cpu;
    int rc;
    unsigned long long ups, downs, last;
  };
  const Step steps[] = {
      {false, 3, 0, 0, 1, 0},          // node 1 keeps CPU 2
      {false, 2, 0, 0, 2, 1},          // node 1 loses its last CPU
      {false, 2, -EALREADY, 0, 2, 1},  // failures count nothing
      {true, 3, 0, 1, 2, 1},          {false, 1, 0, 1, 3, 1},
      {false, 0, 0, 1, 4, 2},  // node 0 loses its last CPU; CPU 3 still runs
      {false, 3, -EBUSY, 1, 4, 2},    {true, 0, 0, 2, 4, 2},
      {true, 1, 0, 3, 4, 2},          {true, 2, 0, 4, 4, 2},
      {true, 2, -EALREADY, 4, 4, 2},  {true, 9, -EINVAL, 4, 4, 2},
  };
  for (const Step& st : steps) {
    int rc = st.up ? numaslab_cpu_up(st.cpu) : numaslab_cpu_down(st.cpu);
    EXPECT_EQ(rc, st.rc) << (st.up ? "up " : "down ") << st.cpu;
    numaslab_hotplug_stats s = hotplug_stats();
    EXPECT_EQ(s.ups, st.ups) << (st.up ? "up " : "down ") << st.cpu;
    EXPECT_EQ(s.downs, st.downs) << (st.up ? "up " : "down ") << st.cpu;
    EXPECT_EQ(s.last_cpu_of_node_downs, st.last) << (st.up ? "up " : "down ") << st.cpu;
    EXPECT_EQ(s.canceled, 0u);
  }
  // The main thread sat on CPU 0 while CPUs 1 and 0 went down: it migrated.
  EXPECT_GE(hotplug_stats().sim_migrations, 1u);
  EXPECT_VERIFY_OK();
}

}  // namespace
}  // namespace numaslab::hotplug_test
