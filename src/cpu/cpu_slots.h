// numaslab — per-CPU array caches (the kernel's struct array_cache for one
// CPU) and how a thread reaches "its" CPU.
//
// Contract:
//  * Every cache has one CpuSlot per *possible* CPU, and at least one per CPU
//    the kernel may report (cache-line aligned, so two CPUs never share a
//    line). The slot *is* the CPU's array: its first line holds everything an
//    operation reads — the stack pointer `top`, the bounds, the node — and the
//    entries live in a node-local block of `size` pointers (`base`).
//      base <= top <= cap <= base + size;  avail = top - base;
//    (size, batchcount and the reaper's idle count head the block:
//    ArrayHeader, just below base[0].)
//      capacity = cap - base  (<= the cache's limit, grown within the CPU's
//      byte budget, see cache/cache.h).
//    A CPU without an array (down, or not yet prepared) has base = top = cap =
//    nullptr.
//  * `stopped` holds two bits, always read *before* the array in a critical
//    section: kStopRemote while a SlotStop owns the slot, kStopFast for good
//    when the hand-written fast paths may not use the slots (LockedSlots,
//    NUMASLAB_CHECK=full, sanitizer builds). The fast paths fall back on any
//    bit; the C++ critical sections on kStopRemote only.
//  * Two policies give the exclusivity the kernel gets from "IRQs off on the
//    owning CPU" (chosen once at start-up, slots_policy()), behind one
//    interface (cpu/slots.h):
//    LockedSlots — an operation on a CPU's array holds the slot's lock;
//    works for real and virtual CPUs (several threads may share one).
//    RseqSlots — operations are restartable sequences on the CPU the thread
//    runs on (cpu/rseq_slots.h), with no lock and no atomic instruction.
//    A remote operation (hotplug, drain, tune, reap, verify, capacity change)
//    holds a SlotStop (cpu/slots.h): the slot's lock and, under RseqSlots,
//    kStopRemote set and the CPU fenced.
//  * current_cpu(): real/map modes ask the kernel (sched_getcpu, backed by
//    rseq; the installed platform's getcpu when it is not the real one);
//    sim mode returns the thread's virtual CPU, assigning one round-robin
//    on first use and migrating — same node first — when its CPU has gone
//    offline, as the kernel migrates tasks.
// Lock order: registry → slot → alien → list_lock (base/lock.h).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/lock.h"
#include "topology/topology.h"

namespace numaslab::detail {

// Slot statistics besides the hit counter: written by slow paths and remote
// operations with relaxed atomic adds (a slow path under RseqSlots holds no
// lock), read the same way.
struct CpuStats {
  std::uint64_t alloc_miss = 0;
  std::uint64_t free_miss = 0;
  std::uint64_t remote_frees = 0;     // frees of objects whose home is another node
  std::uint64_t alien_overflows = 0;  // alien arrays found full and drained home
};

// Bits of CpuSlot::stopped. The fast paths take the slow path when any bit
// is set; the C++ critical sections (cpu/rseq_slots.h) only for kStopRemote.
inline constexpr std::uint8_t kStopRemote = 1;  // a SlotStop owns the slot
inline constexpr std::uint8_t kStopFast = 2;    // the fast paths may not use it

// Header of a CPU's entries block, just below base[0].
struct ArrayHeader {
  std::uint32_t size;  // entries allocated (the cache's limit when installed)
  std::uint32_t batchcount;
  std::uint32_t idle_visits;  // reaper visits without use; guarded by the slot lock
  std::uint32_t drain_seen;   // low bits of allocs() at the last idle drain (cache.h); slot lock
  // LockedSlots' single-object pops (guarded by the slot lock); folded into
  // alloc_hits when the array is detached. Kept apart from alloc_hits so a
  // test can tell which policy served an allocation.
  std::uint64_t locked_hits;
};
static_assert(sizeof(ArrayHeader) == 24);

struct alignas(kCacheLine) CpuSlot {
  // ---- line 0: what an operation touches. Offsets are fixed (the fast
  // paths and cpu/rseq_slots.h hard-code them; static_asserts check). Under
  // LockedSlots guarded by `lock`; under RseqSlots written by critical
  // sections of the CPU's own threads (top, alloc_hits) and by the holder of
  // a SlotStop (everything). Not annotated: the analysis can see neither.
  void** top = nullptr;           // 0: next free entry; the commit field
  void** base = nullptr;          // 8: entries[0]; nullptr: no array
  void** cap = nullptr;           // 16: capacity end
  std::uint16_t node = 0;         // 24: node of this CPU; immutable
  std::uint8_t stopped = 0;       // 26: kStop* bits (read before the array)
  std::uint8_t zero_ = 0;         // 27: always 0: the fast free compares the
                                  //     32 bits at 24 with the object's node
  std::uint32_t seen_allocs = 0;  // 28: reaper: low bits of allocs() at its last visit
  std::uint64_t alloc_hits = 0;   // 32: single-object pops by critical
                                  //     sections (an aborted CS may count)
  // 40: objects moved into the array minus objects moved out by anything
  // but a single push or pop (refill, flush, drain, detach); free hits are
  // derived: free_hit = avail + alloc_hits - moved, exact at a quiescent
  // point, so no counter costs an instruction on the free path.
  std::int64_t moved = 0;
  std::uint64_t spare_[2] = {};
  // ---- line 1: slow paths and remote operations.
  SpinLock lock{LockRank::kSlot};
  CpuStats stats;

  ArrayHeader* header() const { return reinterpret_cast<ArrayHeader*>(base) - 1; }
  // Relaxed atomic reads: slow paths read them as hints without the lock.
  std::uint32_t avail() const {
    void** b = __atomic_load_n(&base, __ATOMIC_RELAXED);
    return b ? static_cast<std::uint32_t>(__atomic_load_n(&top, __ATOMIC_RELAXED) - b) : 0;
  }
  std::uint32_t capacity() const {
    void** b = __atomic_load_n(&base, __ATOMIC_RELAXED);
    return b ? static_cast<std::uint32_t>(__atomic_load_n(&cap, __ATOMIC_RELAXED) - b) : 0;
  }
  void set_top(void** t) { __atomic_store_n(&top, t, __ATOMIC_RELAXED); }
  void set_cap(void** c) { __atomic_store_n(&cap, c, __ATOMIC_RELAXED); }
  std::uint32_t size() const { return base ? header()->size : 0; }
  std::uint32_t batchcount() const { return base ? header()->batchcount : 0; }
  bool has_array() const { return __atomic_load_n(&base, __ATOMIC_ACQUIRE) != nullptr; }
  // Allocations served by this array so far (hits and refills): the reaper's
  // "touched" is "this changed since my last visit".
  std::uint64_t allocs() const {
    return slot_read_hits() + __atomic_load_n(&stats.alloc_miss, __ATOMIC_RELAXED);
  }
  // Not used since the reaper's last visit (the kernel's !ac->touched).
  bool idle_hint() const {
    return static_cast<std::uint32_t>(allocs()) == __atomic_load_n(&seen_allocs, __ATOMIC_RELAXED);
  }
  std::uint64_t free_hits() const {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(avail()) +
                                      static_cast<std::int64_t>(slot_read_hits()) -
                                      __atomic_load_n(&moved, __ATOMIC_RELAXED));
  }
  // Allocation hits of both policies. Reads the entries block: caller holds
  // the slot lock (or knows the array cannot be detached).
  std::uint64_t slot_read_hits() const {
    return __atomic_load_n(&alloc_hits, __ATOMIC_RELAXED) +
           (base ? __atomic_load_n(&header()->locked_hits, __ATOMIC_RELAXED) : 0);
  }
};
static_assert(sizeof(CpuSlot) == 128, "critical sections index slots by cpu << 7");
static_assert(offsetof(CpuSlot, top) == 0 && offsetof(CpuSlot, base) == 8 &&
              offsetof(CpuSlot, cap) == 16 && offsetof(CpuSlot, node) == 24 &&
              offsetof(CpuSlot, stopped) == 26 && offsetof(CpuSlot, zero_) == 27 &&
              offsetof(CpuSlot, alloc_hits) == 32 && offsetof(CpuSlot, moved) == 40 &&
              offsetof(CpuSlot, lock) == 64);

// Relaxed atomic add to a slot counter (slow paths, any policy).
inline void slot_count(std::uint64_t* counter, std::uint64_t n = 1) {
  __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}
inline void slot_moved(CpuSlot& s, std::int64_t n) {
  __atomic_fetch_add(&s.moved, n, __ATOMIC_RELAXED);
}
inline std::uint64_t slot_read(const std::uint64_t* counter) {
  return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

enum class SlotsPolicy : std::uint8_t { kLocked, kRseq };
extern SlotsPolicy g_slots_policy;  // set once at start-up, before any cache exists
inline SlotsPolicy slots_policy() { return g_slots_policy; }
const char* slots_policy_name();

// True when the hand-written fast paths may use the slots: RseqSlots at
// NUMASLAB_CHECK=fast outside sanitizer builds. Set once at start-up; every
// slot is constructed with kStopFast when it is false.
extern bool g_fast_paths;
inline bool fast_paths() { return g_fast_paths; }

// Chooses the policy for this process: RseqSlots in real/map modes when the
// CPU, glibc's rseq registration and membarrier allow it and allow_rseq is
// set; LockedSlots otherwise. Opens the fast paths when `fast_paths` is set
// and RseqSlots was chosen. Writes a reason to `why` (for the verbose line).
void slots_select(bool allow_rseq, bool fast_paths, char* why, std::size_t len);

// The process-wide topology (initialised by the cache layer's init).
Topology& topology();

// CPU the calling thread runs on (see contract). Always a valid possible CPU;
// in sim mode always an online one.
int current_cpu();

// sim mode: binds the calling thread to virtual CPU `cpu`. Returns 0, or
// -EINVAL (not sim mode, no such CPU) / -ENODEV (CPU offline).
int bind_thread_to_cpu(int cpu);

// Number of sim-mode migrations forced by CPUs going down.
std::uint64_t sim_migrations();

}  // namespace numaslab::detail
