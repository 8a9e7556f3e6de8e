// UP_CANCELED leaks nothing: when UP_PREPARE cannot allocate, cpu_up returns
// -ENOMEM, the CPU stays offline, nothing allocated for it survives, and the
// node's shared/alien arrays are exactly as they were.
//
// To fail at a chosen allocation (the first one, a later cache; the per-CPU,
// shared or alien allocation), node 1's pages are exhausted with mmap failing
//    (through the fake platform), each kmalloc class UP_PREPARE will use is
//    emptied on node 1, and exactly as many objects as the allocations before
//    the chosen one need are put back.
#include <cerrno>
#include <set>
#include <tuple>

#include "fakes/fake_platform.h"
#include "page/page_allocator.h"
#include "platform/os_memory.h"
#include "support/cache_state.h"
#include "support/handles.h"
#include "support/init.h"
#include "support/report.h"

namespace numaslab::hotplug_test {
namespace {

using namespace ::numaslab::test_support;

struct Node1State {
  std::vector<ArrayCache*> shared;
  std::vector<AlienArray**> alien;
  std::vector<bool> slot3;
};

Node1State node1_state() {
  Node1State s;
  for (Cache* c : all_caches()) {
    NodeView n = node_view(c, 1);
    EXPECT_NE(n.nl, nullptr) << c->name;
    s.shared.push_back(n.shared);
    s.alien.push_back(n.alien);
    s.slot3.push_back(slot_view(c, 3).ac != nullptr);
  }
  return s;
}

// Everything an UP_CANCELED of CPU 2 must leave as it found it.
void expect_canceled_cleanly(bool node_has_cpu, const Node1State& before,
                             const std::map<std::string, std::int64_t>& meta_before) {
  EXPECT_EQ(numaslab_cpu_online(2), 0);
  EXPECT_EQ(caches_with_array_on(2), 0) << "a per-CPU array of the canceled CPU survived";
  const Node1State after = node1_state();
  ASSERT_EQ(after.shared.size(), before.shared.size());
  const std::vector<Cache*> caches = all_caches();
  for (std::size_t i = 0; i < caches.size(); ++i) {
    SCOPED_TRACE(caches[i]->name);
    if (!node_has_cpu) {
      EXPECT_EQ(after.shared[i], nullptr);
      EXPECT_EQ(after.alien[i], nullptr);
    } else {
      // CPU 3 still runs on node 1: its shared and alien arrays stay, and
      // are the very same ones.
      EXPECT_EQ(after.shared[i], before.shared[i]);
      EXPECT_EQ(after.alien[i], before.alien[i]);
      EXPECT_NE(after.alien[i], nullptr);
      EXPECT_TRUE(after.slot3[i]);
    }
    EXPECT_EQ(node_view(caches[i], 1).free_limit,
              expected_free_limit(caches[i], node_has_cpu ? 1 : 0));
  }
  const auto meta_after = metadata_objects_by_cache();
  EXPECT_EQ(meta_after, meta_before) << "metadata leaked or lost:\n"
                                     << map_diff(meta_before, meta_after);
}

// Objects each cache has handed out from node 1 through alloc_node (which
// is how UP_PREPARE, running on CPU 0, allocates node-1 metadata).
std::map<std::string, std::int64_t> node1_allocs() {
  std::map<std::string, std::int64_t> m;
  for (Cache* c : all_caches())
    m[c->name] = static_cast<std::int64_t>(node_view(c, 1).stats.node_allocs);
  return m;
}

std::map<std::string, std::int64_t> minus(std::map<std::string, std::int64_t> a,
                                          const std::map<std::string, std::int64_t>& b) {
  for (auto& [k, v] : a) v -= b.at(k);
  return a;
}

void expect_up_complete() {
  EXPECT_EQ(numaslab_cpu_online(2), 1);
  for (Cache* c : all_caches()) {
    SCOPED_TRACE(c->name);
    EXPECT_NE(slot_view(c, 2).ac, nullptr);
    NodeView n = node_view(c, 1);
    EXPECT_NE(n.alien, nullptr);  // (a shared array comes at the node's first flush)
  }
  EXPECT_VERIFY_OK();
}

// ---- failing at a chosen allocation ----

struct PlannedAlloc {
  Cache* cache;
  const char* what;
  int cls;
};

// The metadata allocations UP_PREPARE makes for a CPU, in order (R2: every
// cache gets a per-CPU array and an alien set whether or not the node
// already has one; shared arrays come at a node's first flush).
std::vector<PlannedAlloc> up_prepare_plan() {
  std::vector<PlannedAlloc> plan;
  const int nodes = numaslab_num_nodes();
  for (Cache* c : all_caches()) {
    const std::uint32_t limit = c->limit.load(), batch = c->batchcount.load();
    plan.push_back({c, "cpu array",
                    detail::size_class(sizeof(detail::ArrayHeader) +
                                       detail::initial_entries(limit, batch) * sizeof(void*))});
    if (nodes > 1) {
      plan.push_back({c, "alien set", detail::size_class(sizeof(AlienArray*) * nodes)});
      for (int n = 1; n < nodes; ++n)
        plan.push_back(
            {c, "alien array",
             detail::size_class(AlienArray::bytes_for(limit > 1 ? detail::kAlienLimit : 1))});
    }
  }
  return plan;
}

class CancelAt : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(CancelAt, FailureAtChosenAllocationLeaksNothing) {
  const auto [where, node_has_cpu] = GetParam();
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  // Head of the registry: UP_PREPARE's first cache.
  numaslab_cache* uc = numaslab_cache_create("hp_cancel_at", 100, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  // Every node has flushed: its shared arrays exist (and objects the up frees
  // on node 1 go there, not back to the slabs the plan counts).
  for (Cache* c : all_caches()) make_shared_arrays(c);
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  if (!node_has_cpu) {
    ASSERT_EQ(numaslab_cpu_down(3), 0);
  }
  shrink_everything();

  const std::vector<PlannedAlloc> plan = up_prepare_plan();
  ASSERT_EQ(plan[0].cache, raw(uc));
  const std::size_t t = where >= 0 ? static_cast<std::size_t>(where) : plan.size() + where;
  ASSERT_LT(t, plan.size());
  SCOPED_TRACE(std::string("failing allocation #") + std::to_string(t) + ": " +
               plan[t].cache->name + " " + plan[t].what + " (kmalloc-" +
               std::to_string(detail::class_size(plan[t].cls)) + ")");
  std::map<int, std::uint32_t> need;  // class -> allocations before t
  for (std::size_t i = 0; i < t; ++i) ++need[plan[i].cls];
  need.emplace(plan[t].cls, 0);

  // 1. While memory lasts, make sure node 1 has enough objects of every
  //    class the allocations before `t` use.
  std::map<int, std::vector<void*>> held;
  for (const auto& [cls, n] : need) {
    for (std::uint32_t i = 0; i < n; ++i) {
      void* p = numaslab_kmalloc_node(detail::class_size(cls), 1);
      ASSERT_NE(p, nullptr);
      held[cls].push_back(p);
    }
  }
  // 2. No new memory for anyone, and no free page left on node 1 ...
  testing_fakes::NoNewMemory no_new_memory;
  std::vector<std::pair<void*, unsigned>> runs;
  for (int order = static_cast<int>(detail::kMaxRunOrder); order >= 0; --order)
    while (void* p = detail::alloc_pages(1, static_cast<unsigned>(order)))
      runs.emplace_back(p, static_cast<unsigned>(order));
  ASSERT_EQ(detail::page_allocator_stats(1).pages_free, 0u);
  // ... 3. nor a free object of those classes on node 1 ...
  for (const auto& [cls, n] : need) {
    while (void* p = numaslab_kmalloc_node(detail::class_size(cls), 1)) {
      ASSERT_EQ(numaslab_node_of(p), 1);
      held[cls].push_back(p);
    }
  }
  // ... 4. except exactly what the allocations before `t` need. (free_limit
  //    is raised so that no slab emptied here is destroyed; UP_PREPARE's
  //    first pass recomputes it, and takes nothing but objects until t.)
  for (const auto& [cls, n] : need) {
    Cache* k = detail::kmalloc_cache(cls);
    {
      NodeLists* nl = k->node(1);
      LockGuard<SpinLock> g(nl->list_lock);
      nl->free_limit = std::uint64_t{1} << 40;
    }
    std::vector<void*>& v = held[cls];
    ASSERT_GE(v.size(), n);
    detail::free_to_home(k, v.data() + v.size() - n, n);
    v.resize(v.size() - n);
    ASSERT_EQ(node_view(k, 1).free_objects, n) << k->name;
  }

  const Node1State before = node1_state();
  const auto meta0 = metadata_objects_by_cache();
  const auto allocs0 = node1_allocs();
  EXPECT_EQ(numaslab_cpu_up(2), -ENOMEM);
  // Proof that UP_PREPARE failed exactly at allocation t: every allocation
  // before it was served from node 1, and none after it was attempted.
  std::map<std::string, std::int64_t> want;
  for (const auto& [name, v] : allocs0) want[name] = 0;
  for (const auto& [cls, n] : need) want[detail::kmalloc_cache(cls)->name] = n;
  const auto got = minus(node1_allocs(), allocs0);
  EXPECT_EQ(got, want) << "node-1 allocations per cache (want -> got):\n" << map_diff(want, got);
  expect_canceled_cleanly(node_has_cpu, before, meta0);
  EXPECT_EQ(hotplug_stats().canceled, 1u);
  EXPECT_VERIFY_OK();

  // Memory again: everything returns and the CPU comes up.
  testing_fakes::FakePlatform::stop_failing();
  for (auto& [cls, v] : held)
    for (void* p : v) numaslab_kfree(p);
  for (auto [p, order] : runs) detail::free_pages(p, order);
  ASSERT_EQ(numaslab_cpu_up(2), 0);
  expect_up_complete();
}

// 0..2: the first cache's per-CPU array, alien set and alien array; 3..5:
// the next cache's (a kmalloc class); then further down the chain, and the
// very last allocation (-1).
INSTANTIATE_TEST_SUITE_P(Hotplug, CancelAt,
                         ::testing::Combine(::testing::Values(0, 1, 2, 3, 4, 5, 6, 17, 40, 77, -1),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           const int w = std::get<0>(info.param);
                           return (w >= 0 ? "alloc" + std::to_string(w) : std::string("last")) +
                                  (std::get<1>(info.param) ? "_NodeHasCpu" : "_NodeEmpty");
                         });

}  // namespace
}  // namespace numaslab::hotplug_test
