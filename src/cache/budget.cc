// The per-CPU byte budget of array capacity (cache/cache.h).
//
// Each CPU has an account of the bytes its arrays may hold: Σ over caches of
// capacity × buffer_size. Capacity grows a batch at a time when an array
// overflows or must take a refill, only if the account stays within the
// budget, and is given back when an array is trimmed by the reaper or
// detached. So the objects cached on one CPU never exceed the budget, however
// many caches there are.
#include <atomic>

#include "base/clock.h"
#include "cache/cache.h"
#include "cache/registry.h"

namespace numaslab::detail {

namespace {

std::atomic<std::uint64_t> g_cpu_bytes[kMaxCpus];
std::atomic<std::uint64_t> g_budget{std::uint64_t{4} << 20};
// When each CPU last took room from other arrays (coarse ms; cache.h).
std::atomic<std::uint64_t> g_last_reclaim_ms[kMaxCpus];

bool reserve(int cpu, std::uint64_t bytes) {
  std::atomic<std::uint64_t>& acct = g_cpu_bytes[cpu];
  const std::uint64_t budget = g_budget.load(std::memory_order_relaxed);
  std::uint64_t cur = acct.load(std::memory_order_relaxed);
  do {
    if (cur + bytes > budget) return false;
  } while (!acct.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed));
  return true;
}

void unreserve(int cpu, std::uint64_t bytes) {
  g_cpu_bytes[cpu].fetch_sub(bytes, std::memory_order_relaxed);
}

// A spent budget: other caches' arrays on `cpu` give back at least `want`
// bytes of room — room they do not use first, then their oldest objects go
// back to their slabs with the room they held. Arrays not used since the
// reaper's last visit go first. Without waiting: a busy registry gives
// nothing. Returns the bytes given back.
std::uint64_t reclaim(Cache* needy, int cpu, std::uint64_t want) NS_NO_THREAD_SAFETY_ANALYSIS {
  const std::uint64_t now = coarse_clock_ms();
  std::uint64_t last = g_last_reclaim_ms[cpu].load(std::memory_order_relaxed);
  if (now - last < kReclaimEveryMs ||
      !g_last_reclaim_ms[cpu].compare_exchange_strong(last, now, std::memory_order_relaxed))
    return 0;
  // An eighth of the budget at a time (at least what is asked for): the
  // room taken serves the next grows of this and other caches without
  // another reclaim.
  const std::uint64_t share = g_budget.load(std::memory_order_relaxed) / 8;
  if (want < share) want = share;
  if (!registry().mutex.try_lock()) return 0;
  std::uint64_t got = 0;
  for (int pass = 0; pass < 2 && got < want; ++pass) {
    for (Cache* c = registry().head; c && got < want; c = c->next) {
      if (c == needy || static_cast<std::uint32_t>(cpu) >= c->num_slots) continue;
      CpuSlot& s = c->slot(cpu);
      if (!s.has_array() || s.capacity() == 0 || (pass == 0 && !s.idle_hint())) continue;
      const std::uint64_t obj = c->geo.buffer_size;
      SlabQueue dead;
      {
        SlotStop stop(s, cpu);
        if (!s.base) continue;
        const std::uint32_t avail = s.avail();
        const std::uint32_t cap = s.capacity();
        const std::uint64_t unused = std::uint64_t{cap - avail} * obj;
        std::uint32_t drop = 0;
        if (unused < want - got) {
          const std::uint64_t more = (want - got - unused + obj - 1) / obj;
          drop = more < avail ? static_cast<std::uint32_t>(more) : avail;
        }
        slot_drop_oldest(c, s, avail, drop, &dead);
        capacity_set(c, s, cpu, s.avail());
        got += std::uint64_t{cap - s.capacity()} * obj;
      }
      destroy_slabs(c, &dead);
    }
  }
  registry().mutex.unlock();
  return got;
}

// The array needs more room than its entries block holds: a block twice as
// large (at least the room wanted, at most the limit), allocated unlocked,
// swapped in under a SlotStop with the objects and counters carried over,
// the old one freed after. `want` entries of budget are reserved.
// `size` and `cur` were read under the slot's lock.
bool grow_entries(Cache* c, int cpu, std::uint32_t want, std::uint32_t size, std::uint32_t cur) {
  CpuSlot& s = c->slot(cpu);
  const std::uint64_t obj = c->geo.buffer_size;
  const std::uint32_t limit = c->limit.load(std::memory_order_relaxed);
  const std::uint32_t need = cur + want;
  std::uint32_t grown = size * 2 > need ? size * 2 : need;
  if (grown > limit) grown = limit;
  void** fresh = alloc_entries(s.node, grown, 0);
  if (!fresh) {
    unreserve(cpu, want * obj);
    return false;
  }
  void** old = nullptr;
  bool done = false;
  {
    SlotStop stop(s, cpu);
    cur = s.base ? s.capacity() : 0;
    size = s.base ? s.size() : 0;
    if (s.base && size < grown && cur + want <= grown) {
      old = slot_move(s, fresh);
      s.set_cap(fresh + cur + want);
      done = true;
    }
  }
  if (!done) {
    // Detached or grown meanwhile: nothing to swap, the block goes back.
    unreserve(cpu, want * obj);
    free_entries(fresh);
    return false;
  }
  free_entries(old);
  return true;
}

}  // namespace

std::uint64_t cpu_cache_bytes(int cpu) { return g_cpu_bytes[cpu].load(std::memory_order_relaxed); }
std::uint64_t cpu_cache_budget() { return g_budget.load(std::memory_order_relaxed); }
void set_cpu_cache_budget(std::uint64_t bytes) { g_budget.store(bytes, std::memory_order_relaxed); }
void reset_cpu_cache_bytes() {
  for (auto& b : g_cpu_bytes) b.store(0, std::memory_order_relaxed);
}

bool capacity_grow(Cache* c, int cpu) {
  CpuSlot& s = c->slot(cpu);
  // Decide without the guard first (a fence costs a CPU interrupt), from the
  // slot, the cache and the account only: the entries block may be detached
  // meanwhile, and a spent budget must not cost a fence per operation.
  const std::uint32_t limit = c->limit.load(std::memory_order_relaxed);
  const std::uint32_t seen = s.capacity();
  if (!s.has_array() || seen >= limit) return false;
  const std::uint64_t obj = c->geo.buffer_size;
  // Double the capacity (at least one batch), within the limit: an array
  // reaches a large limit in a few fences, and only an array that keeps
  // overflowing or running dry gets there.
  const std::uint32_t batch = c->batchcount.load(std::memory_order_relaxed);
  std::uint32_t want = seen > batch ? seen : (batch ? batch : 1);
  if (want > limit - seen) want = limit - seen;
  const std::uint32_t wanted = want;
  while (want > 0 && !reserve(cpu, want * obj)) want /= 2;
  if (want == 0) {
    // Spent: take room from arrays that hold it idle, so that a cache that
    // starts working now is not left without an array until the reaper
    // comes round. One batch then, not a doubling: room is scarce.
    want = wanted < batch ? wanted : (batch ? batch : 1);
    if (reclaim(c, cpu, std::uint64_t{want} * obj) == 0) return false;
    while (want > 0 && !reserve(cpu, want * obj)) want /= 2;
    if (want == 0) return false;
  }
  std::uint32_t cur, size;
  {
    // Growing within the entries block needs the slot's lock but no fence: a
    // critical section that read the old cap just sees less room.
    LockGuard<SpinLock> guard(s.lock);
    cur = s.base ? s.capacity() : 0;
    size = s.base ? s.size() : 0;
    if (s.base && (cur + want <= size || size >= limit)) {
      const std::uint32_t step = cur < size ? (want < size - cur ? want : size - cur) : 0;
      if (step < want) unreserve(cpu, (want - step) * obj);
      if (step == 0) return false;
      s.set_cap(s.base + cur + step);
      return true;
    }
    if (!s.base) {
      unreserve(cpu, want * obj);
      return false;
    }
  }
  return grow_entries(c, cpu, want, size, cur);
}

void** array_detach(Cache* c, CpuSlot& s, int cpu, std::uint32_t* avail) {
  if (!s.base) {
    *avail = 0;
    return nullptr;
  }
  unreserve(cpu, std::uint64_t{s.capacity()} * c->geo.buffer_size);
  return slot_detach(s, avail);
}

void capacity_set(Cache* c, CpuSlot& s, int cpu, std::uint32_t keep) {
  const std::uint32_t cur = s.capacity();
  if (keep >= cur) return;
  if (keep < s.avail()) keep = s.avail();
  unreserve(cpu, std::uint64_t{cur - keep} * c->geo.buffer_size);
  s.set_cap(s.base + keep);
}

void entries_shrink(Cache* c, int cpu) {
  CpuSlot& s = c->slot(cpu);
  const std::uint32_t first = initial_entries(c->limit.load(std::memory_order_relaxed),
                                              c->batchcount.load(std::memory_order_relaxed));
  {
    LockGuard<SpinLock> guard(s.lock);
    if (!s.base || s.capacity() != 0 || s.size() <= first) return;
  }
  void** small = alloc_entries(s.node, first, 0);
  if (!small) return;  // the large block stays: nothing is lost
  {
    SlotStop stop(s, cpu);
    if (s.base && s.capacity() == 0 && s.size() > first) {
      void** old = slot_move(s, small);
      small = old;
    }
  }
  free_entries(small);
}

}  // namespace numaslab::detail
