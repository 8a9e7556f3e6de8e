// numaslab-stress — shared pieces: options, clock, random numbers, the error
// log and the pause gate that gives the verifier a quiescent point.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace stress {

struct Options {
  std::string topology = "sim:2x2";
  int threads = 4;
  double seconds = 10;
  int hotplug_interval_ms = 20;
  std::uint64_t seed = 0;
  bool seed_given = false;
  std::string json_path;
  std::string plot_path;  // --plot FILE.png: empty for none
  double verify_interval_s = 2;
  bool real_hotplug = false;
  bool no_hotplug = false;
  // Working-set targets (files per worker): the target swings between the two
  // every ws_period_ms.
  int ws_small = 16;
  int ws_large = 1024;
  int ws_period_ms = 1000;
  int node_alloc_pct = 10;  // share of allocations that name a node
  double stall_timeout_s = 30;
  bool full_slabinfo = false;
  bool strict = false;
  bool inject_corruption = false;
  int tune_interval_ms = 0;  // 0: no tuner thread
  bool inject_stall = false;  // checks the watchdog: w0 stops making progress after 1 s  // checks the checker: w0 damages one object
  bool gdb_on_stall = true;
};

// Milliseconds since the run started.
std::int64_t now_ms();
void start_clock();

// xoshiro256** seeded through splitmix64.
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  std::uint32_t below(std::uint32_t n) {  // [0, n)
    return static_cast<std::uint32_t>((next() >> 32) * n >> 32);
  }
  bool percent(unsigned p) { return below(100) < p; }
  std::uint32_t range(std::uint32_t lo, std::uint32_t hi) { return lo + below(hi - lo + 1); }

 private:
  std::uint64_t s_[4];
};

std::uint64_t mix64(std::uint64_t x);

// Counts every failed check; prints the first few to stderr with a time stamp.
class ErrorLog {
 public:
  void report(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  std::vector<std::string> first_messages() const;

 private:
  static constexpr std::uint64_t kPrintLimit = 40;
  static constexpr std::size_t kKeepLimit = 10;
  std::atomic<std::uint64_t> count_{0};
  mutable std::mutex mu_;
  std::vector<std::string> kept_;
};
ErrorLog& errors();

// Safe points. Participants (workers, the hotplug thread) call park() at a
// point where they hold no numaslab call in progress whenever
// pause_requested(); the controller's pause_all() returns once every
// participant is parked.
class PauseGate {
 public:
  void enter();  // register the calling thread as a participant
  void leave();  // and deregister it (it will park no more)
  bool pause_requested() const { return requested_.load(std::memory_order_acquire); }
  void park();
  // Sleeps up to `ms` or until a pause is requested or *stop is set.
  void nap(int ms, const std::atomic<bool>& stop);
  void wake();  // wakes nappers (after setting a stop flag)
  // Controller side. false on timeout (some participant never arrived).
  bool pause_all(double timeout_s, int* parked_out, int* participants_out);
  void resume_all();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> requested_{false};
  int participants_ = 0;
  int parked_ = 0;
  std::uint64_t generation_ = 0;
};

}  // namespace stress
