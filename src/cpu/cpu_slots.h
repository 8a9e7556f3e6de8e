// numaslab — per-CPU array caches and how a thread reaches "its" CPU.
//
// Contract:
//  * Every cache has one CpuSlot per *possible* CPU (cache-line aligned, so two
//    CPUs never share a line). slot.ac is the CPU's array (the kernel's
//    cachep->array[cpu]); nullptr while the CPU is down (or before the cache
//    is fully set up) — callers then use the node layer directly.
//  * LockedSlots policy (this file): an operation on a CPU's array holds the
//    slot's lock. That gives the exclusivity the kernel gets from "IRQs off on
//    the owning CPU", in user space, for real CPUs (a thread may migrate while
//    holding the lock — harmless, it is a lock) and for virtual CPUs (several
//    threads may share one). A remote operation (hotplug, drain, tune) takes
//    the same lock. The rseq policy will implement the same operations with
//    restartable sequences; callers use only the functions below.
//  * current_cpu(): real/map modes ask the kernel (sched_getcpu, backed by
//    rseq); sim mode returns the thread's virtual CPU, assigning one round-
//    robin on first use and migrating — same node first — when its CPU has
//    gone offline, as the kernel migrates tasks.
// Lock order: registry → slot → alien → list_lock (base/lock.h).
#pragma once

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

struct alignas(kCacheLine) CpuSlot {
  SpinLock lock{LockRank::kSlot};
  ArrayCache* ac NS_GUARDED_BY(lock) = nullptr;
  CpuStats stats NS_GUARDED_BY(lock);
  std::uint32_t idle_visits NS_GUARDED_BY(lock) = 0;  // reaper visits without use
};

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
