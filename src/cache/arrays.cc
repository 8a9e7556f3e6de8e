// Self-hosted metadata: entries blocks, array caches and alien sets come
// from kmalloc_node.
#include <cerrno>
#include <cstring>
#include <new>

#include "cache/kmalloc.h"
#include "cache/registry.h"

namespace numaslab::detail {

ArrayCache* alloc_array(int node, std::uint32_t limit, std::uint32_t batch) {
  auto* a = static_cast<ArrayCache*>(kmalloc_node(ArrayCache::bytes_for(limit), node));
  if (a) a->init(limit, batch);
  return a;
}

void free_array(ArrayCache* a) {
  if (a) kfree(a);
}

void** alloc_entries(int node, std::uint32_t limit, std::uint32_t batch) {
  auto* h = static_cast<ArrayHeader*>(
      kmalloc_node(sizeof(ArrayHeader) + std::size_t{limit} * sizeof(void*), node));
  if (!h) return nullptr;
  *h = ArrayHeader{limit, batch, 0, 0, 0};
  return reinterpret_cast<void**>(h + 1);
}

void free_entries(void** entries) {
  if (entries) kfree(reinterpret_cast<ArrayHeader*>(entries) - 1);
}

AlienArray** alloc_alien_set(int node, std::uint32_t limit) {
  const int nodes = topology().num_nodes();
  if (nodes < 2) return nullptr;  // nothing is ever alien on one node
  // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, one per node
  const std::size_t bytes = sizeof(AlienArray*) * nodes;
  auto** set = static_cast<AlienArray**>(kmalloc_node(bytes, node));
  if (!set) return nullptr;
  std::memset(static_cast<void*>(set), 0, bytes);
  for (int i = 0; i < nodes; ++i) {
    if (i == node) continue;
    void* mem = kmalloc_node(AlienArray::bytes_for(limit), node);
    if (!mem) {
      free_alien_set(set);
      return nullptr;
    }
    auto* a = new (mem) AlienArray;
    a->home_node = i;
    a->ac.init(limit, 0);
    set[i] = a;
  }
  return set;
}

void free_alien_set(AlienArray** set) {
  if (!set) return;
  const int nodes = topology().num_nodes();
  for (int i = 0; i < nodes; ++i) {
    if (set[i]) kfree(set[i]);
  }
  kfree(set);
}

}  // namespace numaslab::detail
