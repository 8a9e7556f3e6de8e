// numaslab — the malloc replacement: glibc's allocation API over kmalloc.
//
// Contract (libnumaslab-malloc.so, for LD_PRELOAD or linked as
// numaslab::malloc; the same object code either way):
//  * malloc, free, calloc, realloc, reallocarray, posix_memalign,
//    aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size, their
//    glibc __libc_* aliases, and operator new/delete (new_delete.cc) are
//    numaslab's. malloc and free are the kmalloc fast paths themselves (one
//    jump).
//  * glibc's semantics: objects of 16 bytes or more are 16-byte aligned (8 for
//    the 8-byte class; an explicit alignment of 16 is kept at every size,
//    kmalloc_aligns); malloc(0) is a unique pointer; every failure, every
//    size overflow (calloc, reallocarray, pvalloc) and every size above
//    kMaxKmallocSize is NULL with errno ENOMEM; calloc skips clearing a
//    block that reads as zero (a released page run, a mapping of its own:
//    kzalloc_large); realloc(p, 0) frees p and returns NULL, as glibc's does;
//    posix_memalign gives EINVAL for an alignment that is not a power of two
//    multiple of sizeof(void*), aligned_alloc for one that is not a power of
//    two; memalign rounds a non-power of two up. Alignments above
//    kMaxKmallocAlign (2 MiB) fail with ENOMEM.
//  * Bad pointers (never allocated, freed twice, interior) are fatal with a
//    diagnostic, as in glibc; see the README's bad-input section for what
//    each check level catches.
//  * mallopt accepts glibc's parameters and ignores them (returns 1; an
//    unknown one returns 0); malloc_trim runs a full reap (1 if memory went
//    back to the OS); mallinfo2/mallinfo report numaslab's totals;
//    malloc_stats prints the statistics summary to stderr (stats_summary.cc).
#include <errno.h>
#include <malloc.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "cache/kmalloc.h"
#include "cache/registry.h"
#include "numaslab/numaslab.h"
#include "page/page_allocator.h"
#include "runtime/runtime.h"
#include "stats/summary.h"
#include "topology/topology.h"

#define NS_EXPORT extern "C" __attribute__((visibility("default")))

using numaslab::detail::kmalloc_aligned;
using numaslab::detail::kmalloc_aligns;
using numaslab::detail::krealloc;

namespace {

bool power_of_two(std::size_t a) { return a != 0 && (a & (a - 1)) == 0; }

// kmalloc_aligned, after the start-up every entry point makes.
void* aligned(std::size_t size, std::size_t align) {
  if (__builtin_expect(!numaslab::detail::ensure_started(), 0)) return nullptr;  // ENOMEM
  return kmalloc_aligned(size, align);
}

void* ns_memalign(std::size_t align, std::size_t size) {
  if (kmalloc_aligns(size, align)) return numaslab_kmalloc(size);
  if (align > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return nullptr;
  }
  if (!power_of_two(align)) align = std::size_t{1} << (64 - __builtin_clzll(align));
  return aligned(size, align);
}

// Asked each time (valloc and pvalloc are rare): a function-local static
// would need the C++ runtime's guard functions.
std::size_t page_size() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

}  // namespace

NS_EXPORT void* malloc(std::size_t size) { return numaslab_kmalloc(size); }
NS_EXPORT void free(void* p) { numaslab_kfree(p); }

NS_EXPORT void* calloc(std::size_t n, std::size_t size) {
  std::size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (NS_UNLIKELY(numaslab::detail::g_debug_sites)) {
    NS_CALLER_SITE;  // the program's call, not calloc's
    return numaslab_kzalloc(total);
  }
  return numaslab_kzalloc(total);  // a jump
}

NS_EXPORT void* realloc(void* p, std::size_t size) {
  NS_CALLER_SITE;
  if (p && size == 0) {
    numaslab_kfree(p);
    return nullptr;
  }
  return krealloc(p, size);
}

NS_EXPORT void* reallocarray(void* p, std::size_t n, std::size_t size) {
  std::size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, total);
}

NS_EXPORT int posix_memalign(void** out, std::size_t align, std::size_t size) {
  if (!power_of_two(align) || align % sizeof(void*) != 0) return EINVAL;
  const int saved = errno;
  void* p = kmalloc_aligns(size, align) ? numaslab_kmalloc(size) : aligned(size, align);
  if (!p) {
    const int err = errno == 0 ? ENOMEM : errno;
    errno = saved;
    return err;
  }
  *out = p;
  return 0;
}

NS_EXPORT void* aligned_alloc(std::size_t align, std::size_t size) {
  if (!power_of_two(align)) {
    errno = EINVAL;
    return nullptr;
  }
  return ns_memalign(align, size);
}

NS_EXPORT void* memalign(std::size_t align, std::size_t size) { return ns_memalign(align, size); }
NS_EXPORT void* valloc(std::size_t size) { return ns_memalign(page_size(), size); }

NS_EXPORT void* pvalloc(std::size_t size) {
  const std::size_t page = page_size();
  std::size_t rounded;
  if (__builtin_add_overflow(size, page - 1, &rounded)) {
    errno = ENOMEM;
    return nullptr;
  }
  rounded &= ~(page - 1);
  return ns_memalign(page, rounded ? rounded : page);
}

NS_EXPORT std::size_t malloc_usable_size(void* p) { return numaslab_ksize(p); }

// glibc's internal names, which some programs and libraries call directly.
NS_EXPORT void* __libc_malloc(std::size_t size) { return numaslab_kmalloc(size); }
NS_EXPORT void __libc_free(void* p) { numaslab_kfree(p); }
NS_EXPORT void cfree(void* p) { numaslab_kfree(p); }
NS_EXPORT void* __libc_calloc(std::size_t n, std::size_t size) { return calloc(n, size); }
NS_EXPORT void* __libc_realloc(void* p, std::size_t size) { return realloc(p, size); }
NS_EXPORT void* __libc_memalign(std::size_t align, std::size_t size) {
  return ns_memalign(align, size);
}
// NOLINTNEXTLINE(concurrency-mt-unsafe): the valloc defined above, not libc's
NS_EXPORT void* __libc_valloc(std::size_t size) { return valloc(size); }
NS_EXPORT void* __libc_pvalloc(std::size_t size) { return pvalloc(size); }
NS_EXPORT int __posix_memalign(void** out, std::size_t align, std::size_t size) {
  return posix_memalign(out, align, size);
}

NS_EXPORT int mallopt(int param, int value) {
  (void)value;
  switch (param) {
    case M_MXFAST:
    case M_TRIM_THRESHOLD:
    case M_TOP_PAD:
    case M_MMAP_THRESHOLD:
    case M_MMAP_MAX:
    case M_CHECK_ACTION:
    case M_PERTURB:
    case M_ARENA_TEST:
    case M_ARENA_MAX:
      return 1;  // accepted; numaslab has no such knob (NUMASLAB_* options instead)
    default:
      return 0;
  }
}

NS_EXPORT int malloc_trim(std::size_t pad) {
  (void)pad;
  return numaslab_reap() > 0 ? 1 : 0;
}

// Page-level totals: arena = segments mapped, uordblks = pages in use
// (slabs, with their free objects, and large blocks), fordblks = free pages
// kept mapped, hblks/hblkhd = huge mappings.
NS_EXPORT struct mallinfo2 mallinfo2() {
  using namespace numaslab;
  using namespace numaslab::detail;
  struct mallinfo2 mi = {};
  if (!booted()) return mi;
  for (int n = 0; n < topology().num_nodes(); ++n) {
    const PageAllocatorStats ps = page_allocator_stats(n);
    mi.arena += ps.segments * kSegmentSize;
    mi.hblks += ps.huge_mappings;
    mi.hblkhd += ps.huge_bytes;
    mi.uordblks += ps.pages_in_use * kPageSize + ps.huge_bytes;
    mi.fordblks += ps.pages_free * kPageSize;
  }
  return mi;
}

NS_EXPORT struct mallinfo mallinfo() {
  const struct mallinfo2 m = mallinfo2();
  const auto clip = [](std::size_t v) { return static_cast<int>(v > INT_MAX ? INT_MAX : v); };
  struct mallinfo r = {};
  r.arena = clip(m.arena);
  r.ordblks = clip(m.ordblks);
  r.hblks = clip(m.hblks);
  r.hblkhd = clip(m.hblkhd);
  r.uordblks = clip(m.uordblks);
  r.fordblks = clip(m.fordblks);
  return r;
}

NS_EXPORT void malloc_stats() { numaslab::detail::write_summary(2); }
