// The C++ interface: typed caches, STL allocator, pmr resource, slabinfo stream.
#include <gtest/gtest.h>

#include <cerrno>
#include <list>
#include <map>
#include <memory_resource>
#include <sstream>
#include <string>
#include <vector>

#include "numaslab/numaslab.hpp"

namespace {

struct Inode {
  static inline int live = 0;
  explicit Inode(int n) : number(n) { ++live; }
  ~Inode() { --live; }
  int number;
  char name[40] = {};
};

TEST(CppApi, TypedCacheConstructsAndDestroys) {
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  numaslab::Cache<Inode> inodes("cpp-inode");
  std::vector<Inode*> v;
  for (int i = 0; i < 1000; ++i) v.push_back(inodes.make(i));
  EXPECT_EQ(Inode::live, 1000);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(v[i]->number, i);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(v[i]) % alignof(Inode), 0u);
  }
  for (Inode* p : v) inodes.destroy(p);
  EXPECT_EQ(Inode::live, 0);
  EXPECT_EQ(inodes.shrink(), 0);
  Inode* far = inodes.make_on_node(1, 7);
  EXPECT_EQ(numaslab_node_of(far), 1);
  inodes.destroy(far);
}

TEST(CppApi, DuplicateNameThrows) {
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  numaslab::Cache<int> a("cpp-dup");
  EXPECT_THROW(numaslab::Cache<int> b("cpp-dup"), std::invalid_argument);
}

TEST(CppApi, BadNameThrowsInvalidArgument) {
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  try {
    numaslab::Cache<int> bad("has space");
    FAIL() << "a cache name with a space was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("invalid cache name"), std::string::npos) << e.what();
  }
  EXPECT_THROW(numaslab::Cache<int> empty(""), std::invalid_argument);
}

TEST(CppApi, AllocatorsCompareForCpp17) {
  numaslab::Allocator<int> a;
  numaslab::Allocator<double> b;
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a != b);
  static_assert(std::allocator_traits<numaslab::Allocator<int>>::is_always_equal::value);
}

TEST(CppApi, CacheDestroyedWithTheObject) {
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  { numaslab::Cache<int> a("cpp-scoped"); }
  // The name is free again: the first cache was destroyed.
  numaslab::Cache<int> b("cpp-scoped");
  EXPECT_STREQ(b.name(), "cpp-scoped");
}

TEST(CppApi, StlContainersOnKmalloc) {
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  std::vector<int, numaslab::Allocator<int>> v;
  for (int i = 0; i < 100000; ++i) v.push_back(i);
  EXPECT_EQ(numaslab_node_of(v.data()) >= 0, true);
  long sum = 0;
  for (int x : v) sum += x;
  EXPECT_EQ(sum, 100000L * 99999 / 2);
  std::map<int, std::string, std::less<>, numaslab::Allocator<std::pair<const int, std::string>>> m;
  for (int i = 0; i < 1000; ++i) m[i] = std::to_string(i);
  EXPECT_EQ(m.at(500), "500");
}

TEST(CppApi, PmrResourceHonoursAlignmentAndNode) {
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  numaslab::MemoryResource on_node1(1);
  std::pmr::vector<int> v(&on_node1);
  v.resize(5000);
  EXPECT_EQ(numaslab_node_of(v.data()), 1);
  numaslab::MemoryResource local;
  void* p = local.allocate(100, 256);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 256, 0u);
  local.deallocate(p, 100, 256);
  // Served from a size class whose objects are aligned, not a page run.
  for (std::size_t align : {16, 32, 64, 128, 256, 512, 1024, 2048, 4096}) {
    for (std::size_t bytes : {std::size_t{1}, std::size_t{24}, align - 1, align, align + 1}) {
      void* q = local.allocate(bytes, align);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(q) % align, 0u) << bytes << " @" << align;
      EXPECT_GE(numaslab_ksize(q), bytes);
      if (bytes <= align) {
        EXPECT_LE(numaslab_ksize(q), align) << bytes << " @" << align;
      }
      local.deallocate(q, bytes, align);
    }
  }
  void* q = on_node1.allocate(24, 64);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(q) % 64, 0u);
  EXPECT_EQ(numaslab_ksize(q), 64u);
  EXPECT_EQ(numaslab_node_of(q), 1);
  on_node1.deallocate(q, 24, 64);
  // Above a page: a page run of the alignment's order.
  q = local.allocate(100, 8192);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(q) % 8192, 0u);
  local.deallocate(q, 100, 8192);
  EXPECT_THROW((void)local.allocate(100, std::size_t{4} << 20), std::bad_alloc);
  std::pmr::list<int> l(&local);
  for (int i = 0; i < 100; ++i) l.push_back(i);
  EXPECT_EQ(l.size(), 100u);
}

TEST(CApi, KmallocAlignedRejectsBadArguments) {
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  errno = 0;
  EXPECT_EQ(numaslab_kmalloc_aligned(10, 24, -1), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(numaslab_kmalloc_aligned(10, 64, 7), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(numaslab_kmalloc_aligned(10, std::size_t{4} << 20, -1), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  void* p = numaslab_kmalloc_aligned(10, 16, 0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u);
  EXPECT_EQ(numaslab_node_of(p), 0);
  numaslab_kfree(p);
}

TEST(CppApi, SlabinfoStreams) {
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  numaslab::Cache<Inode> inodes("cpp-stream");
  Inode* p = inodes.make(1);
  std::ostringstream os;
  os << numaslab::slabinfo();
  EXPECT_NE(os.str().find("slabinfo - version: 2.1"), std::string::npos);
  EXPECT_NE(os.str().find("\ncpp-stream "), std::string::npos);
  inodes.destroy(p);
}

}  // namespace
