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
//
// The C++ runtime is not a dependency of the shim: a C program under it
// never loads libstdc++ (1.3 MiB resident). What new needs of the runtime —
// the new-handler, throwing bad_alloc, catching what a handler throws — is
// referenced weakly and binds to the libstdc++ every C++ program has loaded.
#include <cstddef>
#include <new>

#include "base/check.h"
#include "cache/kmalloc.h"
#include "numaslab/numaslab.h"
#include "runtime/runtime.h"

#define NS_EXPORT __attribute__((visibility("default")))

// Weak references to the C++ runtime (see above). The catch in
// call_handler_nothrow references the personality routine and the catch
// functions, made weak here too: they run only while a handler's exception
// unwinds, which needs the runtime loaded.
extern "C" {
[[gnu::weak]] std::new_handler numaslab_get_new_handler() noexcept
    __asm__("_ZSt15get_new_handlerv");
[[gnu::weak, noreturn]] void numaslab_throw_bad_alloc() __asm__("_ZSt17__throw_bad_allocv");
[[gnu::weak]] void* __cxa_begin_catch(void*) noexcept;
[[gnu::weak]] void __cxa_end_catch();
}
// The personality routine is named by the unwind tables, not by a
// declaration: the assembler is told it is weak.
__asm__(".weak __gxx_personality_v0");

namespace {

std::new_handler current_new_handler() {
  return numaslab_get_new_handler ? numaslab_get_new_handler() : nullptr;
}

[[noreturn]] void throw_bad_alloc() {
  if (numaslab_throw_bad_alloc) numaslab_throw_bad_alloc();
  // operator new called where no C++ runtime is loaded: nothing can catch.
  numaslab::detail::fatal(
      "operator new failed and no C++ runtime is loaded to throw std::bad_alloc");
}

// The handler may throw (bad_alloc or anything): a nothrow new returns null then.
bool call_handler_nothrow(std::new_handler h) noexcept {
  try {
    h();
    return true;
  } catch (...) {
    return false;
  }
}

void* aligned(std::size_t size, std::size_t align) {
  if (__builtin_expect(!numaslab::detail::ensure_started(), 0)) return nullptr;
  return numaslab::detail::kmalloc_aligned(size, align);
}

void* alloc_or_handle(std::size_t size, std::size_t align, bool nothrow) {
  for (;;) {
    void* p = numaslab::detail::kmalloc_aligns(size, align) ? numaslab_kmalloc(size)
                                                            : aligned(size, align);
    if (p) return p;
    std::new_handler h = current_new_handler();
    if (!h) {
      if (nothrow) return nullptr;
      throw_bad_alloc();
    }
    if (nothrow) {
      if (!call_handler_nothrow(h)) return nullptr;
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
