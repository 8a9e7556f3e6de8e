#include "stress.h"

#include <cstdarg>
#include <cstdio>

namespace stress {

namespace {
std::chrono::steady_clock::time_point g_start = std::chrono::steady_clock::now();
}

void start_clock() { g_start = std::chrono::steady_clock::now(); }

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               g_start)
      .count();
}

std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

Rng::Rng(std::uint64_t seed) {
  for (auto& s : s_) {
    seed += 0x9e3779b97f4a7c15ull;
    s = mix64(seed);
  }
}

std::uint64_t Rng::next() {
  auto rotl = [](std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

ErrorLog& errors() {
  static ErrorLog log;
  return log;
}

void ErrorLog::report(const char* fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const std::uint64_t n = count_.fetch_add(1, std::memory_order_relaxed) + 1;
  std::lock_guard<std::mutex> g(mu_);
  if (kept_.size() < kKeepLimit) kept_.emplace_back(msg);
  const std::int64_t t = now_ms();
  if (n <= kPrintLimit) {
    std::fprintf(stderr, "[%3lld.%03llds] ERROR: %s\n", static_cast<long long>(t / 1000),
                 static_cast<long long>(t % 1000), msg);
  } else if (n == kPrintLimit + 1) {
    std::fprintf(stderr, "[%3lld.%03llds] ERROR: (further errors are counted, not printed)\n",
                 static_cast<long long>(t / 1000), static_cast<long long>(t % 1000));
  }
}

std::vector<std::string> ErrorLog::first_messages() const {
  std::lock_guard<std::mutex> g(mu_);
  return kept_;
}

void PauseGate::enter() {
  std::lock_guard<std::mutex> g(mu_);
  ++participants_;
}

void PauseGate::leave() {
  std::lock_guard<std::mutex> g(mu_);
  --participants_;
  cv_.notify_all();
}

void PauseGate::park() {
  std::unique_lock<std::mutex> l(mu_);
  if (!requested_.load(std::memory_order_relaxed)) return;  // resumed meanwhile
  ++parked_;
  cv_.notify_all();
  const std::uint64_t gen = generation_;
  cv_.wait(l, [&] { return generation_ != gen; });
  --parked_;
}

void PauseGate::nap(int ms, const std::atomic<bool>& stop) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, std::chrono::milliseconds(ms), [&] {
    return requested_.load(std::memory_order_relaxed) || stop.load(std::memory_order_relaxed);
  });
}

void PauseGate::wake() {
  std::lock_guard<std::mutex> g(mu_);
  cv_.notify_all();
}

bool PauseGate::pause_all(double timeout_s, int* parked_out, int* participants_out) {
  std::unique_lock<std::mutex> l(mu_);
  requested_.store(true, std::memory_order_release);
  cv_.notify_all();
  const bool ok = cv_.wait_for(l, std::chrono::duration<double>(timeout_s),
                               [&] { return parked_ >= participants_; });
  if (parked_out) *parked_out = parked_;
  if (participants_out) *participants_out = participants_;
  return ok;
}

void PauseGate::resume_all() {
  std::lock_guard<std::mutex> g(mu_);
  requested_.store(false, std::memory_order_release);
  ++generation_;
  cv_.notify_all();
}

}  // namespace stress
