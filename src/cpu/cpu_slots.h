// numaslab — per-CPU array caches and how a thread reaches "its" CPU.
//
// Contract:
//  * Every cache has one CpuSlot per *possible* CPU (cache-line aligned, so two
//    CPUs never share a line). slot.ac is the CPU's array (the kernel's
//    cachep->array[cpu]); nullptr while the CPU is down (or before the cache
//    is fully set up) — callers then use the node layer directly.
//  * Two policies give the exclusivity the kernel gets from "IRQs off on the
//    owning CPU" (chosen once at start-up, slots_policy()):
//    LockedSlots — an operation on a CPU's array holds the slot's lock; works
//    for real CPUs (a thread may migrate while holding it — harmless, it is a
//    lock) and for virtual CPUs (several threads may share one).
//    RseqSlots (cpu/rseq_slots.h) — push/pop are restartable sequences on the
//    CPU the thread runs on, with no lock and no atomic instruction.
//    A remote operation (hotplug, drain, tune, reap, verify) takes the slot's
//    lock and, under RseqSlots, also stops the slot and fences its CPU:
//    slot_stop()/slot_start() below. Callers never assume which policy runs.
//  * current_cpu(): real/map modes ask the kernel (sched_getcpu, backed by
//    rseq); sim mode returns the thread's virtual CPU, assigning one round-
//    robin on first use and migrating — same node first — when its CPU has
//    gone offline, as the kernel migrates tasks.
// Lock order: registry → slot → alien → list_lock (base/lock.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/lock.h"
#include "slab/array_cache.h"
#include "topology/topology.h"

namespace numaslab::detail {

struct CpuStats {
  std::uint64_t alloc_hit = 0;
  std::uint64_t alloc_miss = 0;
  std::uint64_t free_hit = 0;
  std::uint64_t free_miss = 0;
  std::uint64_t remote_frees = 0;     // frees of objects whose home is another node
  std::uint64_t alien_overflows = 0;  // alien arrays found full and drained home
};

// The first 32 bytes are what an rseq critical section reads (offsets are
// fixed: cpu/rseq_slots.h hard-codes them and static_asserts check them).
struct alignas(kCacheLine) CpuSlot {
  // LockedSlots: guarded by lock. RseqSlots: changed only by the holder of
  // lock while `stopped` is set and the CPU has been fenced; read inside CSes.
  ArrayCache* ac NS_GUARDED_BY(lock) = nullptr;
  std::uint32_t stopped = 0;       // rseq: a remote operation owns the array
  std::uint32_t node = 0;          // node of this CPU; immutable
  std::uint64_t rseq_alloc_hits = 0;  // rseq: bumped inside CSes (approximate:
  std::uint64_t rseq_free_hits = 0;   // an aborted CS may have counted)
  SpinLock lock{LockRank::kSlot};
  CpuStats stats NS_GUARDED_BY(lock);
  std::uint32_t idle_visits NS_GUARDED_BY(lock) = 0;  // reaper visits without use
};
static_assert(sizeof(CpuSlot) == 128, "rseq critical sections index slots by cpu << 7");

enum class SlotsPolicy : std::uint8_t { kLocked, kRseq };
extern SlotsPolicy g_slots_policy;  // set once at start-up, before any cache exists
inline SlotsPolicy slots_policy() { return g_slots_policy; }
const char* slots_policy_name();

// Chooses the policy for this process: RseqSlots in real/map modes when the
// CPU, glibc's rseq registration and membarrier allow it and allow_rseq is
// set; LockedSlots otherwise. Writes a reason to `why` (for the verbose line).
void slots_select(bool allow_rseq, char* why, std::size_t len);

// Remote operation on a slot, with its lock held: under RseqSlots, marks it
// stopped and fences its CPU so no critical section can still commit to it;
// slot_start() lets critical sections in again. No-ops under LockedSlots.
void slot_stop(CpuSlot& s, int cpu) NS_REQUIRES(s.lock);
void slot_start(CpuSlot& s) NS_REQUIRES(s.lock);

// The process-wide topology (initialised by the cache layer's init).
Topology& topology();

// CPU the calling thread runs on (see contract). Always a valid possible CPU;
// in sim mode always an online one.
int current_cpu();

// sim mode: binds the calling thread to virtual CPU `cpu`. Returns 0, or
// -EINVAL (not sim mode, no such CPU) / -ENODEV (CPU offline).
int bind_thread_to_cpu(int cpu);

// sim mode: the thread's bound CPU or -1 (for tests and tools).
int bound_cpu();

// Number of sim-mode migrations forced by CPUs going down.
std::uint64_t sim_migrations();

}  // namespace numaslab::detail
