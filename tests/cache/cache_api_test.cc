// Object caches through the public C API: lifetime, alignment, constructors,
// argument checking, destroy with live objects, numaslab_init.
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "cache_test_util.h"

namespace numaslab::detail {
namespace {

using namespace testing_cache;

TEST(CacheApi, CreateAllocFreeDestroyRoundTrip) {
  init_sim();
  numaslab_cache* c = numaslab_cache_create("round_trip", 100, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_STREQ(numaslab_cache_name(c), "round_trip");
  EXPECT_EQ(numaslab_cache_object_size(c), 100u);
  EXPECT_EQ(find_cache("round_trip"), raw(c));

  std::vector<unsigned char*> objs;
  std::set<std::uintptr_t> seen;
  for (int i = 0; i < 1000; ++i) {
    auto* p = static_cast<unsigned char*>(numaslab_cache_alloc(c));
    ASSERT_NE(p, nullptr);
    ASSERT_TRUE(seen.insert(addr(p)).second) << "object handed out twice";
    std::memset(p, i & 0xff, 100);
    objs.push_back(p);
  }
  // No two objects overlap: sorted addresses are at least one stride apart.
  std::uintptr_t prev = 0;
  for (std::uintptr_t a : seen) {
    if (prev) {
      ASSERT_GE(a - prev, 100u);
    }
    prev = a;
  }
  for (int i = 0; i < 1000; ++i)
    for (int b = 0; b < 100; ++b) ASSERT_EQ(objs[i][b], i & 0xff) << "object " << i << " clobbered";
  for (auto* p : objs) numaslab_cache_free(c, p);
  numaslab_cache_free(c, nullptr);  // no-op
  EXPECT_VERIFY_OK();
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
  EXPECT_EQ(find_cache("round_trip"), nullptr);
  EXPECT_VERIFY_OK();
  // The name can be reused after destroy.
  numaslab_cache* again = numaslab_cache_create("round_trip", 64, 0, 0, nullptr);
  ASSERT_NE(again, nullptr);
  void* p = numaslab_cache_alloc(again);
  ASSERT_NE(p, nullptr);
  numaslab_cache_free(again, p);
  EXPECT_EQ(numaslab_cache_destroy(again), 0);
}

TEST(CacheApi, LazyInitFromEnvironment) {
  no_reaper();
  ASSERT_EQ(setenv("NUMASLAB_TOPOLOGY", "sim:3x1", 1), 0);
  void* p = numaslab_kmalloc(10);  // first call initialises
  ASSERT_NE(p, nullptr);
  EXPECT_STREQ(numaslab_topology_mode(), "sim");
  EXPECT_EQ(numaslab_num_nodes(), 3);
  EXPECT_EQ(numaslab_num_possible_cpus(), 3);
  numaslab_kfree(p);
  EXPECT_EQ(numaslab_init("sim:3x1"), 0);
  EXPECT_EQ(numaslab_init(nullptr), 0);
}

TEST(CacheApi, InitSpecs) {
  no_reaper();
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(numaslab_init("bogus"), -EINVAL);
  EXPECT_EQ(numaslab_init("sim:0x2"), -EINVAL);
  EXPECT_EQ(numaslab_init("sim:2x"), -EINVAL);
  EXPECT_EQ(numaslab_init("sim:2x2junk"), -EINVAL);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("bogus"), std::string::npos) << "the reason names the spec: " << err;
  EXPECT_NE(err.find("sim:0x2"), std::string::npos) << err;
  // A rejected spec leaves numaslab uninitialised: a good one still works.
  EXPECT_EQ(numaslab_init("sim:2x2"), 0);
  EXPECT_EQ(numaslab_init("sim:2x2"), 0) << "same spec again";
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(numaslab_init("sim:1x4"), -EBUSY);
  EXPECT_EQ(numaslab_init("real"), -EBUSY);
  EXPECT_EQ(numaslab_init("bogus"), -EINVAL) << "a bad spec is still a bad spec";
  err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("sim:2x2"), std::string::npos) << "EBUSY names the active topology: " << err;

  EXPECT_EQ(numaslab_num_nodes(), 2);
  EXPECT_EQ(numaslab_num_possible_cpus(), 4);
  const int want_node[] = {0, 0, 1, 1};
  for (int cpu = 0; cpu < 4; ++cpu) {
    EXPECT_EQ(numaslab_cpu_to_node(cpu), want_node[cpu]);
    EXPECT_EQ(numaslab_cpu_online(cpu), 1);
  }
  EXPECT_EQ(numaslab_cpu_to_node(4), -EINVAL);
  EXPECT_EQ(numaslab_cpu_to_node(-1), -EINVAL);
  EXPECT_EQ(numaslab_cpu_online(4), -EINVAL);
}

TEST(CacheApi, BindThreadToCpu) {
  init_sim();
  for (int cpu = 0; cpu < 4; ++cpu) {
    ASSERT_EQ(numaslab_bind_thread_to_cpu(cpu), 0);
    EXPECT_EQ(numaslab_current_cpu(), cpu);
    EXPECT_EQ(numaslab_current_node(), cpu / 2);
  }
  EXPECT_EQ(numaslab_bind_thread_to_cpu(4), -EINVAL);
  EXPECT_EQ(numaslab_bind_thread_to_cpu(-1), -EINVAL);
  EXPECT_EQ(numaslab_current_cpu(), 3) << "a failed bind changes nothing";
}

TEST(CacheApi, BadCreateArgumentsAreEinval) {
  init_sim();
  struct Case {
    const char* what;
    const char* name;
    size_t size, align;
    unsigned flags;
  };
  const std::string long48(48, 'n');
  const Case cases[] = {
      {"NULL name", nullptr, 64, 0, 0},
      {"empty name", "", 64, 0, 0},
      {"48-char name", long48.c_str(), 64, 0, 0},
      {"name with space", "my cache", 64, 0, 0},
      {"name with tab", "my\tcache", 64, 0, 0},
      {"name with newline", "my\ncache", 64, 0, 0},
      {"size 0", "zero", 0, 0, 0},
      {"size > 128 KiB", "huge", 128 * 1024 + 1, 0, 0},
      {"size SIZE_MAX", "huge2", SIZE_MAX, 0, 0},
      {"align 3", "align3", 64, 3, 0},
      {"align 48", "align48", 64, 48, 0},
      {"align 8 KiB", "align8k", 64, 8192, 0},
      {"unknown flag", "flags", 64, 0, 0x1},
      {"unknown high flag", "flags2", 64, 0, 0x80000000u},
  };
  for (const Case& k : cases) {
    errno = 0;
    EXPECT_EQ(numaslab_cache_create(k.name, k.size, k.align, k.flags, nullptr), nullptr) << k.what;
    EXPECT_EQ(errno, EINVAL) << k.what;
  }
  EXPECT_VERIFY_OK();
  // The boundaries that are allowed.
  const std::string long47(47, 'n');
  numaslab_cache* a = numaslab_cache_create(long47.c_str(), 128 * 1024, 4096,
                                            NUMASLAB_HWCACHE_ALIGN | NUMASLAB_RECLAIM_ACCOUNT,
                                            nullptr);
  ASSERT_NE(a, nullptr);
  EXPECT_STREQ(numaslab_cache_name(a), long47.c_str());
  void* p = numaslab_cache_alloc(a);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(addr(p) % 4096, 0u);
  std::memset(p, 1, 128 * 1024);
  numaslab_cache_free(a, p);
  EXPECT_EQ(numaslab_cache_destroy(a), 0);
  EXPECT_EQ(numaslab_cache_destroy(nullptr), -EINVAL);
}

TEST(CacheApi, DuplicateNameIsEexist) {
  init_sim();
  numaslab_cache* a = numaslab_cache_create("dup", 32, 0, 0, nullptr);
  ASSERT_NE(a, nullptr);
  errno = 0;
  EXPECT_EQ(numaslab_cache_create("dup", 64, 0, 0, nullptr), nullptr);
  EXPECT_EQ(errno, EEXIST);
  errno = 0;
  EXPECT_EQ(numaslab_cache_create("kmalloc-64", 64, 0, 0, nullptr), nullptr);
  EXPECT_EQ(errno, EEXIST);
  errno = 0;
  EXPECT_EQ(numaslab_cache_create("kmem_cache", 64, 0, 0, nullptr), nullptr);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(numaslab_cache_destroy(a), 0);
}

struct AlignCase {
  size_t size, align;
  unsigned flags;
  size_t want_align;
};

TEST(CacheApi, ObjectAlignment) {
  init_sim();
  const AlignCase cases[] = {
      {1, 0, 0, 8},        {24, 0, 0, 8},       {100, 16, 0, 16},    {100, 32, 0, 32},
      {100, 64, 0, 64},    {100, 128, 0, 128},  {24, 256, 0, 256},   {3000, 512, 0, 512},
      {100, 1024, 0, 1024}, {100, 2048, 0, 2048}, {100, 4096, 0, 4096}, {600, 8, 0, 8},
      // SLAB_HWCACHE_ALIGN: a cache line, halved while the object fits twice.
      {100, 0, NUMASLAB_HWCACHE_ALIGN, 64}, {64, 0, NUMASLAB_HWCACHE_ALIGN, 64},
      {24, 0, NUMASLAB_HWCACHE_ALIGN, 32},  {12, 0, NUMASLAB_HWCACHE_ALIGN, 16},
      {5000, 0, NUMASLAB_HWCACHE_ALIGN, 64}, {40, 128, NUMASLAB_HWCACHE_ALIGN, 128},
  };
  int i = 0;
  for (const AlignCase& k : cases) {
    std::string name = "align_" + std::to_string(i++);
    numaslab_cache* c = numaslab_cache_create(name.c_str(), k.size, k.align, k.flags, nullptr);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_EQ(raw(c)->geo.align, k.want_align) << name;
    std::vector<void*> objs;
    for (int j = 0; j < 70; ++j) {
      void* p = numaslab_cache_alloc(c);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(addr(p) % k.want_align, 0u)
          << "size " << k.size << " align " << k.align << " flags " << k.flags << " ptr " << p;
      std::memset(p, 0x5a, k.size);
      objs.push_back(p);
    }
    for (void* p : objs) numaslab_cache_free(c, p);
    EXPECT_EQ(numaslab_cache_destroy(c), 0);
  }
  EXPECT_VERIFY_OK();
}

// ---- constructors (Bonwick object caching) ----

constexpr std::uint64_t kCtorMagic = 0xc0ffee0ddba11ULL;
std::atomic<std::uint64_t> g_ctor_calls{0};
std::set<std::uintptr_t>* g_ctor_addrs = nullptr;

struct Obj {
  std::uint64_t magic;
  std::uint64_t payload[14];
};

void obj_ctor(void* p) {
  ++g_ctor_calls;
  if (g_ctor_addrs) g_ctor_addrs->insert(addr(p));
  auto* o = static_cast<Obj*>(p);
  o->magic = kCtorMagic;
  for (auto& w : o->payload) w = 0;
}

TEST(CacheApi, ConstructorRunsOncePerSlotAndStateSurvives) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  std::set<std::uintptr_t> addrs;
  g_ctor_addrs = &addrs;
  numaslab_cache* c = numaslab_cache_create("ctor_cache", sizeof(Obj), 0, 0, obj_ctor);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(g_ctor_calls.load(), 0u) << "no constructor before the first slab";
  const std::uint32_t num = raw(c)->geo.num;

  std::vector<Obj*> objs;
  for (int i = 0; i < 100; ++i) {
    auto* o = static_cast<Obj*>(numaslab_cache_alloc(c));
    ASSERT_NE(o, nullptr);
    ASSERT_EQ(o->magic, kCtorMagic) << "fresh object not constructed";
    ASSERT_EQ(addrs.count(addr(o)), 1u) << "handed out an object the constructor never saw";
    objs.push_back(o);
  }
  EXPECT_EQ(g_ctor_calls.load(), slabs_grown(raw(c)) * num) << "exactly once per object slot";
  EXPECT_EQ(addrs.size(), g_ctor_calls.load()) << "never twice on the same slot";
  const std::uint64_t calls = g_ctor_calls.load();

  // Use the objects, return them in their constructed state.
  for (Obj* o : objs) {
    for (auto& w : o->payload) w = 0xdead;
    for (auto& w : o->payload) w = 0;
    numaslab_cache_free(c, o);
  }
  objs.clear();
  for (int i = 0; i < 100; ++i) {
    auto* o = static_cast<Obj*>(numaslab_cache_alloc(c));
    ASSERT_NE(o, nullptr);
    ASSERT_EQ(o->magic, kCtorMagic);
    objs.push_back(o);
  }
  EXPECT_EQ(g_ctor_calls.load(), calls) << "reused objects are not constructed again";
  for (Obj* o : objs) numaslab_cache_free(c, o);
  g_ctor_addrs = nullptr;
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

TEST(CacheApi, ConstructedStateSurvivesFlushToSlabsAndRegrowth) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(1), 0);
  numaslab_cache* c = numaslab_cache_create("ctor_cycle", sizeof(Obj), 0, 0, obj_ctor);
  ASSERT_NE(c, nullptr);
  const std::uint32_t num = raw(c)->geo.num;
  for (int round = 0; round < 5; ++round) {
    std::vector<Obj*> objs;
    for (int i = 0; i < 3000; ++i) {
      auto* o = static_cast<Obj*>(numaslab_cache_alloc(c));
      ASSERT_NE(o, nullptr);
      ASSERT_EQ(o->magic, kCtorMagic) << "round " << round << " object " << i;
      for (auto w : o->payload) ASSERT_EQ(w, 0u);
      o->payload[3] = 77;  // dirty, then restore before free
      objs.push_back(o);
    }
    for (Obj* o : objs) {
      o->payload[3] = 0;
      numaslab_cache_free(c, o);
    }
    EXPECT_EQ(g_ctor_calls.load(), slabs_grown(raw(c)) * num) << "round " << round;
  }
  EXPECT_VERIFY_OK();
  EXPECT_EQ(numaslab_cache_shrink(c), 0);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

// ---- destroy ----

TEST(CacheApi, DestroyWithLiveObjectsIsEbusyAndCacheStaysUsable) {
  init_sim();
  numaslab_cache* c = numaslab_cache_create("busy_cache", 256, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  void* a = numaslab_cache_alloc(c);
  void* b = numaslab_cache_alloc(c);
  void* d = numaslab_cache_alloc(c);
  ASSERT_TRUE(a && b && d);
  numaslab_cache_free(c, d);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(numaslab_cache_destroy(c), -EBUSY);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("busy_cache"), std::string::npos) << err;
  EXPECT_NE(err.find("2 objects in use"), std::string::npos) << err;
  // Still registered and fully usable.
  EXPECT_EQ(find_cache("busy_cache"), raw(c));
  EXPECT_VERIFY_OK();
  void* e = numaslab_cache_alloc(c);
  ASSERT_NE(e, nullptr);
  std::memset(e, 0x11, 256);
  numaslab_cache_free(c, e);
  numaslab_cache_free(c, a);
  EXPECT_EQ(numaslab_cache_destroy(c), -EBUSY) << "one object still out";
  numaslab_cache_free(c, b);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
  EXPECT_EQ(find_cache("busy_cache"), nullptr);
  EXPECT_VERIFY_OK();
}

TEST(CacheApi, DestroyReturnsEveryPage) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = numaslab_cache_create("pages_back", 1000, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  std::vector<void*> objs;
  for (int i = 0; i < 500; ++i) objs.push_back(numaslab_cache_alloc_node(c, i % 2));
  for (void* p : objs) ASSERT_NE(p, nullptr);
  // Slab pages of this cache, found through their descriptors.
  std::set<PageDesc*> pages;
  for (void* p : objs) pages.insert(page_lookup(p));
  for (void* p : objs) numaslab_cache_free(c, p);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
  for (PageDesc* d : pages) {
    EXPECT_NE(d->kind, PageKind::kSlab) << "page still labelled as a slab after destroy";
  }
  EXPECT_VERIFY_OK();
}

// An object of node 0 freed on node 1 waits in node 1's alien array for
// node 0. Once every object is freed, shrink must report no object in use
// and destroy must succeed: draining node 1's alien array must not leave the
// objects in node 0's (already drained) shared array.
TEST(CacheApi, ShrinkAndDestroyAfterCrossNodeFrees) {
  init_sim();
  numaslab_cache* c = numaslab_cache_create("cross_node", 64, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  void* p = numaslab_cache_alloc(c);
  ASSERT_EQ(numaslab_node_of(p), 0);
  ASSERT_EQ(numaslab_bind_thread_to_cpu(2), 0);
  numaslab_cache_free(c, p);  // remote: node 1's alien array for node 0
  ASSERT_EQ(node_view(raw(c), 1).alien_avail[0], 1u);
  EXPECT_VERIFY_OK();
  EXPECT_EQ(numaslab_cache_shrink(c), 0) << "no object is in use";
  NodeView n0 = node_view(raw(c), 0);
  EXPECT_EQ(n0.shared_avail, 0u) << "shrink left objects in node 0's shared array";
  EXPECT_EQ(n0.stats.active, 0u);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "") << "a spurious 'still has objects in use' warning";
}

TEST(CacheApi, ShrinkReportsObjectsInUse) {
  init_sim();
  numaslab_cache* c = numaslab_cache_create("shrinky", 512, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  std::vector<void*> objs;
  for (int i = 0; i < 200; ++i) objs.push_back(numaslab_cache_alloc(c));
  EXPECT_EQ(numaslab_cache_shrink(c), 1);
  for (void* p : objs) numaslab_cache_free(c, p);
  EXPECT_EQ(numaslab_cache_shrink(c), 0);
  for (int n = 0; n < 2; ++n) {
    NodeView v = node_view(raw(c), n);
    EXPECT_EQ(v.partial + v.full + v.free, 0u) << "node " << n << " kept slabs after shrink";
    EXPECT_EQ(v.free_objects, 0u);
    EXPECT_EQ(v.shared_avail, 0u);
  }
  for (int cpu = 0; cpu < 4; ++cpu) EXPECT_EQ(slot_view(raw(c), cpu).avail, 0u);
  EXPECT_VERIFY_OK();
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

}  // namespace
}  // namespace numaslab::detail
