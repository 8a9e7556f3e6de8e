// R1 (node lists live as long as the cache), free_limit bookkeeping, and
// re-online restoring the shared and alien arrays (R2).
#include <cerrno>

#include "cache/internal.h"
#include "support/cache_state.h"
#include "support/handles.h"
#include "support/init.h"
#include "support/report.h"

namespace numaslab::hotplug_test {
namespace {

using namespace ::numaslab::test_support;

// Something that hands out and takes back objects of one cache.
struct Subject {
  Cache* c;
  std::function<void*()> alloc;          // on the calling thread's CPU
  std::function<void*(int)> alloc_node;  // on a given node
  std::function<void(void*)> free;
};

// State every cache must be in once node 1 has no online CPU.
void expect_node1_without_cpus(Cache* c) {
  NodeView n1 = node_view(c, 1);
  ASSERT_NE(n1.nl, nullptr) << c->name << ": node lists of node 1 were freed (R1)";
  EXPECT_EQ(n1.shared, nullptr) << c->name;
  EXPECT_EQ(n1.alien, nullptr) << c->name;
  EXPECT_EQ(n1.free, 0u) << c->name << ": free slabs left on node 1 (second shrink pass)";
  EXPECT_EQ(n1.free_limit, expected_free_limit(c, 0)) << c->name;
  EXPECT_EQ(slot_view(c, 2).ac, nullptr) << c->name;
  EXPECT_EQ(slot_view(c, 3).ac, nullptr) << c->name;
  // Node 0 is untouched: it keeps its arrays.
  NodeView n0 = node_view(c, 0);
  EXPECT_NE(n0.alien, nullptr) << c->name;
  EXPECT_NE(slot_view(c, 0).ac, nullptr) << c->name;
}

void check_r1(const Subject& s) {
  Cache* c = s.c;
  NodeLists* nl1 = c->node(1);
  ASSERT_NE(nl1, nullptr);
  make_shared_arrays(c);  // as if node 1's CPUs had flushed: the down must detach it
  {
    NodeView n1 = node_view(c, 1);
    if (c->shared.load() * c->batchcount.load() > 0) {
      EXPECT_NE(n1.shared, nullptr);
    }
    EXPECT_NE(n1.alien, nullptr);
  }

  // Node-1 objects the test keeps across the down: some through alloc_node
  // from CPU 0, some allocated locally by a thread on CPU 2 (which also
  // leaves a few in CPU 2's array).
  std::vector<void*> held;
  for (int i = 0; i < 40; ++i) {
    void* p = s.alloc_node(1);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(numaslab_node_of(p), 1);
    held.push_back(p);
  }
  run_on_cpu(2, [&] {
    std::vector<void*> tmp;
    for (int i = 0; i < 50; ++i) tmp.push_back(s.alloc());
    for (int i = 0; i < 10; ++i) {
      s.free(tmp.back());
      tmp.pop_back();
    }
    held.insert(held.end(), tmp.begin(), tmp.end());
  });
  for (void* p : held) {
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(numaslab_node_of(p), 1);
  }
  EXPECT_GT(slot_view(c, 2).avail, 0u);

  ASSERT_EQ(numaslab_cpu_down(3), 0);
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  EXPECT_EQ(numaslab_cpu_online(2), 0);
  EXPECT_EQ(numaslab_cpu_online(3), 0);

  EXPECT_EQ(c->node(1), nl1) << "node 1's lists must be the same object (R1)";
  for (Cache* any : all_caches()) {
    SCOPED_TRACE(any->name);
    expect_node1_without_cpus(any);
  }
  EXPECT_VERIFY_OK();

  // Held node-1 objects stay valid and freeable: half from CPU 0, a quarter
  // from a thread on CPU 1, the rest from an unbound thread.
  const std::size_t half = held.size() / 2, three_q = held.size() * 3 / 4;
  for (std::size_t i = 0; i < half; ++i) {
    EXPECT_EQ(numaslab_node_of(held[i]), 1);
    s.free(held[i]);
  }
  run_on_cpu(1, [&] {
    for (std::size_t i = half; i < three_q; ++i) s.free(held[i]);
  });
  std::thread any([&] {
    for (std::size_t i = three_q; i < held.size(); ++i) s.free(held[i]);
  });
  any.join();
  held.clear();

  // Node 1 still serves node-specific allocations, from its own memory.
  std::vector<void*> fresh;
  for (int i = 0; i < 30; ++i) {
    void* p = s.alloc_node(1);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(numaslab_node_of(p), 1);
    fresh.push_back(p);
  }
  run_on_cpu(1, [&] {
    for (int i = 0; i < 10; ++i) {
      void* p = s.alloc_node(1);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(numaslab_node_of(p), 1);
      fresh.push_back(p);
    }
  });
  EXPECT_EQ(c->node(1), nl1);
  for (void* p : fresh) s.free(p);
  EXPECT_VERIFY_OK();

  // And the node comes back.
  ASSERT_EQ(numaslab_cpu_up(2), 0);
  EXPECT_EQ(c->node(1), nl1);
  run_on_cpu(2, [&] {
    void* p = s.alloc();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(numaslab_node_of(p), 1);
    s.free(p);
  });
  EXPECT_VERIFY_OK();
}

TEST(HotplugR1, UserCacheNodeListsSurviveLastCpuDown) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* uc = numaslab_cache_create("hp_r1_obj", 100, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  Subject s{raw(uc), [uc] { return numaslab_cache_alloc(uc); },
            [uc](int n) { return numaslab_cache_alloc_node(uc, n); },
            [uc](void* p) { numaslab_cache_free(uc, p); }};
  ASSERT_NO_FATAL_FAILURE(check_r1(s));
  EXPECT_EQ(objects_in_user_hands(s.c), 0u);
  EXPECT_EQ(numaslab_cache_destroy(uc), 0);
  EXPECT_VERIFY_OK();
}

// kmalloc-1024 holds the per-CPU arrays of every limit-120 cache: the DEAD
// path frees node-1 metadata into this very cache while it is processed.
TEST(HotplugR1, KmallocMetadataClassSurvivesLastCpuDown) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  constexpr std::size_t kSize = 1000;
  Cache* k = kmalloc_cache_for(kSize);
  ASSERT_EQ(k, kmalloc_cache_for(ArrayCache::bytes_for(120)));
  Subject s{k, [] { return numaslab_kmalloc(kSize); },
            [](int n) { return numaslab_kmalloc_node(kSize, n); },
            [](void* p) { numaslab_kfree(p); }};
  ASSERT_NO_FATAL_FAILURE(check_r1(s));
}

TEST(HotplugR1, KmallocSmallClassSurvivesLastCpuDown) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  constexpr std::size_t kSize = 64;
  Subject s{kmalloc_cache_for(kSize), [] { return numaslab_kmalloc(kSize); },
            [](int n) { return numaslab_kmalloc_node(kSize, n); },
            [](void* p) { numaslab_kfree(p); }};
  ASSERT_NO_FATAL_FAILURE(check_r1(s));
}

// A cache created while node 1 has no CPU gets node-1 lists (the node has
// memory) but no shared or alien arrays there; the first CPU up adds them;
// destroying it with node 1 down works.
TEST(HotplugR1, CacheCreatedWhileNodeHasNoCpu) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  numaslab_cache* uc = numaslab_cache_create("hp_r1_late", 200, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  Cache* c = raw(uc);
  NodeView n1 = node_view(c, 1);
  ASSERT_NE(n1.nl, nullptr);
  EXPECT_EQ(n1.shared, nullptr);
  EXPECT_EQ(n1.alien, nullptr);
  EXPECT_EQ(n1.free_limit, expected_free_limit(c, 0));
  void* p = numaslab_cache_alloc_node(uc, 1);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(numaslab_node_of(p), 1);
  EXPECT_VERIFY_OK();

  ASSERT_EQ(numaslab_cpu_up(3), 0);
  n1 = node_view(c, 1);
  EXPECT_EQ(n1.nl, c->node(1));
  EXPECT_EQ(n1.shared, nullptr) << "a shared array comes at the node's first flush";
  EXPECT_NE(n1.alien, nullptr);
  EXPECT_NE(slot_view(c, 3).ac, nullptr);
  numaslab_cache_free(uc, p);
  ASSERT_EQ(numaslab_cpu_down(3), 0);

  EXPECT_EQ(numaslab_cache_destroy(uc), 0);
  EXPECT_VERIFY_OK();
  ASSERT_EQ(numaslab_cpu_up(2), 0);
  EXPECT_VERIFY_OK();
}

TEST(HotplugFreeLimit, FollowsOnlineCpusOfTheNode) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* uc = numaslab_cache_create("hp_limit_obj", 300, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  auto expect_limits = [](int on0, int on1, const char* when) {
    SCOPED_TRACE(when);
    for (Cache* c : all_caches()) {
      EXPECT_EQ(node_view(c, 0).free_limit, expected_free_limit(c, on0)) << c->name << " node 0";
      EXPECT_EQ(node_view(c, 1).free_limit, expected_free_limit(c, on1)) << c->name << " node 1";
    }
  };
  expect_limits(2, 2, "start");
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  expect_limits(2, 1, "down 3");
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  expect_limits(2, 0, "down 2");
  ASSERT_EQ(numaslab_cpu_up(2), 0);
  expect_limits(2, 1, "up 2");
  ASSERT_EQ(numaslab_cpu_up(3), 0);
  expect_limits(2, 2, "up 3");
  ASSERT_EQ(numaslab_cpu_down(0), 0);
  expect_limits(1, 2, "down 0");
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  expect_limits(1, 1, "down 0, 3");
  ASSERT_EQ(numaslab_cpu_up(0), 0);
  ASSERT_EQ(numaslab_cpu_up(3), 0);
  expect_limits(2, 2, "all up again");
  // Failed events leave it alone.
  EXPECT_EQ(numaslab_cpu_up(3), -EALREADY);
  expect_limits(2, 2, "after -EALREADY");

  // A cache created with a node short of CPUs starts from the right count.
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  numaslab_cache* late = numaslab_cache_create("hp_limit_late", 40, 0, 0, nullptr);
  ASSERT_NE(late, nullptr);
  expect_limits(2, 1, "cache created with CPU 2 down");
  EXPECT_VERIFY_OK();
}

// 4 nodes: node n's alien set has one array per other node, homed there.
void expect_reonlined(Cache* c, int node, int cpu, int nodes) {
  SCOPED_TRACE(c->name);
  const std::uint32_t limit = c->limit.load(), batch = c->batchcount.load();
  const std::uint32_t shared = c->shared.load();
  NodeView n = node_view(c, node);
  ASSERT_NE(n.nl, nullptr);
  if (shared * batch > 0) {
    EXPECT_EQ(n.shared, nullptr) << "a shared array comes at the node's first flush";
    make_shared_arrays(c);
    n = node_view(c, node);
    ASSERT_NE(n.shared, nullptr);
    EXPECT_EQ(n.shared_limit, shared * batch);
    EXPECT_EQ(n.shared_batch, detail::kSharedSentinelBatch);
  } else {
    EXPECT_EQ(n.shared, nullptr);
  }
  ASSERT_NE(n.alien, nullptr);
  for (int home = 0; home < nodes; ++home) {
    AlienArray* a = n.alien[home];
    if (home == node) {
      EXPECT_EQ(a, nullptr) << "alien array for the node itself";
      continue;
    }
    ASSERT_NE(a, nullptr) << "no alien array for home " << home;
    EXPECT_EQ(a->home_node, home);
    EXPECT_EQ(a->ac.limit, limit > 1 ? detail::kAlienLimit : 1u);
    EXPECT_EQ(alien_avail(c, node, home), 0);
  }
  SlotView s = slot_view(c, cpu);
  ASSERT_NE(s.ac, nullptr);
  EXPECT_EQ(s.limit, limit);
  EXPECT_EQ(s.batchcount, batch);
  EXPECT_EQ(s.avail, 0u);
}

TEST(HotplugReonline, RestoresSharedAliensAndCpuArray) {
  ASSERT_NO_FATAL_FAILURE(start("sim:2x2"));
  numaslab_cache* uc = numaslab_cache_create("hp_reonline", 100, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  Cache* c = raw(uc);
  ASSERT_EQ(numaslab_cpu_down(2), 0);
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  for (Cache* any : all_caches()) ASSERT_EQ(node_view(any, 1).alien, nullptr) << any->name;

  ASSERT_EQ(numaslab_cpu_up(2), 0);
  for (Cache* any : all_caches()) {
    expect_reonlined(any, 1, 2, 2);
    EXPECT_EQ(slot_view(any, 3).ac, nullptr) << any->name;
  }
  EXPECT_VERIFY_OK();

  // The restored alien array is used again: node-0 objects freed on CPU 2
  // queue in node 1's alien array for node 0 instead of going home one by one.
  std::vector<void*> objs;
  for (int i = 0; i < 5; ++i) objs.push_back(numaslab_cache_alloc(uc));
  run_on_cpu(2, [&] {
    for (void* p : objs) numaslab_cache_free(uc, p);
  });
  EXPECT_EQ(alien_avail(c, 1, 0), 5);
  EXPECT_VERIFY_OK();

  // A second CPU of the node installs nothing new (R2: spares are freed).
  NodeView before = node_view(c, 1);
  ASSERT_EQ(numaslab_cpu_up(3), 0);
  NodeView after = node_view(c, 1);
  EXPECT_EQ(after.shared, before.shared);
  EXPECT_EQ(after.alien, before.alien);
  EXPECT_EQ(alien_avail(c, 1, 0), 5);
  for (Cache* any : all_caches()) EXPECT_NE(slot_view(any, 3).ac, nullptr) << any->name;
  EXPECT_VERIFY_OK();
}

TEST(HotplugReonline, FourNodesAlienSetCoversEveryOtherNode) {
  ASSERT_NO_FATAL_FAILURE(start("sim:4x2"));
  ASSERT_EQ(numaslab_num_nodes(), 4);
  numaslab_cache* uc = numaslab_cache_create("hp_reonline4", 512, 0, 0, nullptr);
  ASSERT_NE(uc, nullptr);
  Cache* c = raw(uc);
  // Objects of node 2 freed on node 3 sit in node 3's alien array for node 2.
  std::vector<void*> objs;
  run_on_cpu(4, [&] {
    for (int i = 0; i < 4; ++i) objs.push_back(numaslab_cache_alloc(uc));
  });
  run_on_cpu(6, [&] {
    for (void* p : objs) numaslab_cache_free(uc, p);
  });
  EXPECT_EQ(alien_avail(c, 3, 2), 4);

  ASSERT_EQ(numaslab_cpu_down(6), 0);
  ASSERT_EQ(numaslab_cpu_down(7), 0);
  for (Cache* any : all_caches()) {
    NodeView n3 = node_view(any, 3);
    ASSERT_NE(n3.nl, nullptr) << any->name;
    EXPECT_EQ(n3.alien, nullptr) << any->name;
    EXPECT_EQ(n3.shared, nullptr) << any->name;
    // Other nodes keep their alien arrays for node 3: objects of node 3 may
    // still be freed anywhere.
    for (int n : {0, 1, 2}) EXPECT_GE(alien_avail(any, n, 3), 0) << any->name << " node " << n;
  }
  EXPECT_VERIFY_OK();

  ASSERT_EQ(numaslab_cpu_up(7), 0);
  for (Cache* any : all_caches()) expect_reonlined(any, 3, 7, 4);
  EXPECT_VERIFY_OK();
}

}  // namespace
}  // namespace numaslab::hotplug_test
