// Memory checkers: ASan's interface (weak unless this is an ASan build) and
// valgrind's client requests (sanitizer.h).
#include "base/sanitizer.h"

#include <valgrind/memcheck.h>

#if defined(NUMASLAB_ASAN)
extern "C" void __asan_poison_memory_region(void const volatile* addr, std::size_t size);
extern "C" void __asan_unpoison_memory_region(void const volatile* addr, std::size_t size);
#else
// Resolved only when the process holds the ASan runtime (a user's program
// built with -fsanitize=address); otherwise null.
extern "C" void __asan_poison_memory_region(void const volatile* addr, std::size_t size)
    __attribute__((weak));
extern "C" void __asan_unpoison_memory_region(void const volatile* addr, std::size_t size)
    __attribute__((weak));
#endif

namespace numaslab::detail {

bool g_tools = false;

namespace {

bool g_asan = false;
bool g_valgrind = false;

void asan_poison(const void* p, std::size_t n) {
  if (g_asan && n) __asan_poison_memory_region(p, n);
}
void asan_unpoison(const void* p, std::size_t n) {
  if (g_asan && n) __asan_unpoison_memory_region(p, n);
}

}  // namespace

bool tools_init(const char** name) {
#if defined(NUMASLAB_ASAN)
  g_asan = true;
#else
  g_asan = __asan_poison_memory_region != nullptr && __asan_unpoison_memory_region != nullptr;
#endif
  g_valgrind = RUNNING_ON_VALGRIND != 0;
  g_tools = g_asan || g_valgrind;
  *name = g_valgrind ? "valgrind" : g_asan ? "asan" : "";
  return g_tools;
}

const char* tools_name() { return g_valgrind ? "valgrind" : g_asan ? "asan" : "none"; }

void tool_pages_reused(const void* p, std::size_t size) {
  asan_unpoison(p, size);
  if (g_valgrind) VALGRIND_MAKE_MEM_UNDEFINED(p, size);
}

void tool_free_large(const void* p, std::size_t size, bool mapped) {
  if (!mapped) asan_poison(p, size);
  if (g_valgrind) {
    VALGRIND_FREELIKE_BLOCK(p, 0);
    if (!mapped) VALGRIND_MAKE_MEM_NOACCESS(p, size);
  }
}

void tool_slab_created(const void* p, std::size_t size) {
  asan_poison(p, size);
  if (g_valgrind) VALGRIND_MAKE_MEM_NOACCESS(p, size);
}

void tool_slab_destroyed(const void* p, std::size_t size) {
  asan_unpoison(p, size);
  if (g_valgrind) VALGRIND_MAKE_MEM_UNDEFINED(p, size);
}

void tool_alloc(const void* p, std::size_t size, bool defined) {
  asan_unpoison(p, size);
  if (g_valgrind) {
    VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, 0);
    if (defined) VALGRIND_MAKE_MEM_DEFINED(p, size);
  }
}

void tool_resize(const void* p, std::size_t old_size, std::size_t size) {
  if (size < old_size) asan_poison(static_cast<const char*>(p) + size, old_size - size);
  if (size > old_size) asan_unpoison(p, size);
  if (g_valgrind && size != old_size) VALGRIND_RESIZEINPLACE_BLOCK(p, old_size, size, 0);
}

void tool_free(const void* p, std::size_t size) {
  asan_poison(p, size);
  if (g_valgrind) {
    VALGRIND_FREELIKE_BLOCK(p, 0);
    VALGRIND_MAKE_MEM_NOACCESS(p, size);
  }
}

void tool_move_block(const void* from, const void* to, std::size_t size) {
  if (!g_valgrind) return;
  VALGRIND_FREELIKE_BLOCK(from, 0);
  VALGRIND_MALLOCLIKE_BLOCK(to, size, 0, 0);
  const char* lo = static_cast<const char*>(from < to ? from : to);
  const char* hi = static_cast<const char*>(from < to ? to : from);
  VALGRIND_MAKE_MEM_DEFINED(lo, hi - lo);
}

void tool_quiet_begin() {
  if (g_valgrind) VALGRIND_DISABLE_ERROR_REPORTING;
}
void tool_quiet_end() {
  if (g_valgrind) VALGRIND_ENABLE_ERROR_REPORTING;
}

}  // namespace numaslab::detail
