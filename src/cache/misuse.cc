// Diagnostics for misuse: see misuse.h.
#include "cache/misuse.h"

#include <atomic>
#include <cstdint>

#include "base/check.h"
#include "page/page_map.h"

namespace numaslab::detail {

void report_destroyed(const Cache* c, const char* api) {
  fatal("%s: cache '%s' was destroyed (handle %p used after numaslab_cache_destroy)", api, c->name,
        static_cast<const void*>(c));
}

void report_bad_cache_free(const Cache* c, const PageDesc* d, const void* obj, const char* api) {
  if (cache_destroyed(c)) report_destroyed(c, api);
  if (!d) fatal("%s: %p was never returned by numaslab (cache '%s')", api, obj, c->name);
  switch (page_kind(d)) {
    case PageKind::kSlab: {
      const auto* owner = static_cast<const Cache*>(d->owner);
      if (resolve_object(d, owner->geo, obj).index < 0) {
        fatal(
            "%s: %p is not the start of an object: it lies inside a slab of cache '%s' "
            "(freed to cache '%s')",
            api, obj, owner->name, c->name);
      }
      fatal("%s: %p belongs to cache '%s', freed to cache '%s'", api, obj, owner->name, c->name);
    }
    case PageKind::kLargeHead:
    case PageKind::kTail:
    case PageKind::kHuge:
      fatal("%s: %p is a kmalloc block, not an object of cache '%s' (use numaslab_kfree)", api, obj,
            c->name);
    case PageKind::kFree:
    case PageKind::kFreeTail:
      fatal("%s: %p is not allocated: its page is free (cache '%s')", api, obj, c->name);
    default:
      fatal("%s: %p was never returned by numaslab (cache '%s')", api, obj, c->name);
  }
}

namespace {

struct FreedEntry {
  std::atomic<std::uintptr_t> addr{0};
  std::atomic<std::size_t> size{0};
};
FreedEntry g_freed[kFreedBlocks];
std::atomic<unsigned> g_freed_next{0};

}  // namespace

void report_not_allocated(const void* p, const char* api, bool freeing, bool free_page) {
  if (std::size_t size = freed_blocks_find(p)) {
    if (freeing) fatal("%s: double free of %p (a %zu-byte block, already freed)", api, p, size);
    fatal("%s: %p is not an allocated object (a %zu-byte block, already freed)", api, p, size);
  }
  if (free_page)
    fatal("%s: %p was never returned by numaslab (it points into free memory)", api, p);
  fatal("%s: %p was never returned by numaslab", api, p);
}

void freed_blocks_note(const void* p, std::size_t size) {
  const unsigned i = g_freed_next.fetch_add(1, std::memory_order_relaxed) % kFreedBlocks;
  g_freed[i].addr.store(0, std::memory_order_relaxed);
  g_freed[i].size.store(size ? size : 1, std::memory_order_relaxed);
  g_freed[i].addr.store(reinterpret_cast<std::uintptr_t>(p), std::memory_order_release);
}

void freed_blocks_forget(const void* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  for (FreedEntry& e : g_freed) {
    std::uintptr_t want = a;
    e.addr.compare_exchange_strong(want, 0, std::memory_order_relaxed);
  }
}

std::size_t freed_blocks_find(const void* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  for (FreedEntry& e : g_freed)
    if (e.addr.load(std::memory_order_acquire) == a) return e.size.load(std::memory_order_relaxed);
  return 0;
}

}  // namespace numaslab::detail
