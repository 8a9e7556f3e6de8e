#include "runtime/process.h"

#include <pthread.h>

#include <atomic>
#include <cstdlib>

#include "base/fork_gate.h"
#include "cache/cache.h"
#include "hotplug/watcher.h"
#include "page/page_allocator.h"
#include "platform/options.h"
#include "reap/reaper.h"
#include "runtime/runtime.h"
#include "runtime/services.h"
#include "stats/publish.h"
#include "stats/summary.h"

namespace numaslab::detail {

namespace {

std::atomic<bool> g_installed{false};

void at_exit() {
  // NUMASLAB_DEBUG=leaks: what the program never freed, if anything.
  if (options().debug & kDebugOptLeaks) {
    GateSection gate;
    leak_report(2, true);
  }
  if (options().stats) write_summary(2);
  publication_stop();
}

// ---- fork ----
// prepare: close the gate (no operation under way, none starts), then take
// every lock in rank order: publication, reaper, registry, slot, alien,
// list, pages, segments. parent: release them and reopen. child: release
// them, reopen the gate for its one thread, and forget the services whose
// threads stayed in the parent. The gate alone would keep the child
// consistent; holding the locks as well makes a path that escaped the gate
// wait here instead of leaving a lock held in the child.
thread_local bool t_forking = false;
bool g_was_publishing = false;

void fork_prepare() {
  if (!gate_close()) return;  // fork() from inside a numaslab callback
  t_forking = true;
  g_was_publishing = publishing();
  publish_lock_for_fork();
  reaper_lock_for_fork();
  caches_lock_for_fork();
  page_allocator_lock_for_fork();
}

void unlock_all() {
  page_allocator_unlock_after_fork();
  caches_unlock_after_fork();
  reaper_unlock_after_fork();
  publish_unlock_after_fork();
}

void fork_parent() {
  if (!t_forking) return;
  t_forking = false;
  unlock_all();
  gate_open();
}

void fork_child() {
  if (!t_forking) return;
  t_forking = false;
  unlock_all();
  gate_reset_in_child();
  reaper_forget_in_child();
  watcher_forget_in_child();
  publish_forget_in_child();
  if (booted()) services_forget_in_child(g_was_publishing);
}

// At load time, before the first allocation can start numaslab: a fork
// during the first start-up finds the handlers in place. (pthread_atfork may
// allocate; with the malloc replacement that starts numaslab here.)
__attribute__((constructor)) void install_fork_handlers() {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}

}  // namespace

void process_handlers_install() {
  if (g_installed.exchange(true)) return;
  std::atexit(at_exit);
}

}  // namespace numaslab::detail
