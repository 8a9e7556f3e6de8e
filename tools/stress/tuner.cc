#include "tuner.h"

#include <cstdio>
#include <cstring>

#include "numaslab/numaslab.h"
#include "objects.h"

namespace stress {

Tuner::Tuner(Shared* shared, std::uint64_t seed) : sh_(shared), rng_(mix64(seed ^ 0x54554e4552ull)) {}

void Tuner::start() {
  sh_->gate.enter();
  thread_ = std::thread([this] { run(); });
}

void Tuner::stop_and_join() {
  stop_.store(true, std::memory_order_relaxed);
  sh_->gate.wake();
  if (thread_.joinable()) thread_.join();
}

void Tuner::run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    sh_->gate.nap(sh_->opt->tune_interval_ms, stop_);
    if (stop_.load(std::memory_order_relaxed)) break;
    if (sh_->gate.pause_requested()) {
      sh_->gate.park();
      continue;
    }
    step();
  }
  sh_->gate.leave();
}

void Tuner::step() {
  if (rng_.percent(15)) {
    call("numaslab_reap");
    const std::size_t bytes = numaslab_reap();
    in_call_.store(nullptr, std::memory_order_relaxed);
    reaps_.fetch_add(1, std::memory_order_relaxed);
    reaped_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    return;
  }
  static constexpr const char* kKmalloc[] = {"kmalloc-64", "kmalloc-256", "kmalloc-1024", "kmalloc-4096",
                                             "kmalloc-8192"};
  static constexpr long kLimits[] = {1, 2, 8, 16, 32, 54, 120, 256};
  const char* name = rng_.percent(60) ? kTyped[rng_.below(kNumTyped)].name : kKmalloc[rng_.below(5)];
  const long limit = kLimits[rng_.below(8)];
  const long batch = static_cast<long>(rng_.range(1, static_cast<std::uint32_t>(limit)));
  const long shared = rng_.percent(30) ? 0 : (rng_.percent(50) ? 8 : 1);
  int rc;
  if (rng_.percent(30)) {
    char line[96];
    std::snprintf(line, sizeof line, "%s %ld %ld %ld", name, limit, batch, shared);
    call("numaslab_slabinfo_write");
    rc = numaslab_slabinfo_write(line);
  } else {
    call("numaslab_tune");
    rc = numaslab_tune(name, limit, batch, shared);
  }
  in_call_.store(nullptr, std::memory_order_relaxed);
  if (rc != 0)
    errors().report("numaslab_tune(\"%s\", %ld, %ld, %ld) returned %d (%s)", name, limit, batch, shared, rc,
                    std::strerror(-rc));
  else
    tunes_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace stress
