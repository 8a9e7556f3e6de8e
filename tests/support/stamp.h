// Object stamps: every object a stress test holds carries who holds it, its
// size and a serial number, checked when it is freed.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace numaslab::test_support {

// Object stamps: {magic, owner, serial}. The magic word is claimed with an
// atomic exchange, so an object handed to two holders at once is caught by
// whichever claims second.
struct Stamp {
  std::atomic<std::uint64_t> magic;
  std::uint32_t owner;
  std::uint32_t size;
  std::uint64_t serial;
};
inline constexpr std::uint64_t kLive = 0x5eedc0de00000000ull;
inline constexpr std::uint64_t kDead = 0xdeadbeefdeadbeefull;
inline std::uint64_t live_magic(const void* p) {
  return kLive ^ (reinterpret_cast<std::uintptr_t>(p) >> 3);
}

// Returns false (and a reason) if the object was live already.
inline bool stamp(void* p, std::uint32_t owner, std::uint32_t size, std::uint64_t serial,
                  std::string* why) {
  auto* s = static_cast<Stamp*>(p);
  std::uint64_t old = s->magic.exchange(live_magic(p), std::memory_order_acq_rel);
  if (old == live_magic(p)) {
    *why = "object " + std::to_string(reinterpret_cast<std::uintptr_t>(p)) +
           " handed out while live (holder " + std::to_string(s->owner) + ")";
    return false;
  }
  s->owner = owner;
  s->size = size;
  s->serial = serial;
  return true;
}

// Checks the stamp and kills it before the free.
inline bool unstamp(void* p, std::uint32_t owner, std::uint32_t size, std::uint64_t serial,
                    std::string* why) {
  auto* s = static_cast<Stamp*>(p);
  if (s->owner != owner || s->size != size || s->serial != serial) {
    *why = "stamp of " + std::to_string(reinterpret_cast<std::uintptr_t>(p)) + " overwritten";
    return false;
  }
  std::uint64_t old = s->magic.exchange(kDead, std::memory_order_acq_rel);
  if (old != live_magic(p)) {
    *why = "magic of " + std::to_string(reinterpret_cast<std::uintptr_t>(p)) + " lost";
    return false;
  }
  return true;
}

}  // namespace numaslab::test_support
