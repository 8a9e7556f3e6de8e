// Shared helpers for the cache-layer tests.
//
// Every TEST runs in its own process under ctest, so each one initialises its
// own topology (usually sim:2x2: CPUs 0,1 on node 0 and 2,3 on node 1).
// Internal state is read through the detail:: types, always under the lock
// that guards it. numaslab_cache derives from detail::Cache without adding
// members, so a numaslab_cache* and its Cache* are the same address.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "cache/alien_cache.h"
#include "cache/cache.h"
#include "cache/kmalloc.h"
#include "cache/registry.h"
#include "numaslab/numaslab.h"
#include "page/page_map.h"
#include "support/report.h"

namespace numaslab::detail::testing_cache {

inline Cache* raw(numaslab_cache* c) { return reinterpret_cast<Cache*>(c); }
inline numaslab_cache* pub(Cache* c) { return reinterpret_cast<numaslab_cache*>(c); }

// No background reaper: these tests count objects in arrays exactly, and a
// reaper pass would move them. (Options are read once, at first use, so this
// must come before anything initialises numaslab.)
inline void no_reaper() { setenv("NUMASLAB_REAP", "0", 1); }

inline void init_sim(const char* spec = "sim:2x2") {
  no_reaper();
  ASSERT_EQ(numaslab_init(spec), 0) << spec;
  ASSERT_STREQ(numaslab_topology_mode(), "sim");
}

using test_support::verify;
using test_support::VerifyResult;
#define EXPECT_VERIFY_OK()                                                     \
  do {                                                                         \
    auto vr_ = ::numaslab::detail::testing_cache::verify();                    \
    EXPECT_EQ(vr_.errors, 0) << vr_.report;                                    \
    EXPECT_NE(vr_.report.find("verify: OK"), std::string::npos) << vr_.report; \
  } while (0)

// Per-CPU slot state, read under the slot lock. Free hits are derived
// (cpu/cpu_slots.h), exact at the quiescent points where tests read them.
struct SlotStats {
  std::uint64_t alloc_hit = 0, alloc_miss = 0, free_hit = 0, free_miss = 0;
  std::uint64_t remote_frees = 0, alien_overflows = 0;
};
struct SlotView {
  SlotStats stats;
  bool has_array = false;
  // limit: the cache's; size: entries the CPU's block holds (<= limit).
  std::uint32_t avail = 0, limit = 0, size = 0, capacity = 0, batchcount = 0, touched = 0;
};
inline SlotView slot_view(Cache* c, int cpu) NS_NO_THREAD_SAFETY_ANALYSIS {
  SlotView v;
  CpuSlot& s = c->slot(cpu);
  LockGuard<SpinLock> g(s.lock);
  v.stats.alloc_hit = s.slot_read_hits();
  v.stats.alloc_miss = slot_read(&s.stats.alloc_miss);
  v.stats.free_hit = s.free_hits();
  v.stats.free_miss = slot_read(&s.stats.free_miss);
  v.stats.remote_frees = slot_read(&s.stats.remote_frees);
  v.stats.alien_overflows = slot_read(&s.stats.alien_overflows);
  if (s.base) {
    v.has_array = true;
    v.avail = s.avail();
    v.limit = c->limit.load();
    v.size = s.size();
    v.capacity = s.capacity();
    v.batchcount = s.batchcount();
    v.touched = s.idle_hint() ? 0 : 1;
  }
  return v;
}

// Node lists state, read under the list_lock (alien avail under its lock).
struct NodeView {
  bool exists = false;
  std::uint64_t free_objects = 0, free_limit = 0;
  std::size_t partial = 0, full = 0, free = 0;
  NodeStats stats;
  bool has_shared = false;
  std::uint32_t shared_avail = 0, shared_limit = 0;
  bool has_alien = false;
  std::uint32_t alien_avail[kMaxNodes] = {};
};
inline NodeView node_view(Cache* c, int node) NS_NO_THREAD_SAFETY_ANALYSIS {
  NodeView v;
  NodeLists* nl = c->node(node);
  if (!nl) return v;
  v.exists = true;
  AlienArray** al;
  {
    LockGuard<SpinLock> g(nl->list_lock);
    v.free_objects = nl->free_objects;
    v.free_limit = nl->free_limit;
    v.partial = nl->partial.count;
    v.full = nl->full.count;
    v.free = nl->free.count;
    v.stats = nl->stats;
    if (ArrayCache* sh = nl->shared.load()) {
      v.has_shared = true;
      v.shared_avail = sh->avail;
      v.shared_limit = sh->limit;
    }
    al = nl->alien.load();
  }
  if (al) {
    v.has_alien = true;
    for (int m = 0; m < topology().num_nodes(); ++m) {
      if (AlienArray* a = al[m]) {
        LockGuard<SpinLock> g(a->lock);
        v.alien_avail[m] = a->ac.avail;
      }
    }
  }
  return v;
}

// Sum of slabs grown over all nodes.
inline std::uint64_t slabs_grown(Cache* c) {
  std::uint64_t n = 0;
  for (int i = 0; i < topology().num_nodes(); ++i) n += node_view(c, i).stats.grown;
  return n;
}

inline Cache* find_cache(const char* name) NS_NO_THREAD_SAFETY_ANALYSIS {
  LockGuard<Mutex> g(registry().mutex);
  return cache_find(name);
}

inline std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

}  // namespace numaslab::detail::testing_cache
