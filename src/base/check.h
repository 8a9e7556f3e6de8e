// numaslab — the three tiers of checks, and fatal error reporting.
//
// Contract:
//   NS_CHECK(cond, fmt, ...)      always evaluated, every build: heap corruption,
//                                 bad frees, broken invariants that would
//                                 otherwise corrupt memory. Failure = fatal().
//   NS_ASSERT(cond)               evaluated only when kDebug; still type-checked
//                                 in release (if constexpr, never #ifdef).
//   NS_EXPENSIVE(cond)            full list walks (a node's slab lists after
//                                 every batch); only when kDebug and
//                                 g_expensive_checks, which start-up sets at
//                                 NUMASLAB_CHECK=full.
// fatal() formats one line into a stack buffer (base/format.h), writes it to
// stderr with write(2) and aborts. It never allocates and takes no lock, so it
// is usable with any allocator lock held.
#pragma once

#include <atomic>

#include "base/config.h"

namespace numaslab::detail {

[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2), cold));
[[noreturn]] void assert_failed(const char* expr, const char* file, int line) __attribute__((cold));

// Non-fatal diagnostic line on stderr (used for warnings such as a refused destroy).
void warn(const char* fmt, ...) __attribute__((format(printf, 1, 2), cold));

extern std::atomic<bool> g_expensive_checks;

}  // namespace numaslab::detail

#define NS_LIKELY(x) __builtin_expect(!!(x), 1)
#define NS_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define NS_CHECK(cond, ...)                                           \
  do {                                                                \
    if (NS_UNLIKELY(!(cond))) ::numaslab::detail::fatal(__VA_ARGS__); \
  } while (0)

#define NS_ASSERT(cond)                                                                       \
  do {                                                                                        \
    if constexpr (::numaslab::kDebug) {                                                       \
      if (NS_UNLIKELY(!(cond))) ::numaslab::detail::assert_failed(#cond, __FILE__, __LINE__); \
    }                                                                                         \
  } while (0)

#define NS_EXPENSIVE(cond)                                                          \
  do {                                                                              \
    if constexpr (::numaslab::kDebug) {                                             \
      if (::numaslab::detail::g_expensive_checks.load(std::memory_order_relaxed) && \
          NS_UNLIKELY(!(cond)))                                                     \
        ::numaslab::detail::assert_failed(#cond, __FILE__, __LINE__);               \
    }                                                                               \
  } while (0)
