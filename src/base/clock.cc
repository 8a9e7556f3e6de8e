#include "base/clock.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>

namespace numaslab::detail {

std::uint64_t coarse_clock_ms() {
  timespec ts{};
  ::syscall(SYS_clock_gettime, CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
}

void sleep_ms(std::uint64_t ms) {
  const timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1000000)};
  ::syscall(SYS_nanosleep, &ts, nullptr);
}

void yield_cpu() { ::syscall(SYS_sched_yield); }

}  // namespace numaslab::detail
