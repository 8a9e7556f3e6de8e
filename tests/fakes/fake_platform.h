// A test implementation of the platform seam (src/platform/platform.h) that
// counts every system call numaslab makes and fails the ones a test asks
// for: "skip s calls of this kind, then fail the next n". Everything else
// goes to the real platform.
//
// Install with FakePlatform::install() at a quiescent point (before
// numaslab starts, or with no other thread inside numaslab); uninstall()
// restores the real platform. The state is process-wide (the seam is).
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "platform/platform.h"

namespace numaslab::testing_fakes {

enum class Call : int { kMap = 0, kAdvise, kBind, kThread, kCount };

class FakePlatform {
 public:
  static constexpr std::uint64_t kForever = ~std::uint64_t{0} >> 1;

  static void install() { detail::set_platform(&kFake); }
  static void uninstall() {
    detail::set_platform(nullptr);
    stop_failing();
  }
  // The next `count` calls of kind k after skipping `skip` of them fail.
  static void fail(Call k, std::uint64_t count, std::uint64_t skip = 0) {
    state(k).fail_count.store(0);
    state(k).skip.store(skip);
    state(k).fail_count.store(count);
  }
  static void fail_next(Call k, std::uint64_t count) { fail(k, count, 0); }
  static void stop_failing() {
    for (int i = 0; i < static_cast<int>(Call::kCount); ++i)
      state(static_cast<Call>(i)).fail_count.store(0);
  }
  static std::uint64_t calls(Call k) { return state(k).calls.load(); }
  static std::uint64_t failures(Call k) { return state(k).failures.load(); }
  static std::uint64_t pending(Call k) { return state(k).fail_count.load(); }
  static void reset_counts() {
    for (int i = 0; i < static_cast<int>(Call::kCount); ++i) {
      state(static_cast<Call>(i)).calls.store(0);
      state(static_cast<Call>(i)).failures.store(0);
    }
  }

 private:
  struct State {
    std::atomic<std::uint64_t> calls{0}, failures{0}, skip{0}, fail_count{0};
  };
  static State& state(Call k) {
    static State s[static_cast<int>(Call::kCount)];
    return s[static_cast<int>(k)];
  }
  // Counts the call; true if it must fail.
  static bool should_fail(Call k) {
    State& s = state(k);
    s.calls.fetch_add(1);
    if (s.fail_count.load() == 0) return false;
    std::uint64_t skip = s.skip.load();
    while (skip > 0)
      if (s.skip.compare_exchange_weak(skip, skip - 1)) return false;
    std::uint64_t n = s.fail_count.load();
    while (n > 0) {
      if (s.fail_count.compare_exchange_weak(n, n == kForever ? n : n - 1)) {
        s.failures.fetch_add(1);
        return true;
      }
    }
    return false;
  }

  static void* map(std::size_t len, bool reserve) {
    if (should_fail(Call::kMap)) {
      errno = ENOMEM;
      return nullptr;
    }
    return detail::real_platform().map(len, reserve);
  }
  static int unmap(void* p, std::size_t len) { return detail::real_platform().unmap(p, len); }
  static int advise(void* p, std::size_t len) {
    if (should_fail(Call::kAdvise)) {
      errno = EAGAIN;
      return -1;
    }
    return detail::real_platform().advise_dontneed(p, len);
  }
  static long bind(void* p, std::size_t len, const unsigned long* mask, unsigned long maxnode) {
    if (should_fail(Call::kBind)) {
      errno = EIO;
      return -1;
    }
    return detail::real_platform().bind_preferred(p, len, mask, maxnode);
  }
  static int thread(pthread_t* tid, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
    if (should_fail(Call::kThread)) return EAGAIN;
    return detail::real_platform().thread_create(tid, attr, fn, arg);
  }
  static void* remap(void* p, std::size_t old_len, std::size_t new_len, void* to) {
    if (should_fail(Call::kMap)) {
      errno = ENOMEM;
      return nullptr;
    }
    return detail::real_platform().remap(p, old_len, new_len, to);
  }
  static constexpr detail::Platform kFake{map, unmap, advise, bind, thread, remap};
};

// Fails every mapping while alive (out of memory), then restores the real
// platform's behaviour.
struct NoNewMemory {
  NoNewMemory() {
    FakePlatform::install();
    FakePlatform::fail_next(Call::kMap, FakePlatform::kForever);
  }
  ~NoNewMemory() { FakePlatform::stop_failing(); }
};

}  // namespace numaslab::testing_fakes
