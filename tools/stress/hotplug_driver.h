// numaslab-stress — the hotplug thread.
//
// Simulated hotplug (default): every interval, numaslab_cpu_down/up on a
// random CPU, biased so that it regularly takes down the last online CPU of a
// node, never the last online CPU of the machine.
// Real hotplug (--real-hotplug): writes 0/1 to cpuN/online (never CPU 0), then
// numaslab_watch_poll() so numaslab follows promptly.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "stress.h"
#include "worker.h"

namespace stress {

struct alignas(64) HotplugCounters {
  std::atomic<std::uint64_t> steps{0};
  std::atomic<std::uint64_t> ups{0};                     // successful numaslab_cpu_up / sysfs online
  std::atomic<std::uint64_t> downs{0};                   // successful numaslab_cpu_down / sysfs offline
  std::atomic<std::uint64_t> last_cpu_of_node_downs{0};  // as the tool saw them
  std::atomic<std::uint64_t> ebusy{0};
  std::atomic<std::uint64_t> ealready{0};
  std::atomic<std::uint64_t> poll_events{0};   // real: events numaslab_watch_poll reported
  std::atomic<std::uint64_t> state_lags{0};    // real: numaslab needed more than one poll
};

class HotplugDriver {
 public:
  // real: the CPUs it may write (not 0). sim: ignored.
  HotplugDriver(Shared* shared, bool real, std::vector<int> real_cpus, std::uint64_t seed);
  void start();
  void stop_and_join();
  // After stop: every CPU online again (sim: numaslab_cpu_up; real: restore
  // through sysfs and poll). Returns false (errors reported) if one stays down.
  bool bring_all_up();

  const HotplugCounters& counters() const { return ctr_; }
  bool real() const { return real_; }
  // Stall detection: the call in progress and since when (ms), or nullptr.
  const char* in_call() const { return in_call_.load(std::memory_order_relaxed); }
  std::int64_t in_call_since_ms() const { return call_since_.load(std::memory_order_relaxed); }

 private:
  void run();
  void step_sim();
  void step_real();
  int do_sim(int cpu, bool up);  // one numaslab_cpu_up/down with rc accounting
  void call(const char* what) {
    call_since_.store(now_ms(), std::memory_order_relaxed);
    in_call_.store(what, std::memory_order_relaxed);
  }
  void done() { in_call_.store(nullptr, std::memory_order_relaxed); }
  template <typename T>
  static void bump(std::atomic<T>& a) {
    a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  Shared* const sh_;
  const bool real_;
  const std::vector<int> real_cpus_;
  Rng rng_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  HotplugCounters ctr_;
  std::atomic<const char*> in_call_{nullptr};
  std::atomic<std::int64_t> call_since_{0};
};

}  // namespace stress
