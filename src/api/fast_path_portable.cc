// The C API entry points where there are no hand-written fast paths
// (fast_path_x86_64.S covers x86-64): straight to the paths behind them.
#if !defined(__x86_64__)
#include "cache/kmalloc.h"

struct numaslab_cache;

extern "C" {
void* ns_cache_alloc_slow(numaslab::detail::Cache* c);
void ns_cache_free_slow(numaslab::detail::Cache* c, void* obj);
void* ns_kmalloc_slow(std::size_t size);
void ns_kfree_slow(void* p);

void* numaslab_cache_alloc(numaslab_cache* c) {
  return ns_cache_alloc_slow(reinterpret_cast<numaslab::detail::Cache*>(c));
}
void numaslab_cache_free(numaslab_cache* c, void* obj) {
  ns_cache_free_slow(reinterpret_cast<numaslab::detail::Cache*>(c), obj);
}
void* numaslab_kmalloc(std::size_t size) { return ns_kmalloc_slow(size); }
void numaslab_kfree(void* p) { ns_kfree_slow(p); }
}
#endif
