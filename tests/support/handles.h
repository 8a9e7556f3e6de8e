// A public handle and the internals behind it, the registry's caches, and
// allocating and freeing a batch of a cache's objects.
//
// numaslab_cache derives from detail::Cache without adding members, so a
// numaslab_cache* and its Cache* are the same address. Internal state is
// read through the detail:: types, under the lock that guards it.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/lock.h"
#include "cache/cache.h"
#include "cache/kmalloc.h"
#include "cache/registry.h"
#include "numaslab/numaslab.h"

namespace numaslab::test_support {

using detail::AlienArray;
using detail::ArrayCache;
using detail::Cache;
using detail::CpuSlot;
using detail::LockGuard;
using detail::Mutex;
using detail::NodeLists;
using detail::SpinLock;

inline Cache* raw(numaslab_cache* c) { return reinterpret_cast<Cache*>(c); }
inline numaslab_cache* pub(Cache* c) { return reinterpret_cast<numaslab_cache*>(c); }

// n objects of c (each one checked), and all of them freed again.
inline std::vector<void*> alloc_n(numaslab_cache* c, int n) {
  std::vector<void*> v;
  for (int i = 0; i < n; ++i) {
    v.push_back(numaslab_cache_alloc(c));
    EXPECT_NE(v.back(), nullptr);
  }
  return v;
}
inline void free_all(numaslab_cache* c, std::vector<void*>& v) {
  for (void* p : v) numaslab_cache_free(c, p);
  v.clear();
}

inline std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// Every cache of the registry, in its order (under the registry mutex).
inline std::vector<Cache*> all_caches() NS_NO_THREAD_SAFETY_ANALYSIS {
  std::vector<Cache*> v;
  LockGuard<Mutex> g(detail::registry().mutex);
  for (Cache* c = detail::registry().head; c; c = c->next) v.push_back(c);
  return v;
}

inline Cache* find_cache(const char* name) NS_NO_THREAD_SAFETY_ANALYSIS {
  LockGuard<Mutex> g(detail::registry().mutex);
  return detail::cache_find(name);
}

inline Cache* kmalloc_cache_for(std::size_t bytes) {
  return detail::kmalloc_cache(detail::size_class(bytes));
}

}  // namespace numaslab::test_support
