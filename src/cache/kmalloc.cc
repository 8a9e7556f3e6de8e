// kmalloc size classes and the large-object path.
#include "cache/kmalloc.h"

#include <cerrno>
#include <cstring>

#include "base/check.h"
#include "base/fork_gate.h"
#include "cache/misuse.h"
#include "cache/registry.h"
#include "page/page_allocator.h"

namespace numaslab::detail {

namespace {

constexpr std::size_t kClassSizes[kNumKmallocClasses] = {
    8,    16,   32,   48,   64,   80,    96,    112,   128,   160,   192,   224,   256,  320,
    384,  448,  512,  640,  768,  896,   1024,  1280,  1536,  1792,  2048,  2560,  3072, 3584,
    4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768};

// Byte tables for O(1) lookup: small sizes in 8-byte steps, the rest in 128-byte steps.
struct ClassTables {
  std::uint8_t small[1024 / 8 + 1];
  std::uint8_t large[kKmallocMaxCached / 128 + 1];
};

constexpr ClassTables make_tables() {
  ClassTables t{};
  int cls = 0;
  for (std::size_t i = 0; i <= 1024 / 8; ++i) {
    std::size_t size = i * 8;
    while (kClassSizes[cls] < size) ++cls;
    t.small[i] = static_cast<std::uint8_t>(cls);
  }
  cls = 0;
  for (std::size_t i = 0; i <= kKmallocMaxCached / 128; ++i) {
    std::size_t size = i * 128;
    while (kClassSizes[cls] < size) ++cls;
    t.large[i] = static_cast<std::uint8_t>(cls);
  }
  return t;
}

constexpr ClassTables kTables = make_tables();
static_assert(kClassSizes[kNumKmallocClasses - 1] == kKmallocMaxCached);

Cache* g_kmalloc_caches[kNumKmallocClasses];

}  // namespace
}  // namespace numaslab::detail

// The empty stand-in cache: all-zero slots (no array, so empty and full) for
// every CPU number, so a fast path that reaches it always falls back.
extern "C" {
__attribute__((
    visibility("hidden"),
    aligned(64))) unsigned char ns_no_cache[numaslab::detail::Cache::bytes_for(numaslab::kMaxCpus)];
}

namespace numaslab::detail {

template <std::size_t N>
struct KmallocTable {
  void* entry[N];
};
template <std::size_t N>
constexpr KmallocTable<N> make_kmalloc_table() {
  KmallocTable<N> t{};
  for (void*& e : t.entry) e = static_cast<void*>(ns_no_cache);
  return t;
}
inline constexpr std::size_t kSmallEntries = 1024 + 1;                    // by size
inline constexpr std::size_t kBigEntries = (kKmallocMaxCached >> 7) + 1;  // by (size + 127) >> 7

}  // namespace numaslab::detail

// What the fast path reads: the cache of a size, in one load.
extern "C" {
__attribute__((
    visibility("hidden"))) constinit numaslab::detail::KmallocTable<numaslab::detail::kSmallEntries>
    ns_kmalloc_small = numaslab::detail::make_kmalloc_table<numaslab::detail::kSmallEntries>();
__attribute__((
    visibility("hidden"))) constinit numaslab::detail::KmallocTable<numaslab::detail::kBigEntries>
    ns_kmalloc_big = numaslab::detail::make_kmalloc_table<numaslab::detail::kBigEntries>();
void* numaslab_kmalloc(std::size_t size);
void numaslab_kfree(void* p);
}

namespace numaslab::detail {
namespace {

unsigned order_for(std::size_t bytes) {
  unsigned order = 0;
  while ((kPageSize << order) < bytes) ++order;
  return order;
}

// min_order: at least this order (a page run of order k is aligned to
// 2^k pages). zeroed: calloc's request (page_allocator.h, alloc_pages); a
// huge block is a fresh mapping, so always zero.
void* large_alloc(std::size_t size, int node, unsigned min_order = 0, bool* zeroed = nullptr) {
  if (size > kMaxKmallocSize) {
    errno = ENOMEM;
    return nullptr;
  }
  unsigned order = order_for(size);
  if (order < min_order) order = min_order;
  void* p;
  if (order > kMaxRunOrder) {
    p = alloc_huge(size, node, kPageSize << min_order);
    if (zeroed != nullptr) *zeroed = true;
  } else {
    p = cache_pages(node, order, zeroed);
    if (!p) return nullptr;
    PageDesc* d = page_lookup(p);
    d->size = size;
    set_page_kind(d, PageKind::kLargeHead);
  }
  if (!p) return nullptr;
  freed_blocks_forget(p);
  // A checker sees the block's usable size (a page run's whole run, as a
  // slab object's whole slot): a fresh mapping reads as zero (defined), a
  // page run holds whatever it held (undefined).
  if (tools_active())
    tool_alloc(p, order > kMaxRunOrder ? size : kPageSize << order, order > kMaxRunOrder);
  return p;
}

}  // namespace

int size_class(std::size_t size) {
  if (size <= 1024) return kTables.small[(size + 7) >> 3];
  if (size <= kKmallocMaxCached) return kTables.large[(size + 127) >> 7];
  return -1;
}

std::size_t class_size(int cls) { return kClassSizes[cls]; }
std::size_t class_align(int cls) {
  const std::size_t size = kClassSizes[cls];
  const std::size_t low = size & (~size + 1);
  return low < kPageSize ? low : kPageSize;
}
Cache* kmalloc_cache(int cls) { return g_kmalloc_caches[cls]; }
void kmalloc_set_cache(int cls, Cache* c) { g_kmalloc_caches[cls] = c; }

void kmalloc_publish_table() {
  for (std::size_t i = 0; i < kSmallEntries; ++i)
    __atomic_store_n(&ns_kmalloc_small.entry[i],
                     static_cast<void*>(g_kmalloc_caches[size_class(i)]), __ATOMIC_RELEASE);
  // Entry i serves sizes (128 (i - 1), 128 i]; only sizes above 1024 use it.
  for (std::size_t i = 0; i < kBigEntries; ++i)
    __atomic_store_n(&ns_kmalloc_big.entry[i],
                     static_cast<void*>(g_kmalloc_caches[size_class(i << 7)]), __ATOMIC_RELEASE);
}

void* kmalloc(std::size_t size) { return numaslab_kmalloc(size); }

void* kmalloc_slow(std::size_t size) {
  NS_ASSERT(booted() || registry().mutex.held_by_me());  // the bootstrap allocates too
  int cls = size_class(size);
  if (NS_LIKELY(cls >= 0)) {
    Cache* c = g_kmalloc_caches[cls];
    void* p = cache_alloc_slow(c);
    if (NS_UNLIKELY(c->watched)) kmalloc_note_size(c, p, size);
    return p;
  }
  return large_alloc(size, local_node());
}

void* kmalloc_node(std::size_t size, int node) {
  NS_ASSERT(booted() || registry().mutex.held_by_me());  // the bootstrap allocates too
  if (node < 0 || node >= topology().num_nodes()) {
    errno = EINVAL;
    return nullptr;
  }
  int cls = size_class(size);
  if (NS_LIKELY(cls >= 0)) {
    Cache* c = g_kmalloc_caches[cls];
    void* p = cache_alloc_node(c, node);
    if (NS_UNLIKELY(c->watched)) kmalloc_note_size(c, p, size);
    return p;
  }
  if (!topology().node_has_memory(node)) node = local_node();
  return large_alloc(size, node);
}

void* kmalloc_metadata(std::size_t size, int node) {
  const int cls = size_class(size);
  if (cls >= 0 && node >= 0 && node < topology().num_nodes() && topology().node_has_memory(node)) {
    Cache* c = g_kmalloc_caches[cls];
    if (c->node(node)) {
      void* p = alloc_from_node(c, node, /*count_node_alloc=*/true);
      if (NS_UNLIKELY(c->watched)) kmalloc_note_size(c, p, size);
      return p;
    }
  }
  return kmalloc_node(size, node);
}

void* kmalloc_aligned(std::size_t size, std::size_t align, int node) {
  if (node < 0 && kmalloc_aligns(size, align)) return numaslab_kmalloc(size);
  NS_ASSERT(booted());  // the caller has started numaslab
  GateSection gate;
  if (align <= kPageSize) {
    int cls = size_class(size > align ? size : align);
    while (cls >= 0 && cls < kNumKmallocClasses && class_align(cls) < align) ++cls;
    if (cls >= 0 && cls < kNumKmallocClasses) {
      Cache* c = g_kmalloc_caches[cls];
      void* p = node < 0 ? cache_alloc(c) : cache_alloc_node(c, node);
      if (NS_UNLIKELY(c->watched)) kmalloc_note_size(c, p, size);
      return p;
    }
  }
  if (node >= 0 && !topology().node_has_memory(node)) node = -1;
  if (align > kMaxKmallocAlign) {
    errno = ENOMEM;
    return nullptr;
  }
  // A page run of order k starts at a multiple of 2^k pages of its segment.
  return large_alloc(size, node < 0 ? local_node() : node, order_for(align));
}

void kfree(void* p) { numaslab_kfree(p); }

void* krealloc(void* p, std::size_t size) {
  if (!p) return numaslab_kmalloc(size);
  GateSection gate;
  const std::size_t have = ksize(p);  // fatal for a pointer that is not a live block
  if (size <= have && size > have / 2) return p;
  // Under a checker a large block moves by copy: its view of the block is
  // then a free and an allocation, as for any other block.
  if (!tools_active() && size > (kPageSize << kMaxRunOrder) &&
      page_lookup(p)->kind == PageKind::kHuge) {
    if (size > kMaxKmallocSize) {
      errno = ENOMEM;
      return nullptr;
    }
    const int saved_errno = errno;
    if (void* q = resize_huge(p, size)) return q;
    errno = saved_errno;         // the copy below may still succeed
    if (have >= size) return p;  // could not shrink: keep it
  }
  void* q = numaslab_kmalloc(size);
  if (!q) return nullptr;
  std::memcpy(q, p, size < have ? size : have);
  numaslab_kfree(p);
  return q;
}

void* kzalloc_large(std::size_t size) {
  bool zeroed = false;
  void* p = large_alloc(size, local_node(), 0, &zeroed);
  // A checker was told the run holds whatever it held: clear it for it too.
  if (p && (!zeroed || tools_active())) std::memset(p, 0, size);
  return p;
}

void kfree_slow(void* p) {
  if (!p) return;
  PageDesc* d = page_lookup(p);
  if (!d)
    report_not_allocated(p, "numaslab_kfree", true,
                         false);  // a huge block's mapping is gone once freed
  switch (d->kind) {
    case PageKind::kSlab: {
      free_with_desc(static_cast<Cache*>(d->owner), d, p, "numaslab_kfree");
      return;
    }
    case PageKind::kLargeHead:
      NS_CHECK(p == page_address(d),
               "numaslab_kfree: %p is an interior pointer of a %zu-byte block", p, d->size);
      freed_blocks_note(p, d->size);
      if (tools_active()) tool_free_large(p, kPageSize << d->order, false);
      set_page_kind(d, PageKind::kAllocated);
      free_pages(p, d->order);
      return;
    case PageKind::kHuge:
      NS_CHECK(p == page_address(d), "numaslab_kfree: %p is an interior pointer of a huge block",
               p);
      freed_blocks_note(p, d->size);
      if (tools_active()) tool_free_large(p, d->size, true);
      free_huge(p);
      return;
    case PageKind::kTail:
      fatal("numaslab_kfree: %p is an interior pointer of a large block", p);
    case PageKind::kFree:
    case PageKind::kFreeTail:
      report_not_allocated(p, "numaslab_kfree", true, true);
    default:
      fatal("numaslab_kfree: %p was never returned by numaslab", p);
  }
}

std::size_t ksize(const void* p) {
  if (!p) return 0;
  PageDesc* d = page_lookup(p);
  if (!d) report_not_allocated(p, "numaslab_ksize", false, false);
  switch (d->kind) {
    case PageKind::kSlab: {
      auto* c = static_cast<Cache*>(d->owner);
      const auto [s, i] = resolve_object(d, c->geo, p);
      NS_CHECK(i >= 0,
               "numaslab_ksize: %p is an interior pointer, not the start of an object (cache '%s')",
               p, c->name);
      // At NUMASLAB_CHECK=fast an object out of its slab is kBufctlCached
      // wherever it is, so only a freed object back in its slab is caught.
      const std::uint32_t st = s->load_bufctl(static_cast<std::uint32_t>(i));
      NS_CHECK(st == kBufctlUser || (!check_full() && st == kBufctlCached),
               "numaslab_ksize: %p is not allocated: it was freed or never handed out (cache '%s')",
               p, c->name);
      return usable_size(c, p);
    }
    case PageKind::kFree:
    case PageKind::kFreeTail:
      report_not_allocated(p, "numaslab_ksize", false, true);
    case PageKind::kLargeHead:
      return kPageSize << d->order;
    case PageKind::kHuge:
      return d->size;
    default:
      fatal("numaslab_ksize: %p is not an allocated object", p);
  }
}

}  // namespace numaslab::detail
