#include "cache/testing.h"

#include "cache/kmalloc.h"
#include "cache/registry.h"

namespace numaslab::detail {

void test_free_metadata_under_list_lock(int node) {
  ensure_init();
  ArrayCache* a = alloc_array(node, 120, 60);
  Cache* holder = kmalloc_cache(size_class(ArrayCache::bytes_for(120)));
  NodeLists* nl = holder->node(node);
  nl->list_lock.lock();
  free_array(a);  // re-enters the allocator under the list_lock
  nl->list_lock.unlock();
}

}  // namespace numaslab::detail
