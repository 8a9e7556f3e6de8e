// numaslab — the slab descriptor and its bufctl free list (the kernel's
// struct slab + kmem_bufctl_t).
//
// Contract:
//  * A slab is 2^order pages: [colour pad][Slab | bufctl[num] (on-slab)][objects].
//    Off-slab, the Slab + bufctl live in a small kmalloc object instead.
//    Object i is at s_mem + i * buffer_size.
//  * bufctl[i] is an index-linked free list while object i is free in the slab
//    (Slab::free is the head, kBufctlEnd ends it). A new slab of objects
//    smaller than two cache lines lists them strided (0, k, 2k, ..., 1, 1+k,
//    ...) so that two objects in a row never share a cache line; larger
//    objects are listed in address order. Free objects are never
//    written, so constructed state survives (Bonwick's object caching).
//    While object i is *out* of the slab, bufctl[i] records where it is:
//      kBufctlCached — in some array cache (per-CPU, shared or alien);
//      kBufctlUser   — handed to the user.
//    That makes double frees and double hand-outs detectable in every build.
//  * Invariants: inuse + (length of the free list) == num;
//    inuse == #{i : bufctl[i] in {kBufctlCached, kBufctlUser}};
//    the slab is on exactly one list of its node, chosen by inuse
//    (0 → free, num → full, otherwise partial), and list_id says which.
// Locks: free/inuse/list links and in-slab bufctl entries are guarded by the
// owning node's list_lock. bufctl[i] of an object out of the slab is written
// by whoever holds the object (the user, or the holder of the array's lock),
// with relaxed atomic stores so concurrent neighbours never tear.
#pragma once

#include <atomic>
#include <cstdint>

#include "slab/geometry.h"

namespace numaslab::detail {

inline constexpr std::uint32_t kBufctlEnd = ~0u;
inline constexpr std::uint32_t kBufctlCached = ~0u - 1;
inline constexpr std::uint32_t kBufctlUser = ~0u - 2;

enum class SlabList : std::uint8_t { kNone = 0, kPartial, kFull, kFree };

struct Slab {
  Slab* next;               // guarded by: list_lock
  Slab* prev;               // guarded by: list_lock
  char* s_mem;              // first object; immutable
  std::uint32_t colouroff;  // s_mem - colouroff == first page; immutable
  std::uint32_t inuse;      // guarded by: list_lock
  std::uint32_t free;       // guarded by: list_lock
  std::uint16_t nodeid;     // home node; immutable
  SlabList list_id;         // guarded by: list_lock
  std::uint8_t pad_;
  std::uint64_t pad2_;

  std::uint32_t* bufctl() { return reinterpret_cast<std::uint32_t*>(this + 1); }
  void* page_start() const { return s_mem - colouroff; }

  std::uint32_t load_bufctl(std::uint32_t i) {
    return std::atomic_ref<std::uint32_t>(bufctl()[i]).load(std::memory_order_relaxed);
  }
  void store_bufctl(std::uint32_t i, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(bufctl()[i]).store(v, std::memory_order_relaxed);
  }
};
static_assert(sizeof(Slab) == kSlabDescSize, "Slab must match the geometry's descriptor size");

// Intrusive list of slabs: head/tail pointers, nullptr-terminated, so a list
// can be moved by copying the two pointers (bootstrap relies on that).
struct SlabQueue {
  Slab* head = nullptr;
  Slab* tail = nullptr;
  std::size_t count = 0;

  bool empty() const { return head == nullptr; }
  void push_front(Slab* s) {
    s->prev = nullptr;
    s->next = head;
    if (head)
      head->prev = s;
    else
      tail = s;
    head = s;
    ++count;
  }
  void push_back(Slab* s) {
    s->next = nullptr;
    s->prev = tail;
    if (tail)
      tail->next = s;
    else
      head = s;
    tail = s;
    ++count;
  }
  void remove(Slab* s) {
    if (s->prev)
      s->prev->next = s->next;
    else
      head = s->next;
    if (s->next)
      s->next->prev = s->prev;
    else
      tail = s->prev;
    s->next = s->prev = nullptr;
    --count;
  }
  Slab* pop_front() {
    Slab* s = head;
    if (s) remove(s);
    return s;
  }
};

}  // namespace numaslab::detail
