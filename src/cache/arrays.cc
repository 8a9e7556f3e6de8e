// Self-hosted metadata: entries blocks and array caches come from
// kmalloc_node (alien sets: alien_cache.cc).
#include <cerrno>
#include <cstring>
#include <new>

#include "cache/kmalloc.h"
#include "cache/registry.h"

namespace numaslab::detail {

ArrayCache* alloc_array(int node, std::uint32_t limit, std::uint32_t batch) {
  NS_INTERNAL_ALLOCATION;
  auto* a = static_cast<ArrayCache*>(kmalloc_node(ArrayCache::bytes_for(limit), node));
  if (a) a->init(limit, batch);
  return a;
}

void free_array(ArrayCache* a) {
  if (a) kfree(a);
}

void** alloc_entries(int node, std::uint32_t size, std::uint32_t batch) {
  NS_INTERNAL_ALLOCATION;
  auto* h = static_cast<ArrayHeader*>(
      kmalloc_node(sizeof(ArrayHeader) + std::size_t{size} * sizeof(void*), node));
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
