// Growing a cache by one slab (the kernel's cache_grow), and destroying slabs
// (slab_destroy).
#include <cerrno>

#include "base/check.h"
#include "base/sanitizer.h"
#include "cache/cache.h"
#include "cache/registry.h"
#include "page/page_allocator.h"

namespace numaslab::detail {

bool cache_grow(Cache* c, int node) {
  NodeLists* nl = c->node(node);
  if (!nl) {
    errno = ENOMEM;
    return false;
  }
  std::uint32_t colour;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    colour = nl->colour_next;
    if (++nl->colour_next >= c->geo.colour) nl->colour_next = 0;
  }
  if (colour >= c->geo.colour) colour = 0;

  void* pages = cache_pages(node, c->geo.order, nullptr, c);
  if (!pages) return false;
  void* desc = nullptr;
  if (c->geo.off_slab) {
    NS_INTERNAL_ALLOCATION;
    desc = cache_alloc_node(c->slabp_cache, node);
    if (!desc) {
      free_pages(pages, c->geo.order);
      errno = ENOMEM;
      return false;
    }
  }
  Slab* s = slab_format(c->geo, pages, colour, node, desc);
  const std::size_t npages = std::size_t{1} << c->geo.order;
  for (std::size_t i = 0; i < npages; ++i) {
    PageDesc* d = page_lookup(static_cast<char*>(pages) + i * kPageSize);
    d->owner = c;
    d->slab = s;
    set_page_kind(d, PageKind::kSlab);
  }
  // Constructors run with no lock held: they may allocate from other caches.
  if (c->ctor) {
    for (std::uint32_t i = 0; i < c->geo.num; ++i)
      c->ctor(s->s_mem + static_cast<std::size_t>(i) * c->geo.buffer_size);
  }
  if (NS_UNLIKELY(c->watched)) slab_created_watched(c, s);
  LockGuard<SpinLock> g(nl->list_lock);
  nl->add_new_slab(c->geo, s);
  return true;
}

void destroy_slabs(Cache* c, SlabQueue* dead) {
  while (Slab* s = dead->pop_front()) {
    char* pages = static_cast<char*>(s->page_start());
    const std::size_t npages = std::size_t{1} << c->geo.order;
    if (NS_UNLIKELY(c->watched)) slab_destroyed_watched(c, s);
    for (std::size_t i = 0; i < npages; ++i) {
      PageDesc* d = page_lookup(pages + i * kPageSize);
      d->owner = nullptr;  // the fast free path relies on it: never a stale cache
      d->slab = nullptr;
      set_page_kind(d, i == 0 ? PageKind::kAllocated : PageKind::kTail);
    }
    if (c->geo.off_slab) {
      // The descriptor is an object of a smaller, on-slab kmalloc cache.
      PageDesc* dd = page_lookup(s);
      cache_free(static_cast<Cache*>(dd->owner), s);
    }
    free_pages(pages, c->geo.order);
  }
}

}  // namespace numaslab::detail
