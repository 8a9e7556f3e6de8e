// The watcher: a no-op in sim mode; in map mode it turns changes of the
// (fake) sysfs online mask into cpu_down/cpu_up events.
#include "hotplug/watcher.h"
#include "map_mode_util.h"

namespace numaslab::hotplug_test {
namespace {

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
  write_text(fake.cpu_file("online"), "0");
  EXPECT_EQ(numaslab_watch_poll(), ncpus - 1);
  for (int c = 1; c < ncpus; ++c) EXPECT_EQ(numaslab_cpu_online(c), 0) << c;
  EXPECT_EQ(numaslab_cpu_online(0), 1);
  const std::vector<Cache*> caches = all_caches();
  for (std::size_t i = 0; i < caches.size(); ++i) {
    SCOPED_TRACE(caches[i]->name);
    NodeSnap n1 = node_snap(caches[i], 1);
    EXPECT_EQ(n1.nl, lists[i]);
    EXPECT_EQ(n1.shared, nullptr);
    EXPECT_EQ(n1.alien, nullptr);
    EXPECT_EQ(n1.free_slabs, 0u);
    for (int c = 1; c < ncpus; ++c) EXPECT_EQ(slot_snap(caches[i], c).ac, nullptr);
  }
  EXPECT_EQ(numaslab_watch_poll(), 0) << "a second poll sees no change";
  EXPECT_EQ(hotplug_stats().last_cpu_of_node_downs, 1u);
  HP_EXPECT_VERIFY_OK();
  // Node 1 still serves and takes back objects, whatever real CPU we run on.
  for (void* p : node1_objs) numaslab_cache_free(uc, p);
  void* p = numaslab_cache_alloc_node(uc, 1);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(numaslab_node_of(p), 1);
  numaslab_cache_free(uc, p);
  HP_EXPECT_VERIFY_OK();

  // And back online.
  write_text(fake.cpu_file("online"), all);
  EXPECT_EQ(numaslab_watch_poll(), ncpus - 1);
  for (int c = 0; c < ncpus; ++c) EXPECT_EQ(numaslab_cpu_online(c), 1) << c;
  for (Cache* c : all_caches()) {
    SCOPED_TRACE(c->name);
    NodeSnap n1 = node_snap(c, 1);
    EXPECT_NE(n1.alien, nullptr);
    if (c->shared.load() * c->batchcount.load() > 0) {
      EXPECT_NE(n1.shared, nullptr);
    }
    EXPECT_NE(slot_snap(c, 1).ac, nullptr);
  }
  EXPECT_EQ(numaslab_watch_poll(), 0);
  numaslab_hotplug_stats s = hotplug_stats();
  EXPECT_EQ(s.downs, static_cast<unsigned long long>(ncpus - 1));
  EXPECT_EQ(s.ups, static_cast<unsigned long long>(ncpus - 1));
  HP_EXPECT_VERIFY_OK();

  // The watcher never takes down the last CPU: an "online" file naming none
  // of ours leaves CPU 0 up.
  write_text(fake.cpu_file("online"), std::to_string(ncpus + 5));
  numaslab_watch_poll();
  int online = 0;
  for (int c = 0; c < ncpus; ++c) online += numaslab_cpu_online(c);
  EXPECT_GE(online, 1);
  write_text(fake.cpu_file("online"), all);
  numaslab_watch_poll();
  for (int c = 0; c < ncpus; ++c) EXPECT_EQ(numaslab_cpu_online(c), 1) << c;
  HP_EXPECT_VERIFY_OK();
}

}  // namespace
}  // namespace numaslab::hotplug_test
