// Which slots policy served what: glibc's rseq registration, the hit
// counters of the critical sections and of LockedSlots, and the batch pop
// with its results in two variables.
#pragma once

#include <cstdint>
#include <cstring>

#include "cpu/cpu_slots.h"
#include "cpu/rseq_slots.h"
#include "support/handles.h"

extern "C" {
extern const unsigned int __rseq_size;  // glibc >= 2.35 (sys/rseq.h)
}

namespace numaslab::test_support {

// glibc registered an rseq area for the calling thread (the CSes can run).
inline bool thread_has_rseq() {
#if defined(__x86_64__)
  return __rseq_size > 0 && static_cast<std::int32_t>(detail::rseq_area()->cpu_id) >= 0;
#else
  return false;
#endif
}

inline bool policy_is(const char* name) { return std::strcmp(numaslab_slots_policy(), name) == 0; }

// Sum of the allocation hits committed by critical sections (the fast paths
// and RseqSlots) over a cache's slots.
inline std::uint64_t rseq_hits(numaslab_cache* c) {
  Cache* rc = raw(c);
  std::uint64_t n = 0;
  for (std::uint32_t i = 0; i < rc->num_slots; ++i)
    n += __atomic_load_n(&rc->slot(static_cast<int>(i)).alloc_hits, __ATOMIC_RELAXED);
  return n;
}

// Sum of the allocation hits served by LockedSlots (read under the slot locks).
inline std::uint64_t locked_hits(numaslab_cache* c) NS_NO_THREAD_SAFETY_ANALYSIS {
  Cache* rc = raw(c);
  std::uint64_t n = 0;
  for (std::uint32_t i = 0; i < rc->num_slots; ++i) {
    CpuSlot& s = rc->slot(static_cast<int>(i));
    LockGuard<SpinLock> g(s.lock);
    if (s.base) n += s.header()->locked_hits;
  }
  return n;
}

}  // namespace numaslab::test_support

namespace numaslab::detail {

// rseq_pop_batch with its results in two variables, as the tests keep them.
inline int rseq_pop_batch(CpuSlot* base, std::uint32_t nslots, void** out, std::uint64_t k,
                          std::uint32_t* got, std::uint32_t* node) {
  RseqBatchResult r{0, 0};
  int rc = rseq_pop_batch(base, nslots, out, k, &r);
  if (rc == kRseqOk) {
    *got = r.got;
    *node = r.node;
  }
  return rc;
}

}  // namespace numaslab::detail
