// numaslab — telling AddressSanitizer which objects are free.
//
// Contract: poison_object() marks an object's bytes unaddressable while it is
// free (in an array cache or a slab), unpoison_object() when it is handed out
// or its slab is destroyed. Without ASan both compile to nothing. Constructed
// state is untouched: poisoning changes ASan's shadow, not the memory.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define NUMASLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NUMASLAB_ASAN 1
#endif
#endif

#if defined(NUMASLAB_ASAN)
extern "C" void __asan_poison_memory_region(void const volatile* addr, std::size_t size);
extern "C" void __asan_unpoison_memory_region(void const volatile* addr, std::size_t size);
#endif

namespace numaslab::detail {

inline void poison_object(const void* p, std::size_t size) {
#if defined(NUMASLAB_ASAN)
  __asan_poison_memory_region(p, size);
#else
  (void)p;
  (void)size;
#endif
}

inline void unpoison_object(const void* p, std::size_t size) {
#if defined(NUMASLAB_ASAN)
  __asan_unpoison_memory_region(p, size);
#else
  (void)p;
  (void)size;
#endif
}

}  // namespace numaslab::detail
