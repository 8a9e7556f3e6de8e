// numaslab-stress — the optional tuner thread (--tune-interval-ms): retunes
// caches' array sizes (numaslab_tune / numaslab_slabinfo_write, the kernel's
// do_tune_cpucache) and runs full reaps (numaslab_reap) while the load and the
// hotplug thread are running: array replacement racing with CPU events.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "stress.h"
#include "worker.h"

namespace stress {

class Tuner {
 public:
  Tuner(Shared* shared, std::uint64_t seed);
  void start();
  void stop_and_join();
  std::uint64_t tunes() const { return tunes_.load(std::memory_order_relaxed); }
  std::uint64_t reaps() const { return reaps_.load(std::memory_order_relaxed); }
  std::uint64_t reaped_bytes() const { return reaped_bytes_.load(std::memory_order_relaxed); }
  const char* in_call() const { return in_call_.load(std::memory_order_relaxed); }
  std::int64_t in_call_since_ms() const { return call_since_.load(std::memory_order_relaxed); }

 private:
  void run();
  void step();
  void call(const char* what) {
    call_since_.store(now_ms(), std::memory_order_relaxed);
    in_call_.store(what, std::memory_order_relaxed);
  }

  Shared* const sh_;
  Rng rng_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::atomic<std::uint64_t> tunes_{0}, reaps_{0}, reaped_bytes_{0};
  std::atomic<const char*> in_call_{nullptr};
  std::atomic<std::int64_t> call_since_{0};
};

}  // namespace stress
