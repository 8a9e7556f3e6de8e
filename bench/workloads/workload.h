// The workload programs of `numaslab-bench --workloads`: what they share.
//
// Each workload is a plain program that reaches the allocator only through
// malloc/calloc/realloc/free and operator new/delete, so LD_PRELOAD decides
// whose allocator it measures. Contract of every program:
//   usage: wl-<name> [SCALE]     SCALE > 0 multiplies the work (default 1)
//   stdout: "checksum <16 hex digits>" — a function of SCALE alone, the same
//           under every correct allocator and any thread schedule;
//           "malloc <path>" — the object malloc resolved to (the preload check);
//   exit status 0; a corrupted object aborts with a message on stderr.
//
// Determinism: every random choice comes from an Rng with a fixed seed, and
// a thread's choices never depend on what other threads did. Where objects
// cross threads in an order the scheduler decides, the checksum is a sum
// (commutative) over the objects, and every object is freed exactly once.
//
// Objects carry a stamp (stamp/take_stamp): a 64-bit tag in the first 8
// bytes and its complement in the last 8, checked when the object is freed,
// so an allocator that hands out overlapping or scribbled memory is caught.
#pragma once

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace workload {

[[noreturn]] inline void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] inline void fail(const char* fmt, ...) {
  std::va_list ap;
  va_start(ap, fmt);
  std::fputs("workload: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  std::abort();
}

template <class T>
T* checked(T* p, std::size_t n) {
  if (!p && n) fail("out of memory (%zu bytes)", n);
  return p;
}
inline void* xmalloc(std::size_t n) { return checked(std::malloc(n), n); }

// splitmix64: tiny, fast, and every seed (0 too) gives a full-period stream.
struct Rng {
  std::uint64_t state;
  explicit Rng(std::uint64_t seed) : state(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  // Uniform in [lo, hi].
  std::size_t between(std::size_t lo, std::size_t hi) { return lo + below(hi - lo + 1); }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Log-uniform in [lo, hi]: as many sizes in 16..32 as in 1024..2048.
  std::size_t log_between(std::size_t lo, std::size_t hi) {
    const double l = std::log(static_cast<double>(lo));
    const double v = std::exp(l + unit() * (std::log(static_cast<double>(hi + 1)) - l));
    return std::clamp(static_cast<std::size_t>(v), lo, hi);
  }
};

// A seed per (stream, index): threads and rounds get unrelated streams.
inline std::uint64_t seed_of(std::uint64_t stream, std::uint64_t index) {
  return Rng(stream * 0x100000001B3ULL ^ index).next();
}

// A 64-bit finalizer: sums of mixed values stay sensitive to every value.
inline std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDULL;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ULL;
  return x ^ (x >> 33);
}

// Order-dependent accumulation (within one thread).
inline std::uint64_t fold(std::uint64_t h, std::uint64_t v) { return mix(h ^ v) + v; }

// Stamps. n >= 8; the trailer only when it does not overlap the tag.
inline void stamp(void* p, std::size_t n, std::uint64_t tag) {
  std::memcpy(p, &tag, 8);
  if (n >= 16) {
    const std::uint64_t t = ~tag;
    std::memcpy(static_cast<char*>(p) + n - 8, &t, 8);
  }
}

inline std::uint64_t read_tag(const void* p) {
  std::uint64_t tag;
  std::memcpy(&tag, p, 8);
  return tag;
}

// Checks the stamp and returns its contribution to a checksum.
inline std::uint64_t take_stamp(const void* p, std::size_t n, std::uint64_t tag) {
  if (read_tag(p) != tag) fail("object %p (%zu bytes): tag overwritten", p, n);
  if (n >= 16) {
    std::uint64_t t;
    std::memcpy(&t, static_cast<const char*>(p) + n - 8, 8);
    if (t != ~tag) fail("object %p (%zu bytes): trailer overwritten", p, n);
  }
  return mix(tag ^ n);
}

// A stamped block in a slot; p == nullptr: an empty slot.
struct Block {
  void* p = nullptr;
  std::size_t size = 0;
  std::uint64_t tag = 0;
};

inline Block new_block(std::size_t size, std::uint64_t tag) {
  Block b{xmalloc(size), size, tag};
  stamp(b.p, size, tag);
  return b;
}

// Checks and frees the block, empties the slot; returns the block's
// contribution to a checksum (0 for an empty slot).
inline std::uint64_t free_block(Block& b) {
  if (!b.p) return 0;
  const std::uint64_t v = take_stamp(b.p, b.size, b.tag);
  std::free(b.p);
  b.p = nullptr;
  return v;
}

// SCALE from argv[1]; the work of a loop: max(1, base * scale).
// A bad command line exits with status 2.
inline double parse_scale(int argc, char** argv) {
  if (argc < 2) return 1.0;
  char* end = nullptr;
  const double s = argc == 2 ? std::strtod(argv[1], &end) : 0;
  if (argc > 2 || end == argv[1] || *end != '\0' || !(s > 0) || s > 1e6) {
    std::fprintf(stderr, "usage: %s [SCALE]   (SCALE: a positive number, default 1)\n", argv[0]);
    std::exit(2);
  }
  return s;
}

inline long scaled(long base, double scale) {
  return std::max(1L, std::lround(static_cast<double>(base) * scale));
}

// The result lines. Returns main's exit status.
inline int finish(std::uint64_t checksum) {
  std::printf("checksum %016llx\n", static_cast<unsigned long long>(checksum));
  // Through a volatile pointer: the definition the dynamic linker bound.
  void* (*volatile fn)(std::size_t) = &std::malloc;
  Dl_info info{};
  const bool found = dladdr(reinterpret_cast<void*>(fn), &info) && info.dli_fname;
  std::printf("malloc %s\n", found ? info.dli_fname : "?");
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace workload
