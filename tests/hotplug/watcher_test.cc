// The watcher: a no-op in sim mode; in map mode it turns changes of the
// (fake) sysfs online mask into cpu_down/cpu_up events.
#include "hotplug/watcher.h"

#include <sys/socket.h>
#include <unistd.h>

#include <initializer_list>

#include "support/cache_state.h"
#include "support/handles.h"
#include "support/init.h"
#include "support/map_mode.h"
#include "support/report.h"

namespace numaslab::hotplug_test {
namespace {

using namespace ::numaslab::test_support;

using testing_fakes::Call;
using testing_fakes::FakePlatform;

// Map mode on the fake platform: ncpus possible, online and allowed.
void start_fake_map_mode(FakeSysfs& fake, int ncpus, int watch_ms) {
  FakePlatform::set_allowed_first(ncpus);
  ASSERT_NO_FATAL_FAILURE(start_map_mode(fake, ncpus, watch_ms));
}

bool all_online(int ncpus) {
  for (int c = 0; c < ncpus; ++c)
    if (numaslab_cpu_online(c) != 1) return false;
  return true;
}

TEST(HotplugWatcher, SimModeIsANoOp) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  EXPECT_FALSE(detail::watcher_running());
  EXPECT_EQ(numaslab_watch_poll(), 0);
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  EXPECT_EQ(numaslab_watch_poll(), 0);
  EXPECT_EQ(numaslab_cpu_online(3), 0) << "the watcher must not undo API events in sim mode";
  ASSERT_EQ(numaslab_cpu_up(3), 0);
  EXPECT_EQ(numaslab_watch_poll(), 0);
  for (int cpu = 0; cpu < 4; ++cpu) EXPECT_EQ(numaslab_cpu_online(cpu), 1);
  numaslab_hotplug_stats s = hotplug_stats();
  EXPECT_EQ(s.ups, 1u);
  EXPECT_EQ(s.downs, 1u);
}

TEST(HotplugWatcher, MapModeFollowsFakeSysfsOnlineMask) {
  std::string why;
  const int ncpus = map_mode_cpus(&why);
  if (ncpus == 0) GTEST_SKIP() << why;
  FakeSysfs fake;
  ASSERT_NO_FATAL_FAILURE(start_map_mode(fake, ncpus));
  const std::string all = range_text(0, ncpus - 1);
  EXPECT_FALSE(detail::watcher_running()) << "NUMASLAB_WATCH_MS=0 must not start the thread";
  EXPECT_EQ(numaslab_watch_poll(), 0) << "nothing changed yet";

  numaslab_cache* uc = numaslab_cache_create("hp_watch_obj", 100, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  std::vector<void*> node1_objs;
  for (int i = 0; i < 20; ++i) {
    void* p = numaslab_cache_alloc_node(uc, 1);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(numaslab_node_of(p), 1);
    node1_objs.push_back(p);
  }
  std::vector<NodeLists*> lists;
  for (Cache* c : all_caches()) lists.push_back(c->node(1));

  // The system takes every node-1 CPU offline.
  fake.online("0");
  EXPECT_EQ(numaslab_watch_poll(), ncpus - 1);
  for (int c = 1; c < ncpus; ++c) EXPECT_EQ(numaslab_cpu_online(c), 0) << c;
  EXPECT_EQ(numaslab_cpu_online(0), 1);
  const std::vector<Cache*> caches = all_caches();
  for (std::size_t i = 0; i < caches.size(); ++i) {
    SCOPED_TRACE(caches[i]->name);
    NodeView n1 = node_view(caches[i], 1);
    EXPECT_EQ(n1.nl, lists[i]);
    EXPECT_EQ(n1.shared, nullptr);
    EXPECT_EQ(n1.alien, nullptr);
    EXPECT_EQ(n1.free, 0u);
    for (int c = 1; c < ncpus; ++c) EXPECT_EQ(slot_view(caches[i], c).ac, nullptr);
  }
  EXPECT_EQ(numaslab_watch_poll(), 0) << "a second poll sees no change";
  EXPECT_EQ(hotplug_stats().last_cpu_of_node_downs, 1u);
  EXPECT_VERIFY_OK();
  // Node 1 still serves and takes back objects, whatever real CPU we run on.
  for (void* p : node1_objs) numaslab_cache_free(uc, p);
  void* p = numaslab_cache_alloc_node(uc, 1);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(numaslab_node_of(p), 1);
  numaslab_cache_free(uc, p);
  EXPECT_VERIFY_OK();

  // And back online.
  fake.online(all);
  EXPECT_EQ(numaslab_watch_poll(), ncpus - 1);
  for (int c = 0; c < ncpus; ++c) EXPECT_EQ(numaslab_cpu_online(c), 1) << c;
  for (Cache* c : all_caches()) {
    SCOPED_TRACE(c->name);
    NodeView n1 = node_view(c, 1);
    EXPECT_NE(n1.alien, nullptr);  // (a shared array comes at the node's first flush)
    EXPECT_NE(slot_view(c, 1).ac, nullptr);
  }
  EXPECT_EQ(numaslab_watch_poll(), 0);
  numaslab_hotplug_stats s = hotplug_stats();
  EXPECT_EQ(s.downs, static_cast<unsigned long long>(ncpus - 1));
  EXPECT_EQ(s.ups, static_cast<unsigned long long>(ncpus - 1));
  EXPECT_VERIFY_OK();

  // The watcher never takes down the last CPU: an "online" file naming none
  // of ours leaves CPU 0 up.
  fake.online(std::to_string(ncpus + 5));
  numaslab_watch_poll();
  int online = 0;
  for (int c = 0; c < ncpus; ++c) online += numaslab_cpu_online(c);
  EXPECT_GE(online, 1);
  fake.online(all);
  numaslab_watch_poll();
  for (int c = 0; c < ncpus; ++c) EXPECT_EQ(numaslab_cpu_online(c), 1) << c;
  EXPECT_VERIFY_OK();
}

// A CPU that leaves the process's allowed set is down for the process even
// though the kernel still has it online; if the allowed set cannot be read,
// the online mask alone decides.
TEST(HotplugWatcher, CpuOutsideTheAllowedSetIsDownForTheProcess) {
  const int ncpus = fake_map_mode_cpus();
  FakeSysfs fake;
  ASSERT_NO_FATAL_FAILURE(start_fake_map_mode(fake, ncpus, 0));
  EXPECT_EQ(numaslab_watch_poll(), 0);
  FakePlatform::set_allowed({0});
  EXPECT_EQ(numaslab_watch_poll(), ncpus - 1);
  for (int c = 1; c < ncpus; ++c) EXPECT_EQ(numaslab_cpu_online(c), 0) << c;
  FakePlatform::fail_next(Call::kAffinity, 1);
  EXPECT_EQ(numaslab_watch_poll(), ncpus - 1)
      << "an unreadable allowed set must not keep CPUs down";
  EXPECT_TRUE(all_online(ncpus));
  EXPECT_EQ(FakePlatform::failures(Call::kAffinity), 1u);
  EXPECT_EQ(numaslab_watch_poll(), ncpus - 1) << "the allowed set is read again";
  FakePlatform::set_allowed_first(ncpus);
  EXPECT_EQ(numaslab_watch_poll(), ncpus - 1);
  EXPECT_TRUE(all_online(ncpus));
  EXPECT_VERIFY_OK();
}

// Without a uevent socket (netlink refused) the watcher thread still follows
// the online mask: it polls every NUMASLAB_WATCH_MS.
TEST(HotplugWatcher, WithoutUeventSocketTheThreadPolls) {
  const int ncpus = fake_map_mode_cpus();
  FakeSysfs fake;
  FakePlatform::fail_next(Call::kSocket, FakePlatform::kForever);
  ASSERT_NO_FATAL_FAILURE(start_fake_map_mode(fake, ncpus, 10));
  ASSERT_TRUE(detail::watcher_running());
  ASSERT_TRUE(wait_until([] { return FakePlatform::failures(Call::kSocket) == 1; }, 30));
  fake.online("0");
  EXPECT_TRUE(wait_until([] { return numaslab_cpu_online(1) == 0; }, 30))
      << "the watcher did not see CPU 1 go offline";
  for (int c = 1; c < ncpus; ++c)
    EXPECT_TRUE(wait_until([c] { return numaslab_cpu_online(c) == 0; }, 30)) << c;
  fake.online(range_text(0, ncpus - 1));
  EXPECT_TRUE(wait_until([ncpus] { return all_online(ncpus); }, 30));
  EXPECT_EQ(FakePlatform::calls(Call::kSocket), 1u) << "one socket attempt, then polling";
  EXPECT_EQ(hotplug_stats().downs, static_cast<unsigned long long>(ncpus - 1));
}

// With a uevent socket the watcher wakes on a CPU uevent at once, long
// before its interval (here 10 minutes) is up.
TEST(HotplugWatcher, UeventWakesTheWatcherBeforeItsInterval) {
  const int ncpus = fake_map_mode_cpus();
  FakeSysfs fake;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
  FakePlatform::set_uevent_fd(sv[0]);  // the watcher's end; the test keeps sv[1]
  ASSERT_NO_FATAL_FAILURE(start_fake_map_mode(fake, ncpus, 600000));
  ASSERT_TRUE(detail::watcher_running());
  ASSERT_TRUE(wait_until([] { return FakePlatform::calls(Call::kSocket) == 1; }, 30));
  fake.online("0");
  static constexpr char kEvent[] =
      "offline@/devices/system/cpu/cpu1\0ACTION=offline\0DEVPATH=/devices/system/cpu/cpu1";
  ASSERT_EQ(send(sv[1], kEvent, sizeof kEvent, 0), static_cast<ssize_t>(sizeof kEvent));
  EXPECT_TRUE(wait_until([] { return numaslab_cpu_online(1) == 0; }, 60))
      << "the uevent did not wake the watcher";
  fake.online(range_text(0, ncpus - 1));
  static constexpr char kOnline[] = "online@/devices/system/cpu/cpu1";
  ASSERT_EQ(send(sv[1], kOnline, sizeof kOnline, 0), static_cast<ssize_t>(sizeof kOnline));
  EXPECT_TRUE(wait_until([ncpus] { return all_online(ncpus); }, 60));
  // sv[1] stays open: a closed peer would make the socket readable forever.
}

}  // namespace
}  // namespace numaslab::hotplug_test
