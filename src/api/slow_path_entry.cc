// Where the C API's fast paths (fast_path_x86_64.S) go when the current CPU's
// array cannot serve the call, the pointer needs the full checks, or a
// critical section was aborted: the start-up check, then the C++ slow paths.
#include <cstddef>

#include "base/fork_gate.h"
#include "cache/cache.h"
#include "cache/kmalloc.h"
#include "cpu/rseq_slots.h"
#include "runtime/runtime.h"

namespace numaslab::detail {
namespace {

void* kmalloc_entry(std::size_t size) {
  if (NS_UNLIKELY(!ensure_started())) return nullptr;  // errno ENOMEM
  return kmalloc_slow(size);
}

// A cache exists, so start-up is done; only services wait for a retry.
void* cache_alloc_entry(Cache* c) {
  services_retry();
  return cache_alloc_slow(c);
}

}  // namespace
}  // namespace numaslab::detail

using numaslab::detail::Cache;

#define NS_ENTRY extern "C" __attribute__((visibility("hidden")))

// Every slow path runs in a fork gate section (base/fork_gate.h). The fast
// paths jump here, so the return address is the caller's: the call site a
// debug cache records (debug/slab_debug.h).
#define NS_SITE()                                                \
  do {                                                           \
    if (NS_UNLIKELY(numaslab::detail::g_debug_sites))            \
      numaslab::detail::site_enter(__builtin_return_address(0)); \
  } while (0)

NS_ENTRY void* ns_cache_alloc_slow(Cache* c) {
  numaslab::detail::GateSection gate;
  NS_SITE();
  return numaslab::detail::cache_alloc_entry(c);
}
NS_ENTRY void* ns_cache_alloc_abort(Cache* c) {
  numaslab::detail::GateSection gate;
  NS_SITE();
  numaslab::detail::rseq_count_abort();
  return numaslab::detail::cache_alloc_entry(c);
}
NS_ENTRY void ns_cache_free_slow(Cache* c, void* obj) {
  numaslab::detail::GateSection gate;
  NS_SITE();
  numaslab::detail::cache_free_slow(c, obj, "numaslab_cache_free");
}
NS_ENTRY void ns_cache_free_abort(Cache* c, void* obj) {
  numaslab::detail::GateSection gate;
  NS_SITE();
  numaslab::detail::rseq_count_abort();
  numaslab::detail::cache_free_slow(c, obj, "numaslab_cache_free");
}
NS_ENTRY void* ns_kmalloc_slow(std::size_t size) {
  numaslab::detail::GateSection gate;
  NS_SITE();
  return numaslab::detail::kmalloc_entry(size);
}
NS_ENTRY void* ns_kmalloc_abort(std::size_t size) {
  numaslab::detail::GateSection gate;
  NS_SITE();
  numaslab::detail::rseq_count_abort();
  return numaslab::detail::kmalloc_entry(size);
}
NS_ENTRY void ns_kfree_slow(void* p) {
  numaslab::detail::GateSection gate;
  NS_SITE();
  numaslab::detail::kfree_slow(p);
}
NS_ENTRY void ns_kfree_abort(void* p) {
  numaslab::detail::GateSection gate;
  NS_SITE();
  numaslab::detail::rseq_count_abort();
  numaslab::detail::kfree_slow(p);
}
