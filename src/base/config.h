// numaslab — compile-time configuration shared by every layer.
//
// Contract: constants only; no state, no functions with side effects.
// kDebug selects the debug tier of checks (base/check.h) and turns the
// lock-rank validator on by default (base/lock.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace numaslab {

#if defined(NUMASLAB_DEBUG) && NUMASLAB_DEBUG
inline constexpr bool kDebug = true;
#else
inline constexpr bool kDebug = false;
#endif

inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kPageShift = 12;
inline constexpr std::size_t kPageSize = std::size_t{1} << kPageShift;

// Upper bounds for fixed tables. Per-CPU state itself is sized by the
// *possible* CPU count discovered at init, never by these.
inline constexpr int kMaxCpus = 1024;
inline constexpr int kMaxNodes = 64;

// The kernel's MAX_GFP_ORDER: a slab is at most 2^5 pages.
inline constexpr unsigned kMaxSlabOrder = 5;

}  // namespace numaslab
