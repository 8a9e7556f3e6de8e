// numaslab — fixed-size CPU bit mask and the sysfs "cpulist" syntax.
//
// Contract: CpuMask holds CPU ids 0..kMaxCpus-1 in a plain bit array (no
// allocation). parse_cpulist accepts the kernel's list format ("0-3,8-11",
// "5", "", "0-7:2" stride form is rejected, whitespace/newline at the end is
// ignored) and rejects malformed or out-of-range input.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/config.h"

namespace numaslab::detail {

struct CpuMask {
  static constexpr int kWords = kMaxCpus / 64;
  std::uint64_t bits[kWords] = {};

  void set(int cpu) { bits[cpu >> 6] |= std::uint64_t{1} << (cpu & 63); }
  void clear(int cpu) { bits[cpu >> 6] &= ~(std::uint64_t{1} << (cpu & 63)); }
  bool test(int cpu) const {
    return cpu >= 0 && cpu < kMaxCpus && (bits[cpu >> 6] >> (cpu & 63)) & 1;
  }
  int count() const;
  bool empty() const { return count() == 0; }
  // Smallest set id >= from, or -1.
  int next(int from) const;
  int first() const { return next(0); }
  // Highest set id, or -1.
  int last() const;
  bool operator==(const CpuMask& o) const;
  bool operator!=(const CpuMask& o) const { return !(*this == o); }
};

// Parses a cpulist; returns false (and leaves *out empty) on malformed input
// or ids >= limit.
bool parse_cpulist(const char* text, CpuMask* out, int limit = kMaxCpus);

// Formats a mask as a cpulist ("0-3,8"); returns the full length.
std::size_t format_cpulist(const CpuMask& m, char* buf, std::size_t cap);

}  // namespace numaslab::detail
