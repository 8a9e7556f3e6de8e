// numaslab — operator new and delete over kmalloc, every form (plain, array,
// nothrow, sized, align_val_t).
//
// Contract: new returns kmalloc's block; when kmalloc fails it calls the
// installed new-handler and tries again, and throws std::bad_alloc when
// there is none (nothrow forms return nullptr instead). Aligned forms are
// served by kmalloc_aligned (kmalloc.h): an alignment above 2 MiB fails.
// Every delete is kfree: the size of a sized delete is not needed (the page
// descriptor knows the block), and a pointer numaslab never returned is fatal
// with a diagnostic. This file is compiled with exceptions (the rest of
// numaslab is not).
#include <cstddef>
#include <new>

#include "cache/kmalloc.h"
#include "numaslab/numaslab.h"
#include "runtime/runtime.h"

#define NS_EXPORT __attribute__((visibility("default")))

namespace {

void* aligned(std::size_t size, std::size_t align) {
  if (__builtin_expect(!numaslab::detail::ensure_started(), 0)) return nullptr;
  return numaslab::detail::kmalloc_aligned(size, align);
}

void* alloc_or_handle(std::size_t size, std::size_t align, bool nothrow) {
  for (;;) {
    void* p = numaslab::detail::kmalloc_aligns(size, align) ? numaslab_kmalloc(size)
                                                            : aligned(size, align);
    if (p) return p;
    std::new_handler h = std::get_new_handler();
    if (!h) {
      if (nothrow) return nullptr;
      throw std::bad_alloc();
    }
    if (nothrow) {
      try {
        h();
      } catch (...) {
        return nullptr;
      }
    } else {
      h();
    }
  }
}

inline void* new_fast(std::size_t size) {
  void* p = numaslab_kmalloc(size);
  return __builtin_expect(p != nullptr, 1) ? p : alloc_or_handle(size, 0, false);
}

inline std::size_t align_of(std::align_val_t a) { return static_cast<std::size_t>(a); }

}  // namespace

NS_EXPORT void* operator new(std::size_t size) { return new_fast(size); }
NS_EXPORT void* operator new[](std::size_t size) { return new_fast(size); }
NS_EXPORT void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return alloc_or_handle(size, 0, true);
}
NS_EXPORT void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return alloc_or_handle(size, 0, true);
}
NS_EXPORT void* operator new(std::size_t size, std::align_val_t a) {
  return alloc_or_handle(size, align_of(a), false);
}
NS_EXPORT void* operator new[](std::size_t size, std::align_val_t a) {
  return alloc_or_handle(size, align_of(a), false);
}
NS_EXPORT void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return alloc_or_handle(size, align_of(a), true);
}
NS_EXPORT void* operator new[](std::size_t size, std::align_val_t a,
                               const std::nothrow_t&) noexcept {
  return alloc_or_handle(size, align_of(a), true);
}

NS_EXPORT void operator delete(void* p) noexcept { numaslab_kfree(p); }
NS_EXPORT void operator delete[](void* p) noexcept { numaslab_kfree(p); }
NS_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { numaslab_kfree(p); }
NS_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { numaslab_kfree(p); }
NS_EXPORT void operator delete(void* p, std::size_t) noexcept { numaslab_kfree(p); }
NS_EXPORT void operator delete[](void* p, std::size_t) noexcept { numaslab_kfree(p); }
NS_EXPORT void operator delete(void* p, std::align_val_t) noexcept { numaslab_kfree(p); }
NS_EXPORT void operator delete[](void* p, std::align_val_t) noexcept { numaslab_kfree(p); }
NS_EXPORT void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  numaslab_kfree(p);
}
NS_EXPORT void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  numaslab_kfree(p);
}
NS_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  numaslab_kfree(p);
}
NS_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  numaslab_kfree(p);
}
