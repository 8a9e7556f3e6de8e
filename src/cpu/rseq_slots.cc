#include "cpu/rseq_slots.h"

#include <sched.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>

#include "base/check.h"
#include "base/format.h"

namespace numaslab::detail {

SlotsPolicy g_slots_policy = SlotsPolicy::kLocked;

namespace {

// The layout the critical sections hard-code.
static_assert(offsetof(CpuSlot, ac) == 0);
static_assert(offsetof(CpuSlot, stopped) == 8);
static_assert(offsetof(CpuSlot, node) == 12);
static_assert(offsetof(CpuSlot, rseq_alloc_hits) == 16);
static_assert(offsetof(CpuSlot, rseq_free_hits) == 24);
static_assert(offsetof(ArrayCache, avail) == 0);
static_assert(offsetof(ArrayCache, limit) == 4);
static_assert(offsetof(ArrayCache, touched) == 12);
static_assert(sizeof(ArrayCache) == 16);

constexpr int kMembarrierCmdPrivateExpeditedRseq = 128;
constexpr int kMembarrierCmdRegisterPrivateExpeditedRseq = 256;
constexpr unsigned kMembarrierCmdFlagCpu = 1;

std::atomic<std::uint64_t> g_aborts{0};

long membarrier(int cmd, unsigned flags, int cpu) {
  return ::syscall(SYS_membarrier, cmd, flags, cpu);
}

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

}  // namespace

#if defined(__x86_64__)
extern "C" const unsigned int __rseq_size;
#endif

const char* slots_policy_name() {
  return g_slots_policy == SlotsPolicy::kRseq ? "rseq" : "locked";
}

bool rseq_enabled() { return g_slots_policy == SlotsPolicy::kRseq; }

void slots_select(bool allow_rseq, char* why, std::size_t len) {
  g_slots_policy = SlotsPolicy::kLocked;
#if defined(__x86_64__)
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
  format(why, len, "glibc rseq area, membarrier fences");
#else
  (void)allow_rseq;
  format(why, len, "rseq critical sections exist for x86-64 only");
#endif
}

int rseq_current_cpu() {
#if defined(__x86_64__)
  if (rseq_enabled()) {
    auto c = static_cast<std::int32_t>(
        __atomic_load_n(&rseq_area()->cpu_id, __ATOMIC_RELAXED));
    if (c >= 0 && c < topology().possible_cpus()) return c;
  }
#endif
  int c = sched_getcpu();
  return c >= 0 && c < topology().possible_cpus() ? c : 0;
}

void slot_stop(CpuSlot& s, int cpu) {
  if (g_slots_policy != SlotsPolicy::kRseq) return;
  __atomic_store_n(&s.stopped, 1u, __ATOMIC_SEQ_CST);
  // After the fence no critical section that saw stopped == 0 can still
  // commit on `cpu` (an offline CPU runs nothing: the call returns at once).
  long rc = membarrier(kMembarrierCmdPrivateExpeditedRseq, kMembarrierCmdFlagCpu, cpu);
  NS_CHECK(rc == 0, "membarrier fence of CPU %d failed (rc %ld)", cpu, rc);
}

void slot_start(CpuSlot& s) {
  if (g_slots_policy != SlotsPolicy::kRseq) return;
  __atomic_store_n(&s.stopped, 0u, __ATOMIC_RELEASE);
}

std::uint64_t rseq_aborts() { return g_aborts.load(std::memory_order_relaxed); }
void rseq_count_abort() { g_aborts.fetch_add(1, std::memory_order_relaxed); }

}  // namespace numaslab::detail
