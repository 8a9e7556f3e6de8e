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
#include "support/report.h"
#include "support/sanitizers.h"
#include "support/stamp.h"
#include "support/threads.h"

extern "C" {
extern const unsigned int __rseq_size;  // glibc >= 2.35 (sys/rseq.h)
}
extern char** environ;

namespace numaslab::cpu_test {

using detail::LockGuard;
using detail::SpinLock;
using test_support::AffinityChurn;
using test_support::kAsan;
using test_support::kTsan;
using test_support::pin_self;
using test_support::SignalStorm;
using test_support::slabinfo_json;
using test_support::Stamp;
using test_support::stamp;
using test_support::unstamp;
using test_support::verify;
using test_support::VerifyResult;

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
