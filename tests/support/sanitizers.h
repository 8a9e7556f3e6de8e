// Which sanitizer a test binary is built with, for tests that adapt their
// load or skip what a sanitizer cannot run.
#pragma once

#include "base/sanitizer.h"

namespace numaslab::test_support {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kTsan = true;
#else
inline constexpr bool kTsan = false;
#endif
#else
inline constexpr bool kTsan = false;
#endif

#if defined(NUMASLAB_ASAN)  // base/sanitizer.h
inline constexpr bool kAsan = true;
#else
inline constexpr bool kAsan = false;
#endif

inline constexpr bool kSanitized = kTsan || kAsan;

}  // namespace numaslab::test_support
