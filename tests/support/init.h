// Starting numaslab for a test, and waiting for a condition.
//
// Every TEST runs in its own process under ctest (gtest_discover_tests), so
// each one sets its options and initialises its own topology. Options are
// read once, at the first numaslab call: set them before it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "numaslab/numaslab.h"

namespace numaslab::test_support {

// No background reaper: most tests count objects in arrays exactly, and a
// reaper pass in between would move them.
inline void no_reaper() { setenv("NUMASLAB_REAP", "0", 1); }

// numaslab_init(spec) with no reaper (any mode).
inline void init_no_reaper(const char* spec = "sim:2x2") {
  no_reaper();
  ASSERT_EQ(numaslab_init(spec), 0) << spec;
}

// A simulated topology (sim:2x2 by default: CPUs 0,1 on node 0 and 2,3 on
// node 1) with no reaper.
inline void init_sim(const char* spec = "sim:2x2") {
  ASSERT_NO_FATAL_FAILURE(init_no_reaper(spec));
  ASSERT_STREQ(numaslab_topology_mode(), "sim");
}

// init_sim(spec), then the calling thread bound to CPU 0. With reaper_ms > 0
// the background reaper runs instead, visiting each CPU every reaper_ms.
// Use as ASSERT_NO_FATAL_FAILURE(start("sim:2x2")).
inline void start(const char* spec, int reaper_ms = 0) {
  if (reaper_ms > 0) {
    ASSERT_EQ(setenv("NUMASLAB_REAP", "1", 1), 0);
    ASSERT_EQ(setenv("NUMASLAB_REAP_MS", std::to_string(reaper_ms).c_str(), 1), 0);
    ASSERT_EQ(setenv("NUMASLAB_RELEASE_DELAY_MS", "1", 1), 0);
    ASSERT_EQ(numaslab_init(spec), 0) << spec;
    ASSERT_STREQ(numaslab_topology_mode(), "sim");
  } else {
    ASSERT_NO_FATAL_FAILURE(init_sim(spec));
  }
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
}

// Waits (yielding) until pred() holds; false after `seconds`.
inline bool wait_until(const std::function<bool()>& pred, double seconds = 60) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Runs fn on a fresh thread bound to virtual CPU `cpu` and joins it.
inline void run_on_cpu(int cpu, const std::function<void()>& fn) {
  std::thread t([&] {
    EXPECT_EQ(numaslab_bind_thread_to_cpu(cpu), 0);
    EXPECT_EQ(numaslab_current_cpu(), cpu);
    fn();
  });
  t.join();
}

}  // namespace numaslab::test_support
