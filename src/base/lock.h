// numaslab — lock types and the lock-rank validator.
//
// Contract: every lock in numaslab has a LockRank; LockRank is the single
// source of lock order (DESIGN.md R5). A thread may acquire a lock only if its
// rank is strictly greater than the rank of every lock it already holds:
//
//   kPublish   (statistics publication; formats slabinfo under the registry)
//   kReaper    (one reaper at a time)
//   kRegistry  (cache chain mutex; create/destroy/tune/hotplug/verify)
//     → kSlot       (a cache's per-CPU slot, LockedSlots and remote ops)
//       → kAlien      (one alien array)
//         → kListLock   (one node's lists of one cache; a *remote* node's
//                        list_lock may be taken under an alien lock)
//           → kPages      (a node's page allocator)
//             → kSegments   (segment map / OS mappings)
//
// Two locks of the same rank are never held together: that is the rule that
// makes "free metadata into its own cache under its list_lock" (the bug the
// seed patch fixed) an immediate, named failure instead of a self-deadlock.
//
// The validator runs when kDebug, or when enabled at run time
// (set_lock_validation / NUMASLAB_LOCKCHECK=1). On a reversal or recursive
// acquisition it aborts naming both locks. It keeps a small per-thread stack
// of held locks in initial-exec TLS and never allocates.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "base/config.h"
#include "base/thread_annotations.h"

namespace numaslab::detail {

enum class LockRank : std::uint8_t {
  kPublish = 4,
  kReaper = 6,
  kRegistry = 10,
  kSlot = 20,
  kAlien = 30,
  kListLock = 40,
  kPages = 50,
  kSegments = 60,
};

// Identity of a lock for diagnostics: kind ("list_lock"), owner name (e.g. the
// cache name; must outlive the lock) and an index (node or CPU; -1 if none).
struct LockName {
  const char* kind = "lock";
  const char* owner = nullptr;
  int index = -1;
};

extern std::atomic<bool> g_lock_validation;
inline void set_lock_validation(bool on) { g_lock_validation.store(on, std::memory_order_relaxed); }
inline bool lock_validation_enabled() {
  return kDebug || g_lock_validation.load(std::memory_order_relaxed);
}

void validator_acquire(const void* lock, LockRank rank, const LockName* name);
void validator_release(const void* lock);
// Number of locks the calling thread holds (validator bookkeeping; 0 when off).
int validator_held_count();
// Aborts if the thread holds any lock of rank >= `rank`, naming `what`: the
// C API entry points that take the registry mutex call it first
// (api/numaslab_c.cc), so a call from under a numaslab lock names the entry
// point rather than two locks deep inside.
void validator_assert_not_held(LockRank rank, const char* what);

// Spin lock with backoff to sched_yield: hold times are short (a few hundred
// instructions), but on a 2-CPU machine the holder may be preempted.
class NS_CAPABILITY("mutex") SpinLock {
 public:
  constexpr SpinLock(LockRank rank, LockName name = {}) : rank_(rank), name_(name) {}
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void lock() NS_ACQUIRE() {
    if (lock_validation_enabled()) validator_acquire(this, rank_, &name_);
    if (__builtin_expect(word_.exchange(1, std::memory_order_acquire) != 0, 0)) lock_slow();
  }
  bool try_lock() NS_TRY_ACQUIRE(true) {
    if (word_.load(std::memory_order_relaxed) != 0 ||
        word_.exchange(1, std::memory_order_acquire) != 0)
      return false;
    if (lock_validation_enabled()) validator_acquire(this, rank_, &name_);
    return true;
  }
  void unlock() NS_RELEASE() {
    word_.store(0, std::memory_order_release);
    if (lock_validation_enabled()) validator_release(this);
  }
  bool is_locked() const { return word_.load(std::memory_order_relaxed) != 0; }
  // For the fork handlers only, which take every lock at once, many of one
  // rank: no validator bookkeeping.
  void fork_lock() NS_ACQUIRE() {
    if (word_.exchange(1, std::memory_order_acquire) != 0) lock_slow();
  }
  void fork_unlock() NS_RELEASE() { word_.store(0, std::memory_order_release); }
  void set_name(LockName name) { name_ = name; }
  const LockName& name() const { return name_; }

 private:
  void lock_slow();
  std::atomic<std::uint32_t> word_{0};
  LockRank rank_;
  LockName name_;
};

// Sleeping mutex for long critical sections (registry, hotplug).
class NS_CAPABILITY("mutex") Mutex {
 public:
  constexpr Mutex(LockRank rank, LockName name = {}) : rank_(rank), name_(name) {}
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() NS_ACQUIRE() {
    if (lock_validation_enabled()) validator_acquire(this, rank_, &name_);
    pthread_mutex_lock(&m_);
    owner_.store(pthread_self(), std::memory_order_relaxed);
  }
  bool try_lock() NS_TRY_ACQUIRE(true) {
    if (pthread_mutex_trylock(&m_) != 0) return false;
    owner_.store(pthread_self(), std::memory_order_relaxed);
    if (lock_validation_enabled()) validator_acquire(this, rank_, &name_);
    return true;
  }
  void unlock() NS_RELEASE() {
    owner_.store(pthread_t{}, std::memory_order_relaxed);
    pthread_mutex_unlock(&m_);
    if (lock_validation_enabled()) validator_release(this);
  }
  void fork_lock() NS_ACQUIRE() {
    pthread_mutex_lock(&m_);
    owner_.store(pthread_self(), std::memory_order_relaxed);
  }
  void fork_unlock() NS_RELEASE() {
    owner_.store(pthread_t{}, std::memory_order_relaxed);
    pthread_mutex_unlock(&m_);
  }
  bool held_by_me() const {
    return pthread_equal(owner_.load(std::memory_order_relaxed), pthread_self());
  }

 private:
  pthread_mutex_t m_ = PTHREAD_MUTEX_INITIALIZER;
  std::atomic<pthread_t> owner_{};
  LockRank rank_;
  LockName name_;
};

template <typename L>
class NS_SCOPED_CAPABILITY LockGuard {
 public:
  explicit LockGuard(L& l) NS_ACQUIRE(l) : l_(l) { l_.lock(); }
  ~LockGuard() NS_RELEASE() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  L& l_;
};

}  // namespace numaslab::detail
