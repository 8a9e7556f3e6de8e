// Bootstrap and self-hosting: after init, every piece of cache metadata is an
// object of numaslab's own caches.
#include <set>
#include <string>
#include <vector>

#include "cache_test_util.h"

namespace numaslab::detail {
namespace {

using namespace testing_cache;

// The kmalloc cache a metadata pointer lives in, or nullptr (with a failure).
Cache* metadata_owner(const void* p, const std::string& what) {
  PageDesc* d = page_lookup(p);
  if (!d) {
    ADD_FAILURE() << what << " at " << p << " is not in numaslab memory";
    return nullptr;
  }
  if (d->kind != PageKind::kSlab) {
    ADD_FAILURE() << what << " at " << p << " is not a slab object (kind " << int(d->kind) << ")";
    return nullptr;
  }
  auto* owner = static_cast<Cache*>(d->owner);
  if (!owner->is_kmalloc) ADD_FAILURE() << what << " lives in non-kmalloc cache " << owner->name;
  // It is an exact object start, handed out: kBufctlUser at NUMASLAB_CHECK=
  // full; at fast an object out of its slab is kBufctlCached wherever it is.
  auto* s = static_cast<Slab*>(d->slab);
  std::int64_t idx = slab_object_index(owner->geo, s, p);
  if (idx < 0) {
    ADD_FAILURE() << what << " is not at an object boundary of " << owner->name;
  } else if (s->load_bufctl(static_cast<std::uint32_t>(idx)) !=
             (check_full() ? kBufctlUser : kBufctlCached)) {
    ADD_FAILURE() << what << " is not marked as allocated in " << owner->name;
  }
  return owner;
}

void check_cache_metadata(Cache* c, int* checked) NS_NO_THREAD_SAFETY_ANALYSIS {
  Topology& t = topology();
  const std::string cn = c->name;
  for (int n = 0; n < t.num_nodes(); ++n) {
    NodeLists* nl = c->node(n);
    ASSERT_NE(nl, nullptr) << cn << " node " << n;
    metadata_owner(nl, cn + " NodeLists[" + std::to_string(n) + "]");
    EXPECT_EQ(numaslab_node_of(nl), n) << cn << ": node lists live on their node";
    EXPECT_EQ(nl->node, n);
    ++*checked;
    if (ArrayCache* sh = nl->shared.load()) {
      metadata_owner(sh, cn + " shared[" + std::to_string(n) + "]");
      EXPECT_EQ(numaslab_node_of(sh), n);
      ++*checked;
    }
    if (AlienArray** al = nl->alien.load()) {
      metadata_owner(al, cn + " alien set[" + std::to_string(n) + "]");
      for (int m = 0; m < t.num_nodes(); ++m) {
        if (m == n) {
          EXPECT_EQ(al[m], nullptr) << "no alien array for the own node";
          continue;
        }
        ASSERT_NE(al[m], nullptr);
        metadata_owner(al[m], cn + " alien[" + std::to_string(n) + "][" + std::to_string(m) + "]");
        EXPECT_EQ(numaslab_node_of(al[m]), n);
        EXPECT_EQ(al[m]->home_node, m);
        EXPECT_EQ(al[m]->ac.limit, kAlienLimit);
        ++*checked;
      }
    } else {
      ADD_FAILURE() << cn << " node " << n << " has no alien set on a 2-node machine";
    }
  }
  for (int cpu = 0; cpu < t.possible_cpus(); ++cpu) {
    CpuSlot& s = c->slot(cpu);
    LockGuard<SpinLock> g(s.lock);
    ASSERT_NE(s.base, nullptr) << cn << " CPU " << cpu;
    metadata_owner(s.header(), cn + " array[" + std::to_string(cpu) + "]");
    EXPECT_EQ(numaslab_node_of(s.header()), t.cpu_to_node(cpu))
        << cn << ": CPU array on the CPU's node";
    ++*checked;
  }
}

TEST(Bootstrap, AllMetadataIsSelfHosted) {
  init_sim();
  numaslab_cache* user = numaslab_cache_create("user_after_boot", 333, 0, 0, nullptr);
  ASSERT_NE(user, nullptr);
  std::vector<Cache*> caches;
  {
    LockGuard<Mutex> g(registry().mutex);
    for (Cache* c = registry().head; c; c = c->next) caches.push_back(c);
  }
  ASSERT_GE(caches.size(), static_cast<std::size_t>(kNumKmallocClasses) + 2);
  // Shared arrays are made at a node's first flush: make every one there is.
  for (Cache* c : caches) make_shared_arrays(c);
  int checked = 0;
  for (Cache* c : caches) check_cache_metadata(c, &checked);
  EXPECT_GT(checked, 43 * 4 * 2);
}

TEST(Bootstrap, CacheDescriptorsComeFromKmemCache) {
  init_sim();
  Cache* cc = cache_cache();
  ASSERT_NE(cc, nullptr);
  EXPECT_STREQ(cc->name, "kmem_cache");
  EXPECT_EQ(find_cache("kmem_cache"), cc);
  EXPECT_GE(cc->object_size, Cache::bytes_for(topology().possible_cpus()));
  // kmalloc caches' descriptors are objects of the cache of caches.
  for (int cls = 0; cls < kNumKmallocClasses; ++cls) {
    PageDesc* d = page_lookup(kmalloc_cache(cls));
    ASSERT_NE(d, nullptr) << cls;
    EXPECT_EQ(d->kind, PageKind::kSlab);
    EXPECT_EQ(d->owner, cc) << kmalloc_cache(cls)->name;
  }
  // And so are user caches'.
  std::vector<numaslab_cache*> made;
  for (int i = 0; i < 5; ++i) {
    std::string name = "desc_" + std::to_string(i);
    numaslab_cache* c = numaslab_cache_create(name.c_str(), 16 + i * 100, 0, 0, nullptr);
    ASSERT_NE(c, nullptr);
    PageDesc* d = page_lookup(c);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->kind, PageKind::kSlab);
    EXPECT_EQ(d->owner, cc) << name;
    EXPECT_EQ(addr(c) % kCacheLine, 0u) << "descriptors are cache-line aligned";
    made.push_back(c);
  }
  for (numaslab_cache* c : made) EXPECT_EQ(numaslab_cache_destroy(c), 0);
  EXPECT_VERIFY_OK();
}

TEST(Bootstrap, OffSlabDescriptorsComeFromKmalloc) {
  init_sim();
  numaslab_cache* c = numaslab_cache_create("offslab_user", 2048, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  Cache* k = raw(c);
  ASSERT_TRUE(k->geo.off_slab);
  ASSERT_NE(k->slabp_cache, nullptr);
  EXPECT_TRUE(k->slabp_cache->is_kmalloc);
  EXPECT_GE(k->slabp_cache->geo.buffer_size, k->geo.slab_size);
  EXPECT_FALSE(k->slabp_cache->geo.off_slab) << "no recursion while growing";
  void* p = numaslab_cache_alloc(c);
  PageDesc* d = page_lookup(p);
  ASSERT_NE(d, nullptr);
  auto* s = static_cast<Slab*>(d->slab);
  PageDesc* sd = page_lookup(s);
  ASSERT_NE(sd, nullptr);
  EXPECT_EQ(sd->kind, PageKind::kSlab);
  EXPECT_EQ(sd->owner, k->slabp_cache) << "the slab descriptor is a kmalloc object";
  EXPECT_EQ(s->s_mem, static_cast<char*>(page_address(d)) + s->colouroff);
  numaslab_cache_free(c, p);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
  EXPECT_VERIFY_OK();
}

TEST(Bootstrap, EveryKmallocClassOffSlabDescriptorFitsAnOnSlabClass) {
  init_sim();
  for (int cls = 0; cls < kNumKmallocClasses; ++cls) {
    Cache* c = kmalloc_cache(cls);
    if (!c->geo.off_slab) continue;
    ASSERT_NE(c->slabp_cache, nullptr) << c->name;
    EXPECT_FALSE(c->slabp_cache->geo.off_slab) << c->name;
    EXPECT_LT(c->slabp_cache->geo.buffer_size, c->geo.buffer_size) << c->name;
  }
}

TEST(Bootstrap, VerifyPassesRightAfterInit) {
  init_sim("sim:4x1");
  EXPECT_VERIFY_OK();
  init_sim("sim:4x1");
  EXPECT_EQ(numaslab_num_nodes(), 4);
}

TEST(Bootstrap, SingleNodeHasNoAlienArrays) {
  init_sim("sim:1x4");
  numaslab_cache* c = numaslab_cache_create("one_node", 64, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  make_shared_arrays(raw(c));
  NodeView v = node_view(raw(c), 0);
  EXPECT_NE(v.shared, nullptr);
  EXPECT_EQ(v.alien, nullptr);
  std::vector<void*> objs;
  for (int cpu = 0; cpu < 4; ++cpu) {
    ASSERT_EQ(numaslab_bind_thread_to_cpu(cpu), 0);
    for (int i = 0; i < 50; ++i) objs.push_back(numaslab_cache_alloc(c));
  }
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  for (void* p : objs) numaslab_cache_free(c, p);
  EXPECT_EQ(slot_view(raw(c), 0).stats.remote_frees, 0u);
  EXPECT_VERIFY_OK();
}

}  // namespace
}  // namespace numaslab::detail
