// numaslab — the one slots interface: LockedSlots and RseqSlots.
//
// Contract:
//  * Both policies implement the same concept on a cache's slot table
//    (SlotTable: the slots and how many), always on the calling thread's
//    current CPU:
//      pop(t, &obj)                 one object, counted as an allocation hit
//      push(t, obj, node)           one object of `node` (refused unless the
//                                   CPU's node is `node`)
//      pop_batch(t, out, k, &r)     up to k of the hottest objects, r = {got, node}
//      push_batch(t, in, k, node)   k objects of `node`, all or none
//      cpu()                        the CPU the next operation will most likely use
//    Each returns false when the current CPU's array cannot take the
//    operation now: no array (CPU down for us), a remote operation owns the
//    slot, empty / full, another node. Callers then use the node layer.
//    Both flush and refill through the top of the array (the hottest end): a
//    critical section cannot shift an array, so LockedSlots does not either.
//  * SlotStop is the scoped remote-operation guard: it holds the slot's lock
//    and, under RseqSlots, sets kStopRemote in `stopped` and fences the
//    slot's CPU, so no critical section can commit to the slot until the
//    guard ends. Under LockedSlots the lock is all it takes.
//  * slot_attach/slot_detach install and remove a CPU's entries block; the
//    caller holds a SlotStop.
// Lock order: a SlotStop is a slot lock (rank kSlot): registry → slot →
// alien → list_lock.
#pragma once

#include <cstdint>

#include "base/sanitizer.h"
#include "cpu/cpu_slots.h"
#include "cpu/rseq_slots.h"

namespace numaslab::detail {

struct SlotTable {
  CpuSlot* slots;
  std::uint32_t n;
};

struct LockedSlots {
  static int cpu() { return current_cpu(); }

  static bool pop(SlotTable t, void** out) {
    CpuSlot& s = t.slots[current_cpu()];
    LockGuard<SpinLock> g(s.lock);
    if (s.top <= s.base) return false;  // empty, or no array (both nullptr)
    *out = s.top[-1];
    s.set_top(s.top - 1);
    tool_scrub(s.top, 1);
    ++s.header()->locked_hits;
    return true;
  }
  static bool push(SlotTable t, void* obj, std::uint32_t node) {
    CpuSlot& s = t.slots[current_cpu()];
    LockGuard<SpinLock> g(s.lock);
    if (s.node != node || s.top >= s.cap) return false;
    *s.top = obj;
    s.set_top(s.top + 1);
    return true;
  }
  static bool pop_batch(SlotTable t, void** out, std::uint32_t k, RseqBatchResult* r) {
    CpuSlot& s = t.slots[current_cpu()];
    LockGuard<SpinLock> g(s.lock);
    if (!s.base) return false;
    std::uint32_t m = s.avail() < k ? s.avail() : k;
    s.set_top(s.top - m);
    for (std::uint32_t i = 0; i < m; ++i) out[i] = s.top[i];
    tool_scrub(s.top, m);
    r->got = m;
    r->node = s.node;
    return true;
  }
  static bool push_batch(SlotTable t, void* const* in, std::uint32_t k, std::uint32_t node) {
    CpuSlot& s = t.slots[current_cpu()];
    LockGuard<SpinLock> g(s.lock);
    if (s.node != node || !s.base || s.capacity() - s.avail() < k) return false;
    for (std::uint32_t i = 0; i < k; ++i) s.top[i] = in[i];
    s.set_top(s.top + k);
    return true;
  }
};

struct RseqSlots {
  static int cpu() { return rseq_current_cpu(); }

  static bool pop(SlotTable t, void** out) {
    for (;;) {
      int r = rseq_pop(t.slots, t.n, out);
      if (r != kRseqAbort) return r == kRseqOk;
      rseq_count_abort();
    }
  }
  static bool push(SlotTable t, void* obj, std::uint32_t node) {
    for (;;) {
      int r = rseq_push(t.slots, t.n, obj, node);
      if (r != kRseqAbort) return r == kRseqOk;
      rseq_count_abort();
    }
  }
  static bool pop_batch(SlotTable t, void** out, std::uint32_t k, RseqBatchResult* res) {
    for (;;) {
      int r = rseq_pop_batch(t.slots, t.n, out, k, res);
      if (r != kRseqAbort) return r == kRseqOk;
      rseq_count_abort();
    }
  }
  static bool push_batch(SlotTable t, void* const* in, std::uint32_t k, std::uint32_t node) {
    for (;;) {
      int r = rseq_push_batch(t.slots, t.n, in, k, node);
      if (r != kRseqAbort) return r == kRseqOk;
      rseq_count_abort();
    }
  }
};

// Remote-operation guard (see contract).
class NS_SCOPED_CAPABILITY SlotStop {
 public:
  SlotStop(CpuSlot& s, int cpu) NS_ACQUIRE(s.lock);
  ~SlotStop() NS_RELEASE();
  SlotStop(const SlotStop&) = delete;
  SlotStop& operator=(const SlotStop&) = delete;

 private:
  CpuSlot& s_;
};

// `entries` is an entries block (its ArrayHeader filled in) with room for
// header->size pointers; the array starts empty with `capacity` entries usable.
void slot_attach(CpuSlot& s, void** entries, std::uint32_t capacity) NS_REQUIRES(s.lock);
// Removes the entries block; *avail receives how many objects it holds
// (entries [0, *avail) of the returned block).
void** slot_detach(CpuSlot& s, std::uint32_t* avail) NS_REQUIRES(s.lock);

// Moves the array into `entries` (header filled in, room for at least the
// array's capacity): its objects, capacity and locked hits come along, and
// the counters read the same after. Returns the old block, which the caller
// frees after its SlotStop ends. Caller holds the slot's SlotStop (under
// RseqSlots the lock alone would let a critical section use the old block).
void** slot_move(CpuSlot& s, void** entries) NS_REQUIRES(s.lock);

// Fences the CPU `cpu` (membarrier, RSEQ flavour): every critical section
// that was running there has committed or aborted when this returns.
void fence_cpu(int cpu);

}  // namespace numaslab::detail
