// Tests for slab/slab.h, slab/array_cache.h and slab/node_lists.h on real
// pages, without a cache on top.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <vector>

#include "slab_test_util.h"

namespace numaslab::detail {
namespace {

using testing_slab::SlabEnv;
using testing_slab::SlabLayerTest;

using SlabFormatTest = SlabLayerTest;
using NodeListsTest = SlabLayerTest;
using NodeListsDeathTest = SlabLayerTest;

std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// ---- slab_format / slab_object_index ----

TEST_F(SlabFormatTest, OnSlabLayoutWithColour) {
  // 200-byte objects: 19 per page, 168 bytes left over, 2 colours of 64.
  SlabGeometry g = geo(200);
  ASSERT_FALSE(g.off_slab);
  ASSERT_EQ(g.num, 19u);
  ASSERT_EQ(g.colour, 2u);
  ASSERT_EQ(g.slab_size, 128u);
  SlabEnv env(g);
  for (std::uint32_t colour = 0; colour < g.colour; ++colour) {
    Slab* s = env.make(colour);
    ASSERT_NE(s, nullptr);
    char* base = static_cast<char*>(s->page_start());
    EXPECT_EQ(addr(base) % kPageSize, 0u);
    EXPECT_EQ(reinterpret_cast<char*>(s), base + colour * g.colour_off)
        << "descriptor after the colour pad";
    EXPECT_EQ(s->s_mem, base + colour * g.colour_off + g.slab_size);
    EXPECT_EQ(s->colouroff, colour * g.colour_off + g.slab_size);
    EXPECT_LE(addr(s->s_mem) + std::size_t{g.num} * g.buffer_size, addr(base) + kPageSize)
        << "last object inside the slab";
    EXPECT_EQ(s->inuse, 0u);
    EXPECT_EQ(s->free, 0u);
    EXPECT_EQ(s->nodeid, 0);
    EXPECT_EQ(s->list_id, SlabList::kNone);
    // bufctl links 0 -> 1 -> ... -> num-1 -> end, inside the descriptor area.
    EXPECT_LE(addr(s->bufctl() + g.num), addr(s->s_mem));
    for (std::uint32_t i = 0; i + 1 < g.num; ++i) EXPECT_EQ(s->load_bufctl(i), i + 1);
    EXPECT_EQ(s->load_bufctl(g.num - 1), kBufctlEnd);
  }
}

TEST_F(SlabFormatTest, SmallObjectsAreListedAcrossCacheLines) {
  // Objects smaller than two cache lines are handed out from a new slab in an
  // order that never puts two in a row into one cache line, and the list still
  // holds every object once.
  for (std::size_t size : {8u, 16u, 24u, 40u, 64u, 96u, 120u}) {
    SlabGeometry g = geo(size);
    SlabEnv env(g);
    Slab* s = env.make();
    ASSERT_NE(s, nullptr);
    std::set<std::uint32_t> seen;
    std::uint32_t prev = kBufctlEnd;
    for (std::uint32_t i = s->free; i != kBufctlEnd; i = s->load_bufctl(i)) {
      ASSERT_LT(i, g.num) << "size " << size;
      ASSERT_TRUE(seen.insert(i).second) << "size " << size << ": object " << i << " twice";
      if (prev != kBufctlEnd) {
        const std::uintptr_t a = addr(env.object(s, prev)), b = addr(env.object(s, i));
        const std::uintptr_t lo = a < b ? a : b, hi = a < b ? b : a;
        EXPECT_LT((lo + g.buffer_size - 1) / kCacheLine, hi / kCacheLine)
            << "size " << size << ": objects " << prev << " and " << i << " share a line";
      }
      prev = i;
    }
    EXPECT_EQ(seen.size(), g.num) << "size " << size;
  }
}

TEST_F(SlabFormatTest, OffSlabDescriptorIsTheGivenMemory) {
  SlabGeometry g = geo(1024);
  ASSERT_TRUE(g.off_slab);
  SlabEnv env(g);
  Slab* s = env.make();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->s_mem, static_cast<char*>(s->page_start()));
  EXPECT_EQ(addr(s->s_mem) % kPageSize, 0u);
  EXPECT_EQ(s->colouroff, 0u);
  // The descriptor is not inside the slab's pages.
  EXPECT_TRUE(addr(s) < addr(s->s_mem) || addr(s) >= addr(s->s_mem) + kPageSize);
  for (std::uint32_t i = 0; i + 1 < g.num; ++i) EXPECT_EQ(s->load_bufctl(i), i + 1);
  EXPECT_EQ(s->load_bufctl(g.num - 1), kBufctlEnd);
}

TEST_F(SlabFormatTest, MultiPageSlabAndNode) {
  SlabGeometry g = geo(32768);
  ASSERT_EQ(g.order, 3u);
  SlabEnv env(g);
  Slab* s = env.make(0, /*node=*/5);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->nodeid, 5);
  EXPECT_EQ(g.num, 1u);
  EXPECT_EQ(s->load_bufctl(0), kBufctlEnd);
  // Every page of the slab maps back to it.
  for (int p = 0; p < 8; ++p) {
    PageDesc* d = page_lookup(s->s_mem + p * kPageSize + 100);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->slab, s);
  }
}

TEST_F(SlabFormatTest, ObjectIndexExactAtBoundariesOnly) {
  for (std::size_t size : {8u, 24u, 200u, 600u, 1024u, 3000u, 12288u}) {
    SlabGeometry g = geo(size);
    SlabEnv env(g);
    Slab* s = env.make(g.colour ? g.colour - 1 : 0);
    ASSERT_NE(s, nullptr);
    for (std::uint32_t i = 0; i < g.num; ++i) {
      char* obj = s->s_mem + std::size_t{i} * g.buffer_size;
      ASSERT_EQ(slab_object_index(g, s, obj), i);
      ASSERT_EQ(slab_object_index(g, s, obj + 1), -1);
      ASSERT_EQ(slab_object_index(g, s, obj + g.buffer_size / 2), -1);
      ASSERT_EQ(slab_object_index(g, s, obj + g.buffer_size - 1), -1);
    }
    // Before the first object (management / colour) and after the last.
    EXPECT_EQ(slab_object_index(g, s, s->s_mem - 1), -1);
    EXPECT_EQ(slab_object_index(g, s, s->page_start()), g.off_slab && s->colouroff == 0 ? 0 : -1);
    EXPECT_EQ(slab_object_index(g, s, s->s_mem + std::size_t{g.num} * g.buffer_size), -1)
        << "the leftover is not an object";
  }
}

// ---- SlabQueue and ArrayCache ----

TEST(SlabQueue, PushRemovePop) {
  Slab a{}, b{}, c{};
  SlabQueue q;
  EXPECT_TRUE(q.empty());
  q.push_back(&a);
  q.push_front(&b);
  q.push_back(&c);  // b a c
  EXPECT_EQ(q.count, 3u);
  EXPECT_EQ(q.head, &b);
  EXPECT_EQ(q.tail, &c);
  EXPECT_EQ(b.next, &a);
  EXPECT_EQ(a.prev, &b);
  q.remove(&a);  // b c
  EXPECT_EQ(b.next, &c);
  EXPECT_EQ(c.prev, &b);
  EXPECT_EQ(a.next, nullptr);
  EXPECT_EQ(q.count, 2u);
  EXPECT_EQ(q.pop_front(), &b);
  EXPECT_EQ(q.head, &c);
  EXPECT_EQ(q.tail, &c);
  EXPECT_EQ(c.prev, nullptr);
  EXPECT_EQ(q.pop_front(), &c);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.tail, nullptr);
  EXPECT_EQ(q.count, 0u);
  EXPECT_EQ(q.pop_front(), nullptr);
  // A queue moves by copying head/tail (bootstrap relies on it).
  q.push_back(&a);
  q.push_back(&b);
  SlabQueue moved = q;
  EXPECT_EQ(moved.pop_front(), &a);
  EXPECT_EQ(moved.pop_front(), &b);
}

TEST(ArrayCache, StackOperations) {
  std::vector<std::uint64_t> mem(ArrayCache::bytes_for(8) / 8 + 1);
  ASSERT_EQ(ArrayCache::bytes_for(8), 16u + 8 * sizeof(void*));
  auto* ac = reinterpret_cast<ArrayCache*>(mem.data());
  ac->init(8, 3);
  EXPECT_EQ(ac->avail, 0u);
  EXPECT_EQ(ac->limit, 8u);
  EXPECT_EQ(ac->batchcount, 3u);
  EXPECT_EQ(ac->room(), 8u);
  void* in[6];
  for (int i = 0; i < 6; ++i) in[i] = reinterpret_cast<void*>(0x1000 + i);
  ac->push_many(in, 6);
  EXPECT_EQ(ac->avail, 6u);
  EXPECT_EQ(ac->room(), 2u);
  void* out[4];
  ac->drop_bottom(2);  // the oldest two
  EXPECT_EQ(ac->avail, 4u);
  EXPECT_EQ(ac->entries()[0], in[2]) << "remaining entries moved down";
  EXPECT_EQ(ac->entries()[3], in[5]) << "the hot top kept";
  ac->take_top(out, 3);  // the hottest three, in stack order
  EXPECT_EQ(out[0], in[3]);
  EXPECT_EQ(out[1], in[4]);
  EXPECT_EQ(out[2], in[5]);
  EXPECT_EQ(ac->avail, 1u);
  EXPECT_EQ(ac->entries()[0], in[2]);
}

// ---- NodeLists ----

class Lists {
 public:
  Lists(int node = 0) {
    mem_ = std::aligned_alloc(64, (sizeof(NodeLists) + 63) / 64 * 64);
    nl_ = new (mem_) NodeLists;
    nl_->init(node, "test_cache");
  }
  ~Lists() {
    nl_->~NodeLists();
    std::free(mem_);
  }
  NodeLists* operator->() { return nl_; }
  NodeLists& operator*() { return *nl_; }

 private:
  void* mem_;
  NodeLists* nl_;
};

TEST_F(NodeListsTest, InitNamesTheLock) {
  Lists nl(3);
  EXPECT_STREQ(nl->list_lock.name().kind, "list_lock");
  EXPECT_STREQ(nl->list_lock.name().owner, "test_cache");
  EXPECT_EQ(nl->list_lock.name().index, 3);
  EXPECT_EQ(nl->node, 3);
  EXPECT_EQ(nl->shared.load(), nullptr);
  EXPECT_EQ(nl->alien.load(), nullptr);
}

TEST_F(NodeListsTest, TakeBatchWalksFreeListAndMovesSlabs) NS_NO_THREAD_SAFETY_ANALYSIS {
  SlabGeometry g = geo(200);
  SlabEnv env(g);
  Lists nl;
  LockGuard<SpinLock> lk(nl->list_lock);
  nl->free_limit = 1000;
  Slab* s = env.make();
  nl->add_new_slab(g, s);
  EXPECT_EQ(nl->free.count, 1u);
  EXPECT_EQ(s->list_id, SlabList::kFree);
  EXPECT_EQ(nl->free_objects, g.num);
  EXPECT_EQ(nl->stats.grown, 1u);

  void* out[64];
  ASSERT_EQ(nl->take_batch(g, out, 5), 5u);
  for (std::uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(out[i], env.object(s, i)) << "free list order";
    EXPECT_EQ(s->load_bufctl(i), kBufctlCached);
  }
  EXPECT_EQ(s->inuse, 5u);
  EXPECT_EQ(s->free, 5u);
  EXPECT_EQ(s->list_id, SlabList::kPartial);
  EXPECT_EQ(nl->partial.count, 1u);
  EXPECT_EQ(nl->free.count, 0u);
  EXPECT_EQ(nl->free_objects, g.num - 5);
  EXPECT_EQ(nl->stats.active, 5u);
  EXPECT_EQ(nl->stats.list_allocs, 5u);

  // Asking for more than there is: takes the rest, slab becomes full.
  ASSERT_EQ(nl->take_batch(g, out, 64), g.num - 5);
  EXPECT_EQ(s->inuse, g.num);
  EXPECT_EQ(s->free, kBufctlEnd);
  EXPECT_EQ(s->list_id, SlabList::kFull);
  EXPECT_EQ(nl->full.count, 1u);
  EXPECT_EQ(nl->partial.count, 0u);
  EXPECT_EQ(nl->free_objects, 0u);
  EXPECT_EQ(nl->stats.high_mark, g.num);
  nl->free_touched = false;
  EXPECT_EQ(nl->take_batch(g, out, 1), 0u);
  EXPECT_TRUE(nl->free_touched) << "an empty partial list looks at the free list";
}

TEST_F(NodeListsTest, TakeBatchPrefersPartialSlabs) NS_NO_THREAD_SAFETY_ANALYSIS {
  SlabGeometry g = geo(1024);
  SlabEnv env(g);
  Lists nl;
  LockGuard<SpinLock> lk(nl->list_lock);
  nl->free_limit = 1000;
  Slab* a = env.make();
  Slab* b = env.make();
  nl->add_new_slab(g, a);
  nl->add_new_slab(g, b);
  void* out[8];
  ASSERT_EQ(nl->take_batch(g, out, 1), 1u);
  EXPECT_EQ(a->list_id, SlabList::kPartial);
  EXPECT_EQ(b->list_id, SlabList::kFree);
  // Next batch fills from the partial slab a first, then b.
  ASSERT_EQ(nl->take_batch(g, out, g.num), g.num);
  EXPECT_EQ(a->list_id, SlabList::kFull);
  EXPECT_EQ(b->inuse, 1u);
  EXPECT_EQ(out[g.num - 1], env.object(b, 0));
}

TEST_F(NodeListsTest, FreeBlockReturnsObjectsAndRelinks) NS_NO_THREAD_SAFETY_ANALYSIS {
  SlabGeometry g = geo(200);
  SlabEnv env(g);
  Lists nl;
  LockGuard<SpinLock> lk(nl->list_lock);
  nl->free_limit = 1000;
  Slab* s = env.make();
  nl->add_new_slab(g, s);
  std::vector<void*> objs(g.num);
  ASSERT_EQ(nl->take_batch(g, objs.data(), g.num), g.num);
  SlabQueue dead;

  nl->free_block(g, &objs[7], 1, &dead);
  EXPECT_EQ(s->free, 7u);
  EXPECT_EQ(s->load_bufctl(7), kBufctlEnd);
  EXPECT_EQ(s->inuse, g.num - 1);
  EXPECT_EQ(s->list_id, SlabList::kPartial);
  EXPECT_EQ(nl->free_objects, 1u);
  EXPECT_EQ(nl->stats.active, g.num - 1);

  // A kBufctlUser object (handed to a user) is returned the same way.
  s->store_bufctl(3, kBufctlUser);
  nl->free_block(g, &objs[3], 1, &dead);
  EXPECT_EQ(s->free, 3u);
  EXPECT_EQ(s->load_bufctl(3), 7u);

  std::vector<void*> rest;
  for (std::uint32_t i = 0; i < g.num; ++i)
    if (i != 3 && i != 7) rest.push_back(objs[i]);
  nl->free_block(g, rest.data(), static_cast<std::uint32_t>(rest.size()), &dead);
  EXPECT_EQ(s->inuse, 0u);
  EXPECT_EQ(s->list_id, SlabList::kFree);
  EXPECT_EQ(nl->free.count, 1u);
  EXPECT_EQ(nl->free_objects, g.num);
  EXPECT_TRUE(dead.empty()) << "below free_limit the slab is kept";
  // The free list visits every object exactly once.
  std::set<std::uint32_t> seen;
  for (std::uint32_t i = s->free; i != kBufctlEnd; i = s->load_bufctl(i)) {
    ASSERT_LT(i, g.num);
    ASSERT_TRUE(seen.insert(i).second) << "cycle at " << i;
  }
  EXPECT_EQ(seen.size(), g.num);
}

TEST_F(NodeListsTest, SurplusSlabGoesToDeadQueue) NS_NO_THREAD_SAFETY_ANALYSIS {
  SlabGeometry g = geo(1024);  // 4 per slab
  SlabEnv env(g);
  Lists nl;
  LockGuard<SpinLock> lk(nl->list_lock);
  nl->free_limit = g.num;  // keep one free slab's worth
  Slab* a = env.make();
  Slab* b = env.make();
  nl->add_new_slab(g, a);
  nl->add_new_slab(g, b);
  void* out[8];
  ASSERT_EQ(nl->take_batch(g, out, 2 * g.num), 2 * g.num);
  SlabQueue dead;
  nl->free_block(g, out, g.num, &dead);  // a empties: free_objects == limit: kept
  EXPECT_TRUE(dead.empty());
  EXPECT_EQ(nl->free.count, 1u);
  nl->free_block(g, out + g.num, g.num, &dead);  // b empties above the limit: dead
  EXPECT_EQ(dead.count, 1u);
  EXPECT_EQ(dead.head, b);
  EXPECT_EQ(nl->free_objects, g.num);
  EXPECT_EQ(nl->stats.destroyed, 1u);
  EXPECT_EQ(nl->free.count, 1u);
  EXPECT_EQ(nl->stats.active, 0u);

  SlabQueue dead2;
  EXPECT_EQ(nl->unlink_free_slabs(g, 5, &dead2), 1u);
  EXPECT_EQ(dead2.head, a);
  EXPECT_EQ(nl->free_objects, 0u);
  EXPECT_EQ(nl->free.count, 0u);
  EXPECT_EQ(nl->stats.destroyed, 2u);
}

TEST_F(NodeListsTest, UnlinkFreeSlabsHonoursMax) NS_NO_THREAD_SAFETY_ANALYSIS {
  SlabGeometry g = geo(2048);
  SlabEnv env(g);
  Lists nl;
  LockGuard<SpinLock> lk(nl->list_lock);
  Slab* s[4];
  for (auto& x : s) nl->add_new_slab(g, x = env.make());
  SlabQueue dead;
  EXPECT_EQ(nl->unlink_free_slabs(g, 3, &dead), 3u);
  EXPECT_EQ(dead.head, s[3]) << "from the tail";
  EXPECT_EQ(nl->free.count, 1u);
  EXPECT_EQ(nl->free_objects, g.num);
  EXPECT_EQ(nl->unlink_free_slabs(g, 3, &dead), 1u);
  EXPECT_EQ(nl->unlink_free_slabs(g, 3, &dead), 0u);
  EXPECT_EQ(dead.count, 4u);
}

TEST_F(NodeListsTest, PushSharedRespectsRoom) NS_NO_THREAD_SAFETY_ANALYSIS {
  Lists nl;
  LockGuard<SpinLock> lk(nl->list_lock);
  void* objs[6];
  for (int i = 0; i < 6; ++i) objs[i] = reinterpret_cast<void*>(0x100 * (i + 1));
  EXPECT_EQ(nl->push_shared(objs, 6), 0u) << "no shared array";
  std::vector<std::uint64_t> mem(ArrayCache::bytes_for(4) / 8);
  auto* sh = reinterpret_cast<ArrayCache*>(mem.data());
  sh->init(4, 0xbaadf00d);
  nl->shared.store(sh);
  EXPECT_EQ(nl->push_shared(objs, 3), 3u);
  EXPECT_EQ(nl->push_shared(objs + 3, 3), 1u);
  EXPECT_EQ(sh->avail, 4u);
  EXPECT_EQ(sh->entries()[3], objs[3]);
  nl->shared.store(nullptr);
}

TEST_F(NodeListsDeathTest, FreeBlockOfAFreeObjectIsADoubleFree) {
  EXPECT_DEATH(
      {
        SlabGeometry g = geo(200);
        SlabEnv env(g);
        Lists nl;
        nl->list_lock.lock();
        nl->free_limit = 1000;
        Slab* s = env.make();
        nl->add_new_slab(g, s);
        void* out[2];
        nl->take_batch(g, out, 2);
        SlabQueue dead;
        nl->free_block(g, out, 1, &dead);
        nl->free_block(g, out, 1, &dead);
      },
      "numaslab: fatal: cache '[a-z_]+': double free of 0x[0-9a-f]+ \\(found already free in "
      "its slab on node 0\\)");
}

TEST_F(NodeListsDeathTest, FreeBlockToTheWrongNode) {
  EXPECT_DEATH(
      {
        SlabGeometry g = geo(200);
        SlabEnv env(g);
        Lists nl(1);
        nl->list_lock.lock();
        Slab* s = env.make(0, /*node=*/0);
        void* obj = env.object(s, 0);
        s->store_bufctl(0, kBufctlUser);
        SlabQueue dead;
        nl->free_block(g, &obj, 1, &dead);
      },
      "free_block: object 0x[0-9a-f]+ of node 0 returned to node 1");
}

TEST_F(NodeListsDeathTest, FreeBlockOfANonSlabPointer) {
  EXPECT_DEATH(
      {
        SlabGeometry g = geo(200);
        Lists nl;
        nl->list_lock.lock();
        int local = 0;
        void* obj = &local;
        SlabQueue dead;
        nl->free_block(g, &obj, 1, &dead);
      },
      "free_block: 0x[0-9a-f]+ is not a slab object");
}

TEST_F(NodeListsDeathTest, FreeBlockOfAnInteriorPointer) {
  EXPECT_DEATH(
      {
        SlabGeometry g = geo(200);
        SlabEnv env(g);
        Lists nl;
        nl->list_lock.lock();
        Slab* s = env.make();
        void* obj = static_cast<char*>(env.object(s, 2)) + 8;
        SlabQueue dead;
        nl->free_block(g, &obj, 1, &dead);
      },
      "cache '[a-z_]+': 0x[0-9a-f]+ was freed but is an interior pointer, not the start of an "
      "object \\(found when it went back to its slab\\)");
}

}  // namespace
}  // namespace numaslab::detail
