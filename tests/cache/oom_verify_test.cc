// Out of memory (injected mmap failures) and numaslab_verify: a clean report
// after mixed workloads, and detection of deliberately injected corruption.
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "cache_test_util.h"
#include "fakes/fake_platform.h"
#include "page/page_allocator.h"
#include "platform/os_memory.h"

namespace numaslab::detail {
namespace {

using namespace testing_cache;

// With mmap failing, takes every free page of every node so that anything
// needing new pages fails. Returns the pages taken (order 0).
std::vector<void*> exhaust_pages() {
  testing_fakes::FakePlatform::install();
  testing_fakes::FakePlatform::fail_next(testing_fakes::Call::kMap,
                                         testing_fakes::FakePlatform::kForever);
  std::vector<void*> pages;
  for (int node = 0; node < topology().num_nodes(); ++node) {
    while (void* p = alloc_pages(node, 0)) pages.push_back(p);
  }
  return pages;
}

void give_back(std::vector<void*>& pages) {
  testing_fakes::FakePlatform::stop_failing();
  for (void* p : pages) free_pages(p, 0);
  pages.clear();
}

TEST(OutOfMemory, AllocationsThatNeedPagesFailWithEnomemAndRecover) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = numaslab_cache_create("oom_cache", 256, 0, 0, nullptr);
  numaslab_cache* off = numaslab_cache_create("oom_offslab", 4096, 0, 0, nullptr);
  ASSERT_TRUE(c && off);
  std::vector<void*> pages = exhaust_pages();
  ASSERT_FALSE(pages.empty());

  errno = 0;
  EXPECT_EQ(numaslab_cache_alloc(c), nullptr) << "a fresh cache needs a slab";
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(numaslab_cache_alloc_node(c, 1), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(numaslab_cache_alloc(off), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(numaslab_kmalloc(std::size_t{64} << 20), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(numaslab_kmalloc(std::size_t{1} << 20), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(numaslab_kmalloc_node(50000, 1), nullptr);
  EXPECT_EQ(errno, ENOMEM);

  // Small kmallocs succeed while cached objects last, then fail cleanly.
  std::vector<void*> small;
  void* p;
  errno = 0;
  while ((p = numaslab_kmalloc(2048)) != nullptr) {
    small.push_back(p);
    ASSERT_LT(small.size(), 100000u) << "kmalloc never ran out";
  }
  EXPECT_EQ(errno, ENOMEM);
  // Creating caches fails cleanly too, once metadata runs out.
  std::vector<numaslab_cache*> made;
  numaslab_cache* k;
  errno = 0;
  for (int i = 0; (k = numaslab_cache_create(("oom_" + std::to_string(i)).c_str(), 64, 0, 0,
                                             nullptr)) != nullptr;
       ++i) {
    made.push_back(k);
    ASSERT_LT(made.size(), 5000u) << "cache creation never ran out";
  }
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_VERIFY_OK();

  // Memory back: everything works again.
  give_back(pages);
  void* a = numaslab_cache_alloc(c);
  ASSERT_NE(a, nullptr);
  void* b = numaslab_cache_alloc(off);
  ASSERT_NE(b, nullptr);
  void* huge = numaslab_kmalloc(std::size_t{64} << 20);
  ASSERT_NE(huge, nullptr);
  std::memset(a, 1, 256);
  std::memset(b, 2, 4096);
  static_cast<char*>(huge)[(std::size_t{64} << 20) - 1] = 3;
  for (numaslab_cache* m : made) {
    void* q = numaslab_cache_alloc(m);
    ASSERT_NE(q, nullptr);
    numaslab_cache_free(m, q);
  }
  EXPECT_VERIFY_OK();
  numaslab_cache_free(c, a);
  numaslab_cache_free(off, b);
  numaslab_kfree(huge);
  for (void* s : small) numaslab_kfree(s);
  for (numaslab_cache* m : made) EXPECT_EQ(numaslab_cache_destroy(m), 0);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
  EXPECT_EQ(numaslab_cache_destroy(off), 0);
  EXPECT_VERIFY_OK();
}

TEST(OutOfMemory, CpuUpFailsCleanlyWithoutMemory) {
  init_sim();
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  ASSERT_EQ(numaslab_cpu_down(3), 0);
  ASSERT_EQ(numaslab_cpu_down(2), 0);  // node 1 without CPUs: UP_PREPARE allocates everything
  std::vector<void*> pages = exhaust_pages();
  // Every free object of node 1 taken too, so UP_PREPARE has nothing to use.
  std::vector<void*> held;
  for (int cls = 0; cls < kNumKmallocClasses; ++cls)
    while (void* p = numaslab_kmalloc_node(class_size(cls), 1)) held.push_back(p);
  EXPECT_EQ(numaslab_cpu_up(3), -ENOMEM);
  EXPECT_EQ(numaslab_cpu_online(3), 0);
  for (void* p : held) numaslab_kfree(p);
  give_back(pages);
  EXPECT_VERIFY_OK();
  ASSERT_EQ(numaslab_cpu_up(3), 0);
  EXPECT_VERIFY_OK();
}

// ---- verify ----

TEST(Verify, CleanAfterMixedWorkload) {
  init_sim();
  numaslab_cache* a = numaslab_cache_create("mixed_a", 40, 0, 0, nullptr);
  numaslab_cache* b = numaslab_cache_create("mixed_b", 700, 64, NUMASLAB_HWCACHE_ALIGN, nullptr);
  numaslab_cache* cc = numaslab_cache_create("mixed_c", 5000, 0, 0, nullptr);
  ASSERT_TRUE(a && b && cc);
  std::vector<std::pair<numaslab_cache*, void*>> objs;
  std::vector<void*> km;
  unsigned seed = 7;
  for (int round = 0; round < 20; ++round) {
    if (numaslab_cpu_online(round % 4) == 1) {
      ASSERT_EQ(numaslab_bind_thread_to_cpu(round % 4), 0);
    }
    for (int i = 0; i < 300; ++i) {
      seed = seed * 1664525u + 1013904223u;
      numaslab_cache* c = (seed >> 10) % 3 == 0 ? a : (seed >> 10) % 3 == 1 ? b : cc;
      void* p = (seed >> 4) % 4 == 0 ? numaslab_cache_alloc_node(c, (seed >> 6) % 2)
                                     : numaslab_cache_alloc(c);
      ASSERT_NE(p, nullptr);
      objs.emplace_back(c, p);
      void* k = numaslab_kmalloc((seed >> 12) % 40000);
      ASSERT_NE(k, nullptr);
      km.push_back(k);
    }
    // Free a random half, on this CPU.
    for (std::size_t i = 0; i < objs.size();) {
      seed = seed * 1664525u + 1013904223u;
      if ((seed >> 9) & 1) {
        numaslab_cache_free(objs[i].first, objs[i].second);
        objs[i] = objs.back();
        objs.pop_back();
      } else {
        ++i;
      }
    }
    for (std::size_t i = 0; i < km.size(); i += 2) numaslab_kfree(km[i]);
    std::vector<void*> keep;
    for (std::size_t i = 1; i < km.size(); i += 2) keep.push_back(km[i]);
    km.swap(keep);
    if (round == 10) {
      ASSERT_EQ(numaslab_cpu_down(1), 0);
      ASSERT_EQ(numaslab_cpu_down(2), 0);
      ASSERT_EQ(numaslab_cpu_down(3), 0);
    }
    if (round == 12) {
      for (int cpu : {1, 2, 3}) ASSERT_EQ(numaslab_cpu_up(cpu), 0);
    }
    auto vr = verify();
    ASSERT_EQ(vr.errors, 0) << "round " << round << "\n" << vr.report;
  }
  for (auto& [c, p] : objs) numaslab_cache_free(c, p);
  for (void* k : km) numaslab_kfree(k);
  EXPECT_VERIFY_OK();
  auto vr = verify();
  EXPECT_NE(vr.report.find("caches)"), std::string::npos) << vr.report;
  // Everything was freed (many objects on another node than their home):
  // destroy finds no object in use.
  EXPECT_EQ(numaslab_cache_destroy(a), 0);
  EXPECT_EQ(numaslab_cache_destroy(b), 0);
  EXPECT_EQ(numaslab_cache_destroy(cc), 0);
  EXPECT_VERIFY_OK();
}

TEST(Verify, SmallOrMissingBuffer) {
  init_sim();
  EXPECT_EQ(numaslab_verify(nullptr, 0), 0);
  char tiny[8];
  std::memset(tiny, 'Z', sizeof tiny);
  EXPECT_EQ(numaslab_verify(tiny, 4), 0);
  EXPECT_EQ(tiny[3], '\0');
  EXPECT_EQ(tiny[4], 'Z');
}

// Corruption of the bufctl states is what NUMASLAB_CHECK=full keeps exact:
// these run at that level (verify at fast is covered by the cache tests).
class VerifyCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("NUMASLAB_CHECK", "full", 1);
    init_sim();
    ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
    c_ = numaslab_cache_create("corrupt_me", 128, 0, 0, nullptr);
    ASSERT_NE(c_, nullptr);
    k_ = raw(c_);
    for (int i = 0; i < 100; ++i) objs_.push_back(numaslab_cache_alloc(c_));
    for (int i = 0; i < 30; ++i) {
      numaslab_cache_free(c_, objs_.back());
      objs_.pop_back();
    }
    EXPECT_VERIFY_OK();
  }
  void TearDown() override {
    EXPECT_VERIFY_OK();  // the injected corruption was undone
    for (void* p : objs_) numaslab_cache_free(c_, p);
  }
  static std::uint32_t bufctl_of(Cache* k, void* p) {
    auto* s = static_cast<Slab*>(page_lookup(p)->slab);
    return s->load_bufctl(static_cast<std::uint32_t>(slab_object_index(k->geo, s, p)));
  }
  static void set_bufctl(Cache* k, void* p, std::uint32_t v) {
    auto* s = static_cast<Slab*>(page_lookup(p)->slab);
    s->store_bufctl(static_cast<std::uint32_t>(slab_object_index(k->geo, s, p)), v);
  }

  numaslab_cache* c_ = nullptr;
  Cache* k_ = nullptr;
  std::vector<void*> objs_;
};

TEST_F(VerifyCorruption, FreeObjectsCounterOffByOne) NS_NO_THREAD_SAFETY_ANALYSIS {
  NodeLists* nl = k_->node(0);
  {
    LockGuard<SpinLock> g(nl->list_lock);
    ++nl->free_objects;
  }
  auto vr = verify();
  EXPECT_GT(vr.errors, 0);
  EXPECT_NE(vr.report.find("cache 'corrupt_me': node 0: free_objects"), std::string::npos)
      << vr.report;
  EXPECT_NE(vr.report.find("verify: FAILED"), std::string::npos) << vr.report;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    --nl->free_objects;
  }
}

TEST_F(VerifyCorruption, DuplicateInACpuArray) NS_NO_THREAD_SAFETY_ANALYSIS {
  CpuSlot& s = k_->slot(0);
  void* dup;
  {
    LockGuard<SpinLock> g(s.lock);
    ASSERT_GT(s.avail(), 0u);
    ASSERT_LT(s.avail(), s.capacity());
    dup = s.base[0];
    *s.top++ = dup;
  }
  auto vr = verify();
  EXPECT_GT(vr.errors, 0);
  char ptr[32];
  std::snprintf(ptr, sizeof ptr, "%p", dup);
  EXPECT_NE(vr.report.find(std::string("array of CPU 0 holds ") + ptr + " twice"),
            std::string::npos)
      << vr.report;
  EXPECT_NE(vr.report.find("marked cached but arrays hold"), std::string::npos) << vr.report;
  {
    LockGuard<SpinLock> g(s.lock);
    --s.top;
  }
}

TEST_F(VerifyCorruption, ForeignPointerInTheSharedArray) NS_NO_THREAD_SAFETY_ANALYSIS {
  make_shared_arrays(k_);
  NodeLists* nl = k_->node(0);
  int local = 0;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    ArrayCache* sh = nl->shared.load();
    ASSERT_NE(sh, nullptr);
    sh->entries()[sh->avail++] = &local;
  }
  auto vr = verify();
  EXPECT_GT(vr.errors, 0);
  EXPECT_NE(vr.report.find("shared array of node 0"), std::string::npos) << vr.report;
  EXPECT_NE(vr.report.find("not an object of this cache"), std::string::npos) << vr.report;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    --nl->shared.load()->avail;
  }
}

TEST_F(VerifyCorruption, UserObjectMarkedCached) {
  void* p = objs_[5];
  ASSERT_EQ(bufctl_of(k_, p), kBufctlUser);
  set_bufctl(k_, p, kBufctlCached);
  auto vr = verify();
  EXPECT_GT(vr.errors, 0);
  EXPECT_NE(vr.report.find("objects are marked cached but arrays hold"), std::string::npos)
      << vr.report;
  set_bufctl(k_, p, kBufctlUser);
}

TEST_F(VerifyCorruption, ObjectOfTheWrongNodeInACpuArray) NS_NO_THREAD_SAFETY_ANALYSIS {
  void* remote = numaslab_cache_alloc_node(c_, 1);
  ASSERT_EQ(numaslab_node_of(remote), 1);
  CpuSlot& s = k_->slot(0);
  set_bufctl(k_, remote, kBufctlCached);
  {
    LockGuard<SpinLock> g(s.lock);
    ASSERT_LT(s.avail(), s.capacity());
    *s.top++ = remote;
  }
  auto vr = verify();
  EXPECT_GT(vr.errors, 0);
  EXPECT_NE(vr.report.find("of node 1, expected node 0"), std::string::npos) << vr.report;
  {
    LockGuard<SpinLock> g(s.lock);
    --s.top;
  }
  set_bufctl(k_, remote, kBufctlUser);
  objs_.push_back(remote);
}

TEST_F(VerifyCorruption, SlabOnTheWrongList) NS_NO_THREAD_SAFETY_ANALYSIS {
  NodeLists* nl = k_->node(0);
  Slab* moved;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    moved = nl->full.head;
    ASSERT_NE(moved, nullptr) << "70 objects out of 30-object slabs: some slab is full";
    nl->full.remove(moved);
    nl->partial.push_back(moved);
    moved->list_id = SlabList::kPartial;
  }
  auto vr = verify();
  EXPECT_GT(vr.errors, 0);
  EXPECT_NE(vr.report.find("on the wrong list"), std::string::npos) << vr.report;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    nl->partial.remove(moved);
    nl->full.push_back(moved);
    moved->list_id = SlabList::kFull;
  }
}

TEST_F(VerifyCorruption, CorruptFreeList) NS_NO_THREAD_SAFETY_ANALYSIS {
  // Drain the arrays so some slab has objects free in it.
  ASSERT_EQ(numaslab_cache_shrink(c_), 1);
  NodeLists* nl = k_->node(0);
  Slab* s;
  std::uint32_t saved, head;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    s = nl->partial.head ? nl->partial.head : nl->free.head;
    ASSERT_NE(s, nullptr);
    head = s->free;
    ASSERT_NE(head, kBufctlEnd);
    saved = s->load_bufctl(head);
    s->store_bufctl(head, head);  // a cycle
  }
  auto vr = verify();
  EXPECT_GT(vr.errors, 0);
  EXPECT_NE(vr.report.find("free list corrupt"), std::string::npos) << vr.report;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    s->store_bufctl(head, saved);
  }
}

TEST_F(VerifyCorruption, ManyErrorsAreCappedInTheReport) {
  // Mark every handed-out object as cached: a large error count, reported
  // into a small buffer without overflowing it.
  for (void* p : objs_) set_bufctl(k_, p, kBufctlCached);
  char buf[256];
  int n = numaslab_verify(buf, sizeof buf);
  EXPECT_GT(n, 0);
  EXPECT_LT(std::strlen(buf), sizeof buf);
  for (void* p : objs_) set_bufctl(k_, p, kBufctlUser);
}

}  // namespace
}  // namespace numaslab::detail
