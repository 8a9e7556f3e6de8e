#include "objects.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "stress.h"

namespace stress {

namespace {

constexpr std::uint64_t kCtorMagic[kNumTyped] = {
    0x494e4f44452d4f4bull,  // "INODE-OK"
    0x44454e5452592d4bull,  // "DENTRY-K"
    0x46494c452d2d2d4bull,  // "FILE---K"
    0x42554646482d2d4bull,  // "BUFFH--K"
};
constexpr std::uint64_t kCtorTail = 0x7a7a7a7a434f4e53ull;  // "zzzzCONS"
constexpr std::uint64_t kTailKey = 0x5441494c5441494cull;
constexpr std::uint32_t kLiveMagic = 0x4556494cu;  // "LIVE"
constexpr std::uint32_t kFreeMagic = 0x45455246u;  // "FREE"

struct Stamp {
  std::uint32_t magic;
  std::uint16_t owner;
  std::uint16_t check;
  std::uint64_t serial;
};
static_assert(sizeof(Stamp) == 16);

constexpr std::size_t kStampOff = 8;  // typed objects
constexpr std::size_t kKmallocPatternOff = sizeof(Stamp);

std::atomic<std::uint64_t> g_ctor_calls[kNumTyped];
numaslab_cache* g_caches[kNumTyped];

std::uint16_t checksum(const void* p, std::uint16_t owner, std::uint64_t serial) {
  std::uint64_t h = mix64(serial ^ (reinterpret_cast<std::uintptr_t>(p) * 0x9e3779b97f4a7c15ull) ^
                          (std::uint64_t{owner} << 48));
  h ^= h >> 32;
  h ^= h >> 16;
  return static_cast<std::uint16_t>(h);
}

inline std::uint64_t load64(const void* p, std::size_t off) {
  std::uint64_t v;
  std::memcpy(&v, static_cast<const char*>(p) + off, 8);
  return v;
}
inline void store64(void* p, std::size_t off, std::uint64_t v) {
  std::memcpy(static_cast<char*>(p) + off, &v, 8);
}
inline Stamp load_stamp(const void* p, std::size_t off) {
  Stamp s;
  std::memcpy(&s, static_cast<const char*>(p) + off, sizeof s);
  return s;
}
inline void store_stamp(void* p, std::size_t off, const Stamp& s) {
  std::memcpy(static_cast<char*>(p) + off, &s, sizeof s);
}

// Serials are (allocating worker << 48) | per-worker count: "w3#1234".
std::string serial_str(std::uint64_t serial) {
  return "w" + std::to_string(serial >> 48) + "#" + std::to_string(serial & 0xffffffffffffull);
}

bool stamp_is_live(const void* p, const Stamp& s) {
  return s.magic == kLiveMagic && s.check == checksum(p, s.owner, s.serial);
}

// Bytes [0, 32) of an object as hex, for error messages.
const char* hexdump(const void* p, std::size_t size, char* buf, std::size_t len) {
  const auto* b = static_cast<const unsigned char*>(p);
  std::size_t n = size < 32 ? size : 32, o = 0;
  for (std::size_t i = 0; i < n && o + 3 < len; ++i)
    o += static_cast<std::size_t>(std::snprintf(buf + o, len - o, "%02x%s", b[i], (i % 8 == 7) ? " " : ""));
  if (o < len) buf[o] = '\0';
  return buf;
}

template <Kind K>
void ctor(void* obj) {
  const std::size_t size = kTyped[K].size;
  std::memset(obj, 0, size);
  store64(obj, 0, kCtorMagic[K]);
  store_stamp(obj, kStampOff, Stamp{kFreeMagic, 0, 0, 0});
  store64(obj, size - 8, kCtorTail);
  g_ctor_calls[K].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t pattern_base(std::uint64_t serial) { return mix64(serial ^ 0x5041545445524e21ull); }
constexpr std::uint64_t kPatternStep = 0x9e3779b97f4a7c15ull;

void fill_pattern(void* p, std::size_t size, std::uint64_t serial) {
  std::uint64_t w = pattern_base(serial);
  std::size_t off = kKmallocPatternOff;
  for (; off + 8 <= size; off += 8, w += kPatternStep) store64(p, off, w);
  if (off < size) std::memcpy(static_cast<char*>(p) + off, &w, size - off);
}

// Offset of the first byte that differs from the pattern, or SIZE_MAX.
std::size_t check_pattern(const void* p, std::size_t size, std::uint64_t serial) {
  std::uint64_t w = pattern_base(serial);
  std::size_t off = kKmallocPatternOff;
  for (; off + 8 <= size; off += 8, w += kPatternStep)
    if (load64(p, off) != w) return off;
  if (off < size && std::memcmp(static_cast<const char*>(p) + off, &w, size - off) != 0) return off;
  return SIZE_MAX;
}

}  // namespace

const TypedSpec kTyped[kNumTyped] = {
    {"inode", 600, ctor<kInode>},
    {"dentry", 192, ctor<kDentry>},
    {"file", 256, ctor<kFile>},
    {"buffer_head", 104, ctor<kBufferHead>},
};

const char* kind_name(Kind k) { return k < kNumTyped ? kTyped[k].name : "kmalloc"; }

bool create_caches() {
  for (int k = 0; k < kNumTyped; ++k) {
    // buffer_head asks for cache-line alignment, as the kernel's does.
    unsigned flags = k == kBufferHead ? NUMASLAB_HWCACHE_ALIGN : 0;
    if (k == kInode || k == kDentry) flags |= NUMASLAB_RECLAIM_ACCOUNT;
    g_caches[k] = numaslab_cache_create(kTyped[k].name, kTyped[k].size, 0, flags, kTyped[k].ctor);
    if (!g_caches[k]) {
      std::fprintf(stderr, "numaslab-stress: numaslab_cache_create(\"%s\", %zu) failed: %s\n",
                   kTyped[k].name, kTyped[k].size, std::strerror(errno));
      return false;
    }
    if (numaslab_cache_object_size(g_caches[k]) != kTyped[k].size ||
        std::strcmp(numaslab_cache_name(g_caches[k]), kTyped[k].name) != 0)
      errors().report("cache %s: name/object size reported as %s/%zu", kTyped[k].name,
                      numaslab_cache_name(g_caches[k]), numaslab_cache_object_size(g_caches[k]));
  }
  return true;
}

numaslab_cache* cache_of(Kind k) { return g_caches[k]; }
std::uint64_t ctor_calls(Kind k) { return g_ctor_calls[k].load(std::memory_order_relaxed); }

int destroy_caches(std::vector<std::string>* warnings, bool objects_leaked) {
  int failures = 0;
  if (objects_leaked) {
    // Objects that failed a check were left alone: the caches cannot be empty.
    for (int k = 0; k < kNumTyped; ++k)
      if (g_caches[k] && numaslab_cache_destroy(g_caches[k]) == 0) g_caches[k] = nullptr;
    return 0;
  }
  std::string two_pass;  // caches whose shrink needed a second pass
  for (int k = 0; k < kNumTyped; ++k) {
    if (!g_caches[k]) continue;
    // Every object is free: one shrink must leave no slab.
    const int s = numaslab_cache_shrink(g_caches[k]);
    if (s != 0) {
      const int again = numaslab_cache_shrink(g_caches[k]);
      if (again != 0) {
        errors().report("cache %s: numaslab_cache_shrink returned %d, then %d, with no object in use",
                        kTyped[k].name, s, again);
        ++failures;
      } else {
        two_pass += std::string(two_pass.empty() ? "" : ", ") + kTyped[k].name;
      }
    }
    const int d = numaslab_cache_destroy(g_caches[k]);
    if (d != 0) {
      errors().report("cache %s: numaslab_cache_destroy returned %d after every object was freed",
                      kTyped[k].name, d);
      ++failures;
      continue;
    }
    g_caches[k] = nullptr;
  }
  if (!two_pass.empty())
    warnings->push_back("numaslab_cache_shrink returned 1 with no object in use, 0 on a second call (" +
                        two_pass + "): objects drained from alien arrays into an already-drained "
                        "shared array");
  return failures;
}

bool stamp_on_alloc(Handle& h, int owner, bool zeroed) {
  char hex[120];
  void* p = h.p;
  if (reinterpret_cast<std::uintptr_t>(p) % 8 != 0) {
    errors().report("%s: allocation returned misaligned pointer %p", kind_name(h.kind), p);
    return false;
  }
  const auto own = static_cast<std::uint16_t>(owner);
  const Stamp live{kLiveMagic, own, checksum(p, own, h.serial), h.serial};
  if (h.kind < kNumTyped) {
    const std::size_t size = kTyped[h.kind].size;
    const std::uint64_t magic = load64(p, 0);
    const Stamp s = load_stamp(p, kStampOff);
    if (magic != kCtorMagic[h.kind]) {
      for (int k = 0; k < kNumTyped; ++k)
        if (magic == kCtorMagic[k]) {
          errors().report("%s %p: handed out an object constructed by cache %s [w%d] bytes %s",
                          kTyped[h.kind].name, p, kTyped[k].name, owner,
                          hexdump(p, size, hex, sizeof hex));
          return false;
        }
      errors().report("%s %p: not in the constructed state on allocation (magic %016llx) [w%d] "
                      "bytes %s",
                      kTyped[h.kind].name, p, static_cast<unsigned long long>(magic), owner,
                      hexdump(p, size, hex, sizeof hex));
      return false;
    }
    if (stamp_is_live(p, s)) {
      errors().report("%s %p: DOUBLE HAND-OUT: still live (serial %s) when allocated "
                      "again by w%d",
                      kTyped[h.kind].name, p, serial_str(s.serial).c_str(),
                      owner);
      return false;
    }
    if (s.magic != kFreeMagic || load64(p, size - 8) != kCtorTail) {
      errors().report("%s %p: constructed state damaged on allocation (stamp magic %08x, tail "
                      "%016llx) [w%d] bytes %s",
                      kTyped[h.kind].name, p, s.magic,
                      static_cast<unsigned long long>(load64(p, size - 8)), owner,
                      hexdump(p, size, hex, sizeof hex));
      return false;
    }
    store_stamp(p, kStampOff, live);
    store64(p, size - 8, h.serial ^ kTailKey ^ reinterpret_cast<std::uintptr_t>(p));
    return true;
  }
  // kmalloc buffer.
  const std::size_t size = h.size;
  if (numaslab_ksize(p) < size) {
    errors().report("kmalloc %p: ksize %zu < requested %zu", p, numaslab_ksize(p), size);
    return false;
  }
  if (zeroed) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < size; ++i)
      if (b[i] != 0) {
        errors().report("kzalloc(%zu) %p: byte %zu is %02x, not zero [w%d]", size, p, i, b[i], owner);
        return false;
      }
  } else {
    const Stamp s = load_stamp(p, 0);
    if (stamp_is_live(p, s)) {
      errors().report("kmalloc(%zu) %p: DOUBLE HAND-OUT: still live (serial %s) when "
                      "allocated again by w%d",
                      size, p, serial_str(s.serial).c_str(), owner);
      return false;
    }
  }
  store_stamp(p, 0, live);
  fill_pattern(p, size, h.serial);
  return true;
}

bool check_on_free(const Handle& h, int freer) {
  char hex[120];
  void* p = h.p;
  const std::size_t stamp_off = h.kind < kNumTyped ? kStampOff : 0;
  const std::size_t size = h.kind < kNumTyped ? kTyped[h.kind].size : h.size;
  const Stamp s = load_stamp(p, stamp_off);
  if (s.magic != kLiveMagic || s.serial != h.serial || s.check != checksum(p, s.owner, s.serial)) {
    errors().report("%s %p (size %zu, serial %s): live stamp CORRUPT on free by w%d (magic "
                    "%08x serial %s owner %u check %04x) bytes %s",
                    kind_name(h.kind), p, size, serial_str(h.serial).c_str(), freer,
                    s.magic, serial_str(s.serial).c_str(), s.owner, s.check,
                    hexdump(p, size, hex, sizeof hex));
    return false;
  }
  if (h.kind < kNumTyped) {
    const std::uint64_t tail = load64(p, size - 8);
    if (load64(p, 0) != kCtorMagic[h.kind] ||
        tail != (h.serial ^ kTailKey ^ reinterpret_cast<std::uintptr_t>(p))) {
      errors().report("%s %p (serial %s): object CORRUPT on free by w%d (head %016llx tail "
                      "%016llx)",
                      kind_name(h.kind), p, serial_str(h.serial).c_str(), freer,
                      static_cast<unsigned long long>(load64(p, 0)),
                      static_cast<unsigned long long>(tail));
      return false;
    }
    store_stamp(p, kStampOff, Stamp{kFreeMagic, 0, 0, 0});
    store64(p, size - 8, kCtorTail);
    return true;
  }
  const std::size_t bad = check_pattern(p, size, h.serial);
  if (bad != SIZE_MAX) {
    errors().report("kmalloc(%zu) %p (serial %s): data pattern CORRUPT at offset %zu on free "
                    "by w%d",
                    size, p, serial_str(h.serial).c_str(), bad, freer);
    return false;
  }
  store_stamp(p, 0, Stamp{kFreeMagic, 0, 0, 0});
  return true;
}

}  // namespace stress
