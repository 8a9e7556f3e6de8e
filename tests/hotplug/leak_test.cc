// Down/up cycles leak nothing: after 1 000 cycles of taking node 1's CPUs
// down and up again, the metadata (node lists, arrays, alien sets) in the
// kmalloc caches and the memory held per node are what they were.
#include <cerrno>

#include "support/cache_state.h"
#include "support/handles.h"
#include "support/init.h"
#include "support/report.h"

namespace numaslab::hotplug_test {
namespace {

using namespace ::numaslab::test_support;

constexpr int kCycles = 1000;

TEST(HotplugLeak, ThousandDownUpCyclesLeakNothing) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* uc = numaslab_cache_create("hp_leak_obj", 80, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  // Warm up: one cycle first, so one-time growth (slabs the first cycle
  // needs) is not mistaken for a leak of the 999 others.
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  ASSERT_EQ(numaslab_cpu_up(2), 0);
  ASSERT_EQ(numaslab_cpu_up(3), 0);
  shrink_everything();
  const auto meta0 = metadata_objects_by_cache();
  const auto users0 = user_objects_by_cache();
  std::map<std::string, std::uint64_t> active0;
  for (Cache* c : all_caches()) active0[c->name] = active_objs(c);
  const std::size_t bytes0 = node_bytes_total();
  const numaslab_hotplug_stats stats0 = hotplug_stats();

  for (int cycle = 0; cycle < kCycles; ++cycle) {
    // Node-1 objects held across the cycle, allocated while the node is up.
    void* held_obj = numaslab_cache_alloc_node(uc, 1);
    void* held_k = numaslab_kmalloc_node(48 + cycle % 900, 1);
    ASSERT_NE(held_obj, nullptr);
    ASSERT_NE(held_k, nullptr);
    ASSERT_EQ(numaslab_cpu_down(3), 0) << "cycle " << cycle;
    ASSERT_EQ(numaslab_cpu_down(2), 0) << "cycle " << cycle;
    // Allocations on and frees to the node while it has no CPU.
    void* during = numaslab_kmalloc_node(200, 1);
    ASSERT_NE(during, nullptr);
    EXPECT_EQ(numaslab_node_of(during), 1);
    numaslab_kfree(held_k);
    ASSERT_EQ(numaslab_cpu_up(2), 0) << "cycle " << cycle;
    ASSERT_EQ(numaslab_cpu_up(3), 0) << "cycle " << cycle;
    numaslab_cache_free(uc, held_obj);
    numaslab_kfree(during);
    if (cycle % 100 == 0) {
      // Some traffic on the node's own CPUs, remote frees included.
      run_on_cpu(3, [&] {
        void* v[64];
        for (void*& p : v) p = numaslab_cache_alloc(uc);
        for (void* p : v) numaslab_cache_free(uc, p);
        void* k = numaslab_kmalloc_node(300, 0);
        numaslab_kfree(k);
      });
    }
  }

  const numaslab_hotplug_stats stats1 = hotplug_stats();
  EXPECT_EQ(stats1.ups - stats0.ups, 2u * kCycles);
  EXPECT_EQ(stats1.downs - stats0.downs, 2u * kCycles);
  EXPECT_EQ(stats1.last_cpu_of_node_downs - stats0.last_cpu_of_node_downs, 1u * kCycles);
  EXPECT_EQ(stats1.canceled, 0u);
  EXPECT_VERIFY_OK();

  shrink_everything();
  const auto meta1 = metadata_objects_by_cache();
  EXPECT_EQ(meta1, meta0) << "metadata objects changed:\n" << map_diff(meta0, meta1);
  const auto users1 = user_objects_by_cache();
  EXPECT_EQ(users1, users0) << "objects in use changed:\n" << map_diff(users0, users1);
  std::map<std::string, std::uint64_t> active1;
  for (Cache* c : all_caches()) active1[c->name] = active_objs(c);
  // After shrinking, arrays are (nearly) empty, so active objects are the
  // objects in use; a leak would show here as growth.
  for (const auto& [name, n] : active0)
    EXPECT_LE(active1[name], n + 64) << name << ": " << n << " -> " << active1[name];
  const std::size_t bytes1 = node_bytes_total();
  // The same objects may sit in a few more partial slabs than before, but
  // nothing may grow with the number of cycles.
  EXPECT_LE(bytes1, bytes0 + 64 * 1024) << bytes0 << " -> " << bytes1;
  RecordProperty("node_bytes_before", static_cast<int>(bytes0));
  RecordProperty("node_bytes_after", static_cast<int>(bytes1));
  EXPECT_VERIFY_OK();
  EXPECT_EQ(objects_in_user_hands(raw(uc)), 0u);
  EXPECT_EQ(numaslab_cache_destroy(uc), 0);
}

}  // namespace
}  // namespace numaslab::hotplug_test
