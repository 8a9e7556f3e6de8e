// Self-hosted metadata: entries blocks, array caches and alien sets come
// from kmalloc_node.
#include <cerrno>
#include <cstring>
#include <new>

#include "cache/kmalloc.h"
#include "cache/registry.h"

namespace numaslab::detail {

std::atomic<int> g_fail_next_array_allocs{0};

namespace {
bool injected_failure() {
  int n = g_fail_next_array_allocs.load(std::memory_order_relaxed);
  while (n > 0) {
    if (g_fail_next_array_allocs.compare_exchange_weak(n, n - 1, std::memory_order_relaxed))
      return true;
  }
  return false;
}
}  // namespace

ArrayCache* alloc_array(int node, std::uint32_t limit, std::uint32_t batch) {
  if (injected_failure()) {
    errno = ENOMEM;
    return nullptr;
  }
  auto* a = static_cast<ArrayCache*>(kmalloc_node(ArrayCache::bytes_for(limit), node));
  if (a) a->init(limit, batch);
  return a;
}

void free_array(ArrayCache* a) {
  if (a) kfree(a);
}

void** alloc_entries(int node, std::uint32_t limit, std::uint32_t batch) {
  if (injected_failure()) {
    errno = ENOMEM;
    return nullptr;
  }
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
  if (injected_failure()) {
    errno = ENOMEM;
    return nullptr;
  }
  auto** set = static_cast<AlienArray**>(kmalloc_node(sizeof(AlienArray*) * nodes, node));
  if (!set) return nullptr;
  std::memset(static_cast<void*>(set), 0, sizeof(AlienArray*) * nodes);
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
