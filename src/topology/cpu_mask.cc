#include "topology/cpu_mask.h"

#include "base/format.h"

namespace numaslab::detail {

namespace {

// Ten digits already exceed any id we can hold; the cap stops "000...0001"
// style input from being accepted just because its value happens to be small.
constexpr int kMaxDigits = 10;

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Parses a decimal id < limit at *p (p < end), advancing *p past it.
bool parse_id(const char** p, const char* end, int limit, int* out) {
  const char* s = *p;
  long value = 0;
  int digits = 0;
  while (s < end && is_digit(*s)) {
    if (++digits > kMaxDigits) return false;
    value = value * 10 + (*s - '0');
    if (value >= limit) return false;
    ++s;
  }
  if (digits == 0) return false;
  *p = s;
  *out = static_cast<int>(value);
  return true;
}

// Bits set in w, without the libgcc helper __builtin_popcountll becomes on
// CPUs not known to have POPCNT (the malloc shim links no libgcc_s).
int bits_set(std::uint64_t w) {
  w -= (w >> 1) & 0x5555555555555555ULL;
  w = (w & 0x3333333333333333ULL) + ((w >> 2) & 0x3333333333333333ULL);
  w = (w + (w >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<int>((w * 0x0101010101010101ULL) >> 56);
}

}  // namespace

int CpuMask::count() const {
  int n = 0;
  for (std::uint64_t w : bits) n += bits_set(w);
  return n;
}

int CpuMask::next(int from) const {
  if (from < 0) from = 0;
  if (from >= kMaxCpus) return -1;
  int word = from >> 6;
  std::uint64_t w = bits[word] & (~std::uint64_t{0} << (from & 63));
  for (;;) {
    if (w) return (word << 6) + __builtin_ctzll(w);
    if (++word == kWords) return -1;
    w = bits[word];
  }
}

int CpuMask::last() const {
  for (int word = kWords - 1; word >= 0; --word) {
    if (bits[word]) return (word << 6) + 63 - __builtin_clzll(bits[word]);
  }
  return -1;
}

bool CpuMask::operator==(const CpuMask& o) const {
  for (int i = 0; i < kWords; ++i)
    if (bits[i] != o.bits[i]) return false;
  return true;
}

bool parse_cpulist(const char* text, CpuMask* out, int limit) {
  *out = CpuMask{};
  if (text == nullptr) return false;
  if (limit > kMaxCpus) limit = kMaxCpus;  // the mask cannot hold more

  const char* end = text;
  while (*end) ++end;
  // sysfs files end in "\n"; an empty list is just "\n".
  while (end > text && is_space(end[-1])) --end;

  CpuMask mask;
  const char* p = text;
  while (p < end) {
    int lo = 0;
    if (!parse_id(&p, end, limit, &lo)) return false;
    int hi = lo;
    if (p < end && *p == '-') {
      ++p;
      if (!parse_id(&p, end, limit, &hi)) return false;
      if (hi < lo) return false;
    }
    for (int c = lo; c <= hi; ++c) mask.set(c);
    if (p == end) break;
    // Anything else here (a stride ':', a space, a letter) is malformed.
    if (*p != ',') return false;
    ++p;
    if (p == end) return false;  // trailing comma
  }
  *out = mask;
  return true;
}

std::size_t format_cpulist(const CpuMask& m, char* buf, std::size_t cap) {
  detail::BufWriter w(buf, cap);
  bool first = true;
  for (int lo = m.first(); lo >= 0;) {
    int hi = lo;
    while (hi + 1 < kMaxCpus && m.test(hi + 1)) ++hi;
    if (!first) w.put(',');
    first = false;
    w.put_u64(static_cast<std::uint64_t>(lo));
    if (hi > lo) {
      w.put('-');
      w.put_u64(static_cast<std::uint64_t>(hi));
    }
    lo = hi + 1 < kMaxCpus ? m.next(hi + 1) : -1;
  }
  return w.wanted();
}

}  // namespace numaslab::detail
