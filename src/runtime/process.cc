#include "runtime/process.h"

#include <atomic>
#include <cstdlib>

#include "platform/options.h"
#include "runtime/runtime.h"
#include "stats/summary.h"

namespace numaslab::detail {

namespace {

std::atomic<bool> g_installed{false};

void at_exit() {
  if (options().stats) write_summary(2);
  publication_stop();
}

}  // namespace

void process_handlers_install() {
  if (g_installed.exchange(true)) return;
  std::atexit(at_exit);
}

}  // namespace numaslab::detail
