// Tests for base/clock.h: the coarse clock, sleep_ms, yield_cpu.
#include "base/clock.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace numaslab::detail {
namespace {

std::uint64_t libc_coarse_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
}

// The same clock as libc's CLOCK_MONOTONIC_COARSE, read between two of its
// readings.
TEST(Clock, CoarseClockIsTheMonotonicCoarseClock) {
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t before = libc_coarse_ms();
    const std::uint64_t now = coarse_clock_ms();
    const std::uint64_t after = libc_coarse_ms();
    ASSERT_LE(before, now);
    ASSERT_LE(now, after);
  }
}

// sleep_ms sleeps at least that long, and the coarse clock sees it (its
// resolution is a tick: a few milliseconds).
TEST(Clock, SleepLastsAtLeastItsTimeOnBothClocks) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t c0 = coarse_clock_ms();
  sleep_ms(30);
  const auto slept = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(slept, std::chrono::milliseconds(30));
  EXPECT_GE(coarse_clock_ms() - c0, 20u);
  const auto t1 = std::chrono::steady_clock::now();
  sleep_ms(0);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::seconds(1));
}

// yield_cpu gives the CPU to another thread that wants it: with both threads
// pinned to one CPU, the other one runs within a few yields (a no-op would
// spin out its count long before a time slice ends).
TEST(Clock, YieldLetsAnotherThreadOnTheCpuRun) {
  cpu_set_t old;
  CPU_ZERO(&old);
  ASSERT_EQ(sched_getaffinity(0, sizeof old, &old), 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  std::atomic<bool> ran{false};
  std::thread other([&] { ran.store(true); });
  // The new thread inherits the pinning.
  int yields = 0;
  while (!ran.load() && yields < 1000) {
    yield_cpu();
    ++yields;
  }
  const bool ok = ran.load();
  other.join();
  ASSERT_EQ(sched_setaffinity(0, sizeof old, &old), 0);
  EXPECT_TRUE(ok) << "1000 yields and the other thread on this CPU never ran";
}

}  // namespace
}  // namespace numaslab::detail
