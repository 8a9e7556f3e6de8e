// numaslab — ArrayCache: a LIFO stack of object pointers (the kernel's
// struct array_cache). Used for per-CPU arrays, per-node shared arrays and
// alien arrays (cache/alien_cache.h).
//
// Contract:
//  * entries()[0..avail) are valid; entries()[avail-1] is the hottest.
//    0 <= avail <= limit, always.
//  * Who guards an ArrayCache depends on its role: a per-CPU array by its CPU
//    slot (cpu/cpu_slots.h); a shared array by its node's list_lock; an alien
//    array by AlienArray::lock. The type itself takes no lock.
//  * Every object in an array has bufctl state kBufctlCached.
//  * `touched` holds one "used since I last looked" bit per observer
//    (kTouched*): a use sets them all, each observer clears only its own.
//  * An ArrayCache is one allocation: header + limit pointers (array_bytes()),
//    taken from the kmalloc caches (self-hosted metadata).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/lock.h"
#include "base/sanitizer.h"

namespace numaslab::detail {

// Shifts entries[n..avail) down to entries[0..): the n oldest are gone, the
// hot top stays for the next allocations (every array trim: the reaper's,
// on per-CPU and shared arrays). Returns the new avail.
inline std::uint32_t entries_drop_bottom(void** entries, std::uint32_t avail, std::uint32_t n) {
  std::memmove(entries, entries + n, (avail - n) * sizeof(void*));
  tool_scrub(entries + (avail - n), n);
  return avail - n;
}

// ArrayCache::touched: "used since I last looked" for two observers, each
// clearing its own bit — the reaper's trims (hysteresis) and the idle drain
// when a node takes fresh memory (cache/cache.h).
inline constexpr std::uint32_t kTouchedReaper = 1;
inline constexpr std::uint32_t kTouchedIdleDrain = 2;
inline constexpr std::uint32_t kTouchedAll = kTouchedReaper | kTouchedIdleDrain;

struct alignas(8) ArrayCache {
  std::uint32_t avail;
  std::uint32_t limit;
  std::uint32_t batchcount;
  std::uint32_t touched;  // kTouched* bits: all set on use, each cleared by its observer

  void** entries() { return reinterpret_cast<void**>(this + 1); }
  void* const* entries() const { return reinterpret_cast<void* const*>(this + 1); }

  static std::size_t bytes_for(std::uint32_t limit) {
    return sizeof(ArrayCache) + std::size_t{limit} * sizeof(void*);
  }
  void init(std::uint32_t lim, std::uint32_t batch) {
    avail = 0;
    limit = lim;
    batchcount = batch;
    touched = 0;
  }
  std::uint32_t room() const { return limit - avail; }

  // Forgets the n oldest (bottom) entries, which the caller has returned to
  // their slabs, keeping the hot top.
  void drop_bottom(std::uint32_t n) { avail = entries_drop_bottom(entries(), avail, n); }
  // Removes the n hottest entries into out[0..n).
  void take_top(void** out, std::uint32_t n) {
    avail -= n;
    std::memcpy(out, entries() + avail, n * sizeof(void*));
    tool_scrub(entries() + avail, n);
  }
  void push_many(void* const* in, std::uint32_t n) {
    std::memcpy(entries() + avail, in, n * sizeof(void*));
    avail += n;
  }
};
static_assert(sizeof(ArrayCache) == 16);

// Refill of an array that was not touched since the last reap is capped
// (the kernel's BATCHREFILL_LIMIT).
inline constexpr std::uint32_t kBatchRefillLimit = 16;

}  // namespace numaslab::detail
