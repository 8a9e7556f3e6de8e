#include "runtime/process.h"

#include <atomic>
#include <cstdlib>

#include "runtime/runtime.h"

namespace numaslab::detail {

namespace {

std::atomic<bool> g_installed{false};

void at_exit() { publication_stop(); }

}  // namespace

void process_handlers_install() {
  if (g_installed.exchange(true)) return;
  std::atexit(at_exit);
}

}  // namespace numaslab::detail
