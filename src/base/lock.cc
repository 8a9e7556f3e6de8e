#include "base/lock.h"

#include "base/check.h"
#include "base/clock.h"
#include "base/format.h"

namespace numaslab::detail {

std::atomic<bool> g_lock_validation{false};

namespace {

constexpr int kMaxHeld = 16;

struct Held {
  const void* lock;
  LockRank rank;
  const LockName* name;
};

struct HeldStack {
  int n;
  Held held[kMaxHeld];
};

__attribute__((tls_model("initial-exec"))) thread_local HeldStack t_held;

void describe(BufWriter& w, const LockName* name, LockRank rank) {
  w.put(name && name->kind ? name->kind : "lock");
  if (name && (name->owner || name->index >= 0)) {
    w.put('(');
    if (name->owner) w.put(name->owner);
    if (name->owner && name->index >= 0) w.put(", ");
    if (name->index >= 0) {
      w.put("#");
      w.put_u64(static_cast<std::uint64_t>(name->index));
    }
    w.put(')');
  }
  w.put(" rank ");
  w.put_u64(static_cast<unsigned>(rank));
}

}  // namespace

void validator_acquire(const void* lock, LockRank rank, const LockName* name) {
  HeldStack& s = t_held;
  for (int i = 0; i < s.n; ++i) {
    const Held& h = s.held[i];
    if (h.lock == lock || h.rank >= rank) {
      char a[160], b[160];
      BufWriter wa(a, sizeof a);
      BufWriter wb(b, sizeof b);
      describe(wa, name, rank);
      describe(wb, h.name, h.rank);
      if (h.lock == lock) fatal("lock validator: recursive acquisition of %s", a);
      fatal("lock validator: order violation: acquiring %s while holding %s", a, b);
    }
  }
  NS_CHECK(s.n < kMaxHeld, "lock validator: more than %d locks held", kMaxHeld);
  s.held[s.n++] = Held{lock, rank, name};
}

void validator_release(const void* lock) {
  HeldStack& s = t_held;
  for (int i = s.n - 1; i >= 0; --i) {
    if (s.held[i].lock == lock) {
      for (int j = i; j + 1 < s.n; ++j) s.held[j] = s.held[j + 1];
      --s.n;
      return;
    }
  }
  // A lock taken before validation was switched on: nothing recorded.
}

int validator_held_count() { return t_held.n; }

void validator_assert_not_held(LockRank rank, const char* what) {
  if (!lock_validation_enabled()) return;
  HeldStack& s = t_held;
  for (int i = 0; i < s.n; ++i) {
    if (s.held[i].rank >= rank) {
      char b[160];
      BufWriter wb(b, sizeof b);
      describe(wb, s.held[i].name, s.held[i].rank);
      fatal("lock validator: %s called while holding %s", what, b);
    }
  }
}

void SpinLock::lock_slow() {
  for (unsigned spins = 0;; ++spins) {
    if (word_.load(std::memory_order_relaxed) == 0 &&
        word_.exchange(1, std::memory_order_acquire) == 0)
      return;
    if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      yield_cpu();
    }
  }
}

}  // namespace numaslab::detail
