// Thread machinery for the stress tests: pinning, affinity churn, a signal
// storm that migrates the threads it interrupts.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "cpu/rseq_slots.h"

extern "C" {
extern const unsigned int __rseq_size;  // glibc >= 2.35 (sys/rseq.h)
}

namespace numaslab::test_support {

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

}  // namespace numaslab::test_support
