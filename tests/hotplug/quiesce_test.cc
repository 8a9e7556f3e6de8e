// cpu_down while threads use the CPU (sim-mode migration), and where the
// objects cached for a dying CPU and node go (R4): its per-CPU array and the
// node's shared array back to the slabs, the node's alien arrays home.
#include <algorithm>
#include <cerrno>
#include <memory>

#include "support/cache_state.h"
#include "support/handles.h"
#include "support/init.h"
#include "support/report.h"

namespace numaslab::hotplug_test {
namespace {

using namespace ::numaslab::test_support;

// A thread that allocates and frees in a loop from whatever CPU it is on,
// keeping a small ring of live objects so that, after a migration, it frees
// objects of its old node remotely (alien path).
class Worker {
 public:
  // rebind: go back to `cpu` whenever it is online again (so every round of
  // downs finds the worker on the dying CPU).
  Worker(numaslab_cache* uc, int cpu, bool rebind = false) : uc_(uc), rebind_(rebind) {
    thread_ = std::thread([this, cpu] { run(cpu); });
  }
  ~Worker() { stop(); }

  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  long iterations() const { return iters_.load(); }
  int cpu() const { return cpu_.load(); }
  long failures() const { return failures_.load(); }
  // Waits until the worker has done `n` more iterations.
  bool advance(long n) {
    const long target = iterations() + n;
    return wait_until([&] { return iterations() >= target; });
  }

 private:
  void run(int cpu) {
    if (numaslab_bind_thread_to_cpu(cpu) != 0) {
      failures_.fetch_add(1);
      return;
    }
    static constexpr std::size_t kSizes[] = {24, 100, 200, 640, 1000, 3000};
    constexpr int kRing = 48;
    void* objs[kRing] = {};
    void* kobjs[kRing] = {};
    for (long i = 0; !stop_.load(std::memory_order_relaxed); ++i) {
      const int slot = static_cast<int>(i % kRing);
      numaslab_cache_free(uc_, objs[slot]);
      numaslab_kfree(kobjs[slot]);
      objs[slot] = numaslab_cache_alloc(uc_);
      kobjs[slot] = numaslab_kmalloc(kSizes[i % 6]);
      if (!objs[slot] || !kobjs[slot]) failures_.fetch_add(1);
      // A burst now and then overflows the CPU array into the shared array.
      if (i % 512 == 0) {
        void* burst[150];
        for (void*& p : burst) p = numaslab_cache_alloc(uc_);
        for (void* p : burst) {
          if (!p) failures_.fetch_add(1);
          numaslab_cache_free(uc_, p);
        }
      }
      if (rebind_ && numaslab_current_cpu() != cpu && numaslab_cpu_online(cpu) == 1)
        (void)numaslab_bind_thread_to_cpu(cpu);  // may lose a race with a down: fine
      cpu_.store(numaslab_current_cpu());
      iters_.fetch_add(1);
    }
    for (int k = 0; k < kRing; ++k) {
      numaslab_cache_free(uc_, objs[k]);
      numaslab_kfree(kobjs[k]);
    }
  }

  numaslab_cache* uc_;
  bool rebind_;
  std::atomic<bool> stop_{false};
  std::atomic<long> iters_{0};
  std::atomic<int> cpu_{-1};
  std::atomic<long> failures_{0};
  std::thread thread_;
};

constexpr long kWarmup = 300;

TEST(HotplugQuiesce, ThreadOnDyingCpuMigratesSameNodeFirst) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* uc = numaslab_cache_create("hp_quiesce", 128, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  const auto migrations0 = hotplug_stats().sim_migrations;
  Worker w(uc, 3);
  ASSERT_TRUE(w.advance(kWarmup));
  ASSERT_EQ(w.cpu(), 3);

  // CPU 2 is still online: the worker must land on it, not on node 0.
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  EXPECT_EQ(caches_with_array_on(3), 0) << "an array is attached to slot 3 after cpu_down";
  ASSERT_TRUE(w.advance(kWarmup));
  EXPECT_EQ(w.cpu(), 2);
  EXPECT_EQ(caches_with_array_on(3), 0);

  // Now node 1 has no CPU: any online CPU of node 0 will do.
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  EXPECT_EQ(caches_with_array_on(2), 0);
  EXPECT_EQ(caches_with_array_on(3), 0);
  ASSERT_TRUE(w.advance(kWarmup));
  EXPECT_EQ(numaslab_cpu_to_node(w.cpu()), 0) << "worker on CPU " << w.cpu();
  EXPECT_EQ(caches_with_array_on(2), 0);
  EXPECT_EQ(caches_with_array_on(3), 0);

  w.stop();
  EXPECT_EQ(w.failures(), 0);
  EXPECT_GE(hotplug_stats().sim_migrations, migrations0 + 2);
  EXPECT_VERIFY_OK();
  EXPECT_EQ(objects_in_user_hands(raw(uc)), 0u);
}

TEST(HotplugQuiesce, MigrationPrefersSameNodeWithoutTraffic) {
  ASSERT_NO_FATAL_FAILURE(start("sim:4x2"));
  // A thread that sits idle on CPU 5 (node 2) while it goes down moves to
  // CPU 4, the other CPU of node 2, at its next operation.
  std::atomic<int> phase{0};
  std::atomic<int> after{-1};
  std::thread t([&] {
    EXPECT_EQ(numaslab_bind_thread_to_cpu(5), 0);
    phase.store(1);
    wait_until([&] { return phase.load() == 2; });
    after.store(numaslab_current_cpu());
    void* p = numaslab_kmalloc(50);
    EXPECT_EQ(numaslab_node_of(p), 2);
    numaslab_kfree(p);
  });
  ASSERT_TRUE(wait_until([&] { return phase.load() == 1; }));
  ASSERT_EQ(numaslab_cpu_down(5), 0);
  phase.store(2);
  t.join();
  EXPECT_EQ(after.load(), 4);
  EXPECT_EQ(numaslab_bind_thread_to_cpu(5), -ENODEV);
}

TEST(HotplugQuiesce, WorkersOnEveryCpuSurviveRepeatedDowns) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* uc = numaslab_cache_create("hp_quiesce_all", 72, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  {
    std::vector<std::unique_ptr<Worker>> ws;
    for (int cpu = 1; cpu < 4; ++cpu)
      ws.push_back(std::make_unique<Worker>(uc, cpu, /*rebind=*/true));
    for (auto& w : ws) ASSERT_TRUE(w->advance(50));
    for (int round = 0; round < 20; ++round) {
      for (int cpu : {3, 2, 1}) {
        ASSERT_EQ(numaslab_cpu_down(cpu), 0);
        EXPECT_EQ(caches_with_array_on(cpu), 0) << "round " << round << " cpu " << cpu;
      }
      for (auto& w : ws) ASSERT_TRUE(w->advance(20));
      for (auto& w : ws) EXPECT_EQ(w->cpu(), 0);
      for (int cpu : {1, 2, 3}) ASSERT_EQ(numaslab_cpu_up(cpu), 0);
      for (auto& w : ws) ASSERT_TRUE(w->advance(20));
      for (int i = 0; i < 3; ++i) EXPECT_EQ(ws[i]->cpu(), i + 1) << "worker did not rebind";
    }
    for (auto& w : ws) {
      w->stop();
      EXPECT_EQ(w->failures(), 0);
    }
  }
  EXPECT_VERIFY_OK();
  EXPECT_EQ(objects_in_user_hands(raw(uc)), 0u);
}

// The downed CPU's array goes back to the node's slabs (CPU 2 stays up, so
// the shared array stays).
TEST(HotplugDrain, CpuArrayReturnsToSlabs) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* uc = numaslab_cache_create("hp_drain_cpu", 100, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  Cache* c = raw(uc);
  run_on_cpu(3, [&] {
    std::vector<void*> v;
    for (int i = 0; i < 40; ++i) v.push_back(numaslab_cache_alloc(uc));
    for (void* p : v) numaslab_cache_free(uc, p);
  });
  const SlotView s3 = slot_view(c, 3);
  ASSERT_GT(s3.avail, 0u);
  const NodeView before = node_view(c, 1);
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  const NodeView after = node_view(c, 1);
  EXPECT_EQ(slot_view(c, 3).ac, nullptr);
  EXPECT_EQ(after.stats.active, before.stats.active - s3.avail);
  // free_objects grew by the array's contents, less any slab the second
  // pass destroyed.
  EXPECT_EQ(after.free_objects + (after.stats.destroyed - before.stats.destroyed) * c->geo.num,
            before.free_objects + s3.avail);
  EXPECT_EQ(after.shared, before.shared) << "node 1 still has CPU 2: shared stays";
  EXPECT_EQ(after.alien, before.alien);
  EXPECT_EQ(after.shared_avail, before.shared_avail);
  EXPECT_EQ(objects_in_user_hands(c), 0u);
  EXPECT_VERIFY_OK();
}

// The last CPU's array and the node's shared array both go back to the slabs.
TEST(HotplugDrain, SharedArrayReturnsToSlabsOnLastCpu) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* uc = numaslab_cache_create("hp_drain_shared", 100, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  Cache* c = raw(uc);
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  // More objects than the array holds: flushes fill the shared array.
  const std::uint32_t n = c->limit.load() + 3 * c->batchcount.load();
  std::vector<void*> keep;
  run_on_cpu(3, [&] {
    std::vector<void*> v;
    for (std::uint32_t i = 0; i < n; ++i) v.push_back(numaslab_cache_alloc(uc));
    for (int i = 0; i < 7; ++i) keep.push_back(v[i]);
    for (std::size_t i = 7; i < v.size(); ++i) numaslab_cache_free(uc, v[i]);
  });
  const SlotView s3 = slot_view(c, 3);
  const NodeView before = node_view(c, 1);
  ASSERT_GT(s3.avail, 0u);
  ASSERT_NE(before.shared, nullptr);
  ASSERT_GT(before.shared_avail, 0u);
  EXPECT_EQ(before.stats.active, keep.size() + s3.avail + before.shared_avail);

  ASSERT_EQ(numaslab_cpu_down(3), 0);
  const NodeView after = node_view(c, 1);
  EXPECT_EQ(after.nl, before.nl);
  EXPECT_EQ(after.shared, nullptr);
  EXPECT_EQ(after.alien, nullptr);
  EXPECT_EQ(after.stats.active, keep.size())
      << "only the objects the test holds are out of the slabs";
  EXPECT_EQ(after.stats.active, before.stats.active - s3.avail - before.shared_avail);
  EXPECT_EQ(after.free, 0u);
  EXPECT_EQ(after.free_objects + (after.stats.destroyed - before.stats.destroyed) * c->geo.num,
            before.free_objects + s3.avail + before.shared_avail);
  EXPECT_VERIFY_OK();
  for (void* p : keep) numaslab_cache_free(uc, p);
  EXPECT_EQ(objects_in_user_hands(c), 0u);
  EXPECT_VERIFY_OK();
}

// Node-0 objects freed on CPU 3 wait in node 1's alien array for node 0;
// when node 1 loses its last CPU they are drained home, not lost.
TEST(HotplugDrain, AlienArraysOfDyingNodeGoHome) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* uc = numaslab_cache_create("hp_drain_alien", 100, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  Cache* c = raw(uc);
  std::vector<void*> remote;
  for (int i = 0; i < 10; ++i) {
    void* p = numaslab_cache_alloc(uc);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(numaslab_node_of(p), 0);
    remote.push_back(p);
  }
  std::vector<void*> kept;  // node-0 objects the test keeps throughout
  for (int i = 0; i < 3; ++i) kept.push_back(numaslab_cache_alloc(uc));
  run_on_cpu(3, [&] {
    for (void* p : remote) numaslab_cache_free(uc, p);
  });
  std::vector<void*> queued;
  ASSERT_EQ(alien_avail(c, 1, 0, &queued), 10);
  std::sort(queued.begin(), queued.end());
  std::vector<void*> want = remote;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(queued, want);

  make_shared_arrays(c);  // as if node 0's CPUs had flushed
  const NodeView n0_before = node_view(c, 0);
  ASSERT_NE(n0_before.shared, nullptr);
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  EXPECT_EQ(alien_avail(c, 1, 0), 10) << "node 1 still has CPU 3: its aliens stay";
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  EXPECT_EQ(alien_avail(c, 1, 0), -1);

  // Every one of them is back on node 0: in its shared array (drained there
  // first) or in its slabs.
  const NodeView n0_after = node_view(c, 0);
  std::size_t in_shared = 0;
  for (void* p : remote)
    if (std::find(n0_after.shared_entries.begin(), n0_after.shared_entries.end(), p) !=
        n0_after.shared_entries.end())
      ++in_shared;
  const std::uint64_t to_slabs = n0_before.stats.active - n0_after.stats.active;
  EXPECT_EQ(in_shared + to_slabs, remote.size())
      << in_shared << " in node 0's shared array, " << to_slabs << " back in its slabs";
  EXPECT_EQ(n0_after.shared_avail, n0_before.shared_avail + in_shared);
  EXPECT_EQ(objects_in_user_hands(c), kept.size()) << "objects lost or duplicated";
  EXPECT_VERIFY_OK();
  for (void* p : kept) numaslab_cache_free(uc, p);
  EXPECT_EQ(objects_in_user_hands(c), 0u);
  EXPECT_VERIFY_OK();
}

}  // namespace
}  // namespace numaslab::hotplug_test
