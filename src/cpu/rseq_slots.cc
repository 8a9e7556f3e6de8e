#include "cpu/rseq_slots.h"

#include <sys/auxv.h>

#include <atomic>
#include <cstddef>

#include "base/check.h"
#include "base/format.h"
#include "base/sanitizer.h"
#include "cpu/slots.h"
#include "platform/platform.h"

namespace numaslab::detail {

SlotsPolicy g_slots_policy = SlotsPolicy::kLocked;
bool g_fast_paths = false;
// A copy of glibc's __rseq_offset for the fast paths (one load, no GOT).
extern "C" {
__attribute__((visibility("hidden"))) long ns_rseq_offset = 0;
}

namespace {

constexpr int kMembarrierCmdPrivateExpeditedRseq = 128;
constexpr int kMembarrierCmdRegisterPrivateExpeditedRseq = 256;
constexpr unsigned kMembarrierCmdFlagCpu = 1;

std::atomic<std::uint64_t> g_aborts{0};

long membarrier(int cmd, unsigned flags, int cpu) { return platform().membarrier(cmd, flags, cpu); }

#if defined(__SANITIZE_THREAD__)
constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif
#else
constexpr bool kThreadSanitizer = false;
#endif

#if defined(NUMASLAB_ASAN)  // base/sanitizer.h
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif

}  // namespace

#if defined(__x86_64__)
extern "C" const unsigned int __rseq_size;
#endif

const char* slots_policy_name() { return g_slots_policy == SlotsPolicy::kRseq ? "rseq" : "locked"; }

bool rseq_enabled() { return g_slots_policy == SlotsPolicy::kRseq; }

void slots_select(bool allow_rseq, bool fast_paths, char* why, std::size_t len) {
  g_slots_policy = SlotsPolicy::kLocked;
  g_fast_paths = false;
#if defined(__x86_64__)
  // Under every policy: the fast paths run (and fall back) whatever it is.
  ns_rseq_offset = __rseq_offset;
  if (!allow_rseq) {
    format(why, len, "rseq not wanted here (sim mode or NUMASLAB_RSEQ=0)");
    return;
  }
  if (kThreadSanitizer) {
    // ThreadSanitizer cannot see hand-offs made by inline asm: it would report
    // every object passed between threads through a per-CPU array.
    format(why, len, "ThreadSanitizer build");
    return;
  }
  if (__rseq_size == 0 || static_cast<std::int32_t>(rseq_area()->cpu_id) < 0) {
    format(why, len, "glibc has not registered rseq (GLIBC_TUNABLES, valgrind or old kernel)");
    return;
  }
  if (membarrier(kMembarrierCmdRegisterPrivateExpeditedRseq, 0, 0) != 0) {
    format(why, len, "membarrier RSEQ fences unavailable");
    return;
  }
  g_slots_policy = SlotsPolicy::kRseq;
  g_fast_paths = fast_paths && !kAddressSanitizer;
  format(why, len, "glibc rseq area, membarrier fences%s",
         g_fast_paths        ? ", fast paths"
         : kAddressSanitizer ? ", no fast paths (ASan build)"
                             : ", no fast paths (NUMASLAB_CHECK=full)");
#else
  (void)allow_rseq;
  (void)fast_paths;
  format(why, len, "rseq critical sections exist for x86-64 only");
#endif
}

int rseq_current_cpu() {
#if defined(__x86_64__)
  if (rseq_enabled()) {
    auto c = static_cast<std::int32_t>(__atomic_load_n(&rseq_area()->cpu_id, __ATOMIC_RELAXED));
    if (c >= 0 && c < topology().possible_cpus()) return c;
  }
#endif
  // Slow path only (rseq off or its CPU out of range): through the seam.
  const int c = platform().getcpu();
  return c >= 0 && c < topology().possible_cpus() ? c : 0;
}

void fence_cpu(int cpu) {
  // An offline CPU runs nothing: the call returns at once.
  long rc = membarrier(kMembarrierCmdPrivateExpeditedRseq, kMembarrierCmdFlagCpu, cpu);
  NS_CHECK(rc == 0, "membarrier fence of CPU %d failed (rc %ld)", cpu, rc);
}

SlotStop::SlotStop(CpuSlot& s, int cpu) : s_(s) {
  s.lock.lock();
  if (g_slots_policy != SlotsPolicy::kRseq) return;
  __atomic_fetch_or(&s.stopped, kStopRemote, __ATOMIC_SEQ_CST);
  // After the fence no critical section that saw the slot running can still
  // commit on `cpu` — also when it has no array yet: a section that read
  // `stopped` before our store could otherwise see half of an install (the
  // new cap with the old, null top).
  fence_cpu(cpu);
}

SlotStop::~SlotStop() {
  if (g_slots_policy == SlotsPolicy::kRseq)
    __atomic_fetch_and(&s_.stopped, static_cast<std::uint8_t>(~kStopRemote), __ATOMIC_RELEASE);
  s_.lock.unlock();
}

void slot_attach(CpuSlot& s, void** entries, std::uint32_t capacity) {
  NS_CHECK(s.base == nullptr, "slot_attach: the CPU already has an array");
  __atomic_store_n(&s.top, entries, __ATOMIC_RELAXED);
  __atomic_store_n(&s.cap, entries + capacity, __ATOMIC_RELAXED);
  // base last (release): a reader that sees an array sees its bounds.
  __atomic_store_n(&s.base, entries, __ATOMIC_RELEASE);
}

void** slot_detach(CpuSlot& s, std::uint32_t* avail) {
  void** entries = s.base;
  if (!entries) {
    *avail = 0;
    return nullptr;
  }
  __atomic_fetch_add(&s.alloc_hits, s.header()->locked_hits, __ATOMIC_RELAXED);
  *avail = s.avail();
  __atomic_store_n(&s.base, static_cast<void**>(nullptr), __ATOMIC_RELEASE);
  __atomic_store_n(&s.cap, static_cast<void**>(nullptr), __ATOMIC_RELAXED);
  __atomic_store_n(&s.top, static_cast<void**>(nullptr), __ATOMIC_RELAXED);
  return entries;
}

void** slot_move(CpuSlot& s, void** entries) {
  void** old = s.base;
  NS_CHECK(old != nullptr, "slot_move: the CPU has no array");
  auto* oh = reinterpret_cast<ArrayHeader*>(old) - 1;
  auto* nh = reinterpret_cast<ArrayHeader*>(entries) - 1;
  const auto avail = static_cast<std::uint32_t>(s.top - old);
  const auto cap = static_cast<std::uint32_t>(s.cap - old);
  NS_CHECK(cap <= nh->size, "slot_move: %u entries do not fit a block of %u", cap, nh->size);
  for (std::uint32_t i = 0; i < avail; ++i) entries[i] = old[i];
  nh->batchcount = oh->batchcount;
  nh->idle_visits = oh->idle_visits;
  nh->locked_hits = oh->locked_hits;
  __atomic_store_n(&s.top, entries + avail, __ATOMIC_RELAXED);
  __atomic_store_n(&s.cap, entries + cap, __ATOMIC_RELAXED);
  __atomic_store_n(&s.base, entries, __ATOMIC_RELEASE);
  return old;
}

std::uint64_t rseq_aborts() { return g_aborts.load(std::memory_order_relaxed); }
void rseq_count_abort() { g_aborts.fetch_add(1, std::memory_order_relaxed); }

}  // namespace numaslab::detail
