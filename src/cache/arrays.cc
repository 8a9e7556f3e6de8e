// Self-hosted metadata: entries blocks and array caches come from
// kmalloc_metadata (alien sets: alien_cache.cc); a node's shared array is made
// at its first flush.
#include <cerrno>
#include <cstring>
#include <new>

#include "cache/internal.h"
#include "cache/kmalloc.h"

namespace numaslab::detail {

ArrayCache* alloc_array(int node, std::uint32_t limit, std::uint32_t batch) {
  NS_INTERNAL_ALLOCATION;
  auto* a = static_cast<ArrayCache*>(kmalloc_metadata(ArrayCache::bytes_for(limit), node));
  if (a) a->init(limit, batch);
  return a;
}

void free_array(ArrayCache* a) {
  if (a) kfree(a);
}

void ensure_shared_array(Cache* c, int node) {
  NodeLists* nl = c->node(node);
  if (!nl || nl->shared.load(std::memory_order_acquire)) return;
  const std::uint32_t entries =
      c->shared.load(std::memory_order_relaxed) * c->batchcount.load(std::memory_order_relaxed);
  if (entries == 0) return;
  ArrayCache* sh = alloc_array(node, entries, kSharedSentinelBatch);
  if (!sh) return;  // out of memory: the batch goes to the slabs
  {
    // Under the lock, as a CPU event detaches it (the node's last CPU) and
    // tune replaces it: installed only while the node has a CPU and the
    // cache still wants one.
    LockGuard<SpinLock> g(nl->list_lock);
    if (!nl->shared.load(std::memory_order_relaxed) && topology().online_cpus_on_node(node) > 0 &&
        c->shared.load(std::memory_order_relaxed) > 0) {
      nl->shared.store(sh, std::memory_order_release);
      sh = nullptr;
    }
  }
  free_array(sh);  // another CPU of the node was first
}

void slot_drop_oldest(Cache* c, CpuSlot& s, std::uint32_t avail, std::uint32_t n, SlabQueue* dead) {
  if (n == 0) return;
  NodeLists* nl = c->node(s.node);
  {
    LockGuard<SpinLock> g(nl->list_lock);
    nl->free_block(c->geo, s.base, n, dead);
  }
  s.set_top(s.base + entries_drop_bottom(s.base, avail, n));
  slot_moved(s, -static_cast<std::int64_t>(n));
}

void** alloc_entries(int node, std::uint32_t size, std::uint32_t batch) {
  NS_INTERNAL_ALLOCATION;
  auto* h = static_cast<ArrayHeader*>(
      kmalloc_metadata(sizeof(ArrayHeader) + std::size_t{size} * sizeof(void*), node));
  if (!h) return nullptr;
  *h = ArrayHeader{size, batch, 0, 0, 0};
  // The slot points at the entries, past the header: for memcheck the block
  // starts there, or it would count a live array as "possibly lost".
  tool_move_block(h, h + 1, std::size_t{size} * sizeof(void*));
  return reinterpret_cast<void**>(h + 1);
}

void free_entries(void** entries) {
  if (!entries) return;
  auto* h = reinterpret_cast<ArrayHeader*>(entries) - 1;
  tool_move_block(entries, h, sizeof(ArrayHeader) + std::size_t{h->size} * sizeof(void*));
  kfree(h);
}

}  // namespace numaslab::detail
