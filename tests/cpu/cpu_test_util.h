// Helpers for the tests of the cpu/ layer (LockedSlots / RseqSlots).
//
// Every TEST runs in its own process under ctest (gtest_discover_tests), so
// each one sets its environment and calls numaslab_init itself.
#pragma once

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "base/sanitizer.h"
#include "cache/cache.h"
#include "cpu/cpu_slots.h"
#include "cpu/rseq_slots.h"
#include "numaslab/numaslab.h"

extern "C" {
extern const unsigned int __rseq_size;  // glibc >= 2.35 (sys/rseq.h)
}
extern char** environ;

namespace numaslab::cpu_test {

using detail::LockGuard;
using detail::SpinLock;

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kTsan = true;
#else
inline constexpr bool kTsan = false;
#endif
#else
inline constexpr bool kTsan = false;
#endif

#if defined(NUMASLAB_ASAN)  // base/sanitizer.h
inline constexpr bool kAsan = true;
#else
inline constexpr bool kAsan = false;
#endif

inline detail::Cache* raw(numaslab_cache* c) { return reinterpret_cast<detail::Cache*>(c); }

// glibc registered an rseq area for the calling thread (the CSes can run).
inline bool thread_has_rseq() {
#if defined(__x86_64__)
  return __rseq_size > 0 && static_cast<std::int32_t>(detail::rseq_area()->cpu_id) >= 0;
#else
  return false;
#endif
}

inline bool policy_is(const char* name) { return std::strcmp(numaslab_slots_policy(), name) == 0; }

// numaslab_verify: {errors, report}.
struct VerifyResult {
  int errors;
  std::string report;
};
inline VerifyResult verify() {
  static char buf[1 << 16];
  int n = numaslab_verify(buf, sizeof buf);
  return VerifyResult{n, std::string(buf)};
}

inline std::string slabinfo_json() {
  std::size_t n = numaslab_slabinfo_json(nullptr, 0);
  std::string s(n + 1, '\0');
  numaslab_slabinfo_json(s.data(), s.size());
  s.resize(n);
  return s;
}

// Runs fn() with fd 2 redirected into a pipe; returns what was written.
template <class Fn>
std::string capture_stderr(Fn fn) {
  int p[2];
  if (pipe(p) != 0) return "<pipe failed>";
  fflush(stderr);
  int saved = dup(2);
  dup2(p[1], 2);
  close(p[1]);
  fn();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(p[0]);
  return out;
}

// Runs this test binary again with --gtest_filter=<filter>, the current
// environment plus `extra` ("NAME=value"; replaces variables of that name).
// Returns the child's wait status; *output gets its stdout+stderr.
inline int run_self(const std::string& filter, const std::vector<std::string>& extra,
                    std::string* output) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool replaced = false;
    for (const auto& x : extra)
      if (kv.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0) replaced = true;
    if (!replaced) env.push_back(kv);
  }
  for (const auto& x : extra) env.push_back(x);
  std::vector<char*> envp;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::string f = "--gtest_filter=" + filter;
  char* argv[] = {exe.data(), f.data(), nullptr};

  int p[2];
  if (pipe(p) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  posix_spawn_file_actions_addclose(&fa, p[0]);
  pid_t pid;
  int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  if (rc != 0) {
    close(p[0]);
    return -1;
  }
  char buf[4096];
  ssize_t n;
  output->clear();
  while ((n = read(p[0], buf, sizeof buf)) > 0) output->append(buf, static_cast<std::size_t>(n));
  close(p[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Pins the calling thread (never call it on the main thread: the watcher
// reads the main thread's affinity as the process's allowed set).
inline bool pin_self(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// Affinity churn: {0}, {1}, {0,1}, ... (CPUs 0..ncpus-1).
struct AffinityChurn {
  int ncpus;
  unsigned step = 0;
  std::chrono::steady_clock::time_point next{};
  explicit AffinityChurn(int n) : ncpus(n) {}
  void maybe(std::chrono::microseconds period) {
    auto now = std::chrono::steady_clock::now();
    if (now < next) return;
    next = now + period;
    if (ncpus < 2) return;
    unsigned k = step++ % static_cast<unsigned>(ncpus + 1);
    if (k < static_cast<unsigned>(ncpus))
      pin_self({static_cast<int>(k)});
    else {
      std::vector<int> all;
      for (int c = 0; c < ncpus; ++c) all.push_back(c);
      pin_self(all);
    }
  }
};

// A SIGUSR1 storm aimed at registered threads.
//
// The handler is async-signal-safe and never calls the allocator: the slow
// paths take spin locks and are not reentrant (a handler that interrupted a
// thread holding a list_lock would spin on it forever; the debug validator
// aborts on the recursive acquisition). With `migrate` set it moves the
// interrupted thread to the other CPU (raw sched_setaffinity): a thread
// interrupted anywhere — inside a critical section (aborted before the
// handler runs), or just before one — resumes on another CPU. That turns
// "CPU number read outside the CS" into a frequent, detectable bug.
class SignalStorm {
 public:
  static std::atomic<std::uint64_t> handled;
  static std::atomic<std::uint64_t> migrations;
  static std::atomic<bool> migrate;
  static std::atomic<int> ncpus;
  static void handler(int) {
    const int saved = errno;
    handled.fetch_add(1, std::memory_order_relaxed);
#if defined(__x86_64__)
    if (__rseq_size > 0) {
      const std::uint32_t c = __atomic_load_n(&detail::rseq_area()->cpu_id, __ATOMIC_RELAXED);
      const int n = ncpus.load(std::memory_order_relaxed);
      if (migrate.load(std::memory_order_relaxed) && n > 1 && static_cast<int>(c) < n) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((static_cast<int>(c) + 1) % n, &set);
        if (syscall(SYS_sched_setaffinity, 0, sizeof set, &set) == 0)
          migrations.fetch_add(1, std::memory_order_relaxed);
      }
    }
#endif
    errno = saved;
  }
  static void install() {
    struct sigaction sa {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);
  }
  void add_target(pthread_t t) { targets_[ntargets_++] = t; }
  void start(std::chrono::microseconds period) {
    period_ = period;
    stop_.store(false);
    thread_ = std::thread([this] { run(); });
  }
  // Call before the targets exit.
  std::uint64_t stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    return sent_;
  }

 private:
  void run() {
    timespec ts{0, static_cast<long>(period_.count()) * 1000};
    while (!stop_.load(std::memory_order_relaxed)) {
      for (int i = 0; i < ntargets_; ++i)
        if (pthread_kill(targets_[i], SIGUSR1) == 0) ++sent_;
      nanosleep(&ts, nullptr);
    }
  }
  pthread_t targets_[64];
  int ntargets_ = 0;
  std::chrono::microseconds period_{100};
  std::atomic<bool> stop_{false};
  std::uint64_t sent_ = 0;
  std::thread thread_;
};
inline std::atomic<std::uint64_t> SignalStorm::handled{0};
inline std::atomic<std::uint64_t> SignalStorm::migrations{0};
inline std::atomic<bool> SignalStorm::migrate{false};
inline std::atomic<int> SignalStorm::ncpus{1};

// Object stamps: {magic, owner, serial}. The magic word is claimed with an
// atomic exchange, so an object handed to two holders at once is caught by
// whichever claims second.
struct Stamp {
  std::atomic<std::uint64_t> magic;
  std::uint32_t owner;
  std::uint32_t size;
  std::uint64_t serial;
};
inline constexpr std::uint64_t kLive = 0x5eedc0de00000000ull;
inline constexpr std::uint64_t kDead = 0xdeadbeefdeadbeefull;
inline std::uint64_t live_magic(const void* p) {
  return kLive ^ (reinterpret_cast<std::uintptr_t>(p) >> 3);
}

// Returns false (and a reason) if the object was live already.
inline bool stamp(void* p, std::uint32_t owner, std::uint32_t size, std::uint64_t serial,
                  std::string* why) {
  auto* s = static_cast<Stamp*>(p);
  std::uint64_t old = s->magic.exchange(live_magic(p), std::memory_order_acq_rel);
  if (old == live_magic(p)) {
    *why = "object " + std::to_string(reinterpret_cast<std::uintptr_t>(p)) +
           " handed out while live (holder " + std::to_string(s->owner) + ")";
    return false;
  }
  s->owner = owner;
  s->size = size;
  s->serial = serial;
  return true;
}

// Checks the stamp and kills it before the free.
inline bool unstamp(void* p, std::uint32_t owner, std::uint32_t size, std::uint64_t serial,
                    std::string* why) {
  auto* s = static_cast<Stamp*>(p);
  if (s->owner != owner || s->size != size || s->serial != serial) {
    *why = "stamp of " + std::to_string(reinterpret_cast<std::uintptr_t>(p)) + " overwritten";
    return false;
  }
  std::uint64_t old = s->magic.exchange(kDead, std::memory_order_acq_rel);
  if (old != live_magic(p)) {
    *why = "magic of " + std::to_string(reinterpret_cast<std::uintptr_t>(p)) + " lost";
    return false;
  }
  return true;
}

// Sum of the allocation hits committed by critical sections (the fast paths
// and RseqSlots) over a cache's slots.
inline std::uint64_t rseq_hits(numaslab_cache* c) {
  detail::Cache* rc = raw(c);
  std::uint64_t n = 0;
  for (std::uint32_t i = 0; i < rc->num_slots; ++i)
    n += __atomic_load_n(&rc->slot(static_cast<int>(i)).alloc_hits, __ATOMIC_RELAXED);
  return n;
}

// Sum of the allocation hits served by LockedSlots (read under the slot locks).
inline std::uint64_t locked_hits(numaslab_cache* c) NS_NO_THREAD_SAFETY_ANALYSIS {
  detail::Cache* rc = raw(c);
  std::uint64_t n = 0;
  for (std::uint32_t i = 0; i < rc->num_slots; ++i) {
    detail::CpuSlot& s = rc->slot(static_cast<int>(i));
    LockGuard<SpinLock> g(s.lock);
    if (s.base) n += s.header()->locked_hits;
  }
  return n;
}

inline bool slot_has_array(numaslab_cache* c, int cpu) NS_NO_THREAD_SAFETY_ANALYSIS {
  detail::CpuSlot& s = raw(c)->slot(cpu);
  LockGuard<SpinLock> g(s.lock);
  return s.base != nullptr;
}

}  // namespace numaslab::cpu_test

#include "cpu/rseq_slots.h"

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
