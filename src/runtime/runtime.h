// numaslab — the top layer under the entry points: start-up and the
// background services.
//
// Contract:
//  * runtime_init(spec) boots the core (cache/registry.h: boot(), the kernel's
//    kmem_cache_init) and, the first time it succeeds, starts the services:
//    the reaper (reap/), the watcher (hotplug/, real and map modes),
//    publication for live viewers when NUMASLAB_PUBLISH=1 (stats/publish.h,
//    refreshed by its own tick here), and the process handlers (process.h).
//    Idempotent as boot(): 0, -EINVAL, -EBUSY or -ENOMEM.
//  * ensure_started() is what every entry point calls before it reaches the
//    core: it boots lazily from NUMASLAB_TOPOLOGY (a value that cannot be
//    parsed is fatal; out of memory returns false with errno ENOMEM and the
//    caller fails the call), then retries services that could not start.
//  * A service whose thread cannot be created does not fail start-up: it is
//    retried from the entry points' slow paths, at most once a second, and
//    reported by services_status(), the verbose line and the JSON statistics.
//  * No layer below includes this one. cache/ boots the core and never starts
//    a thread; the reaper, the watcher and publication do not start one
//    another.
// Locks: boot() takes the registry mutex; the services start after it is
// released (the publisher's lock ranks before it, and the threads take it).
#pragma once

#include <cstddef>

#include "cache/registry.h"
#include "stats/slabinfo.h"

namespace numaslab::detail {

int runtime_init(const char* spec, char* err, std::size_t errlen);

bool services_pending();
void services_retry_slow();
inline void services_retry() {
  if (__builtin_expect(services_pending(), 0)) services_retry_slow();
}
ServicesStatus services_status();

bool ensure_started_slow();
inline bool ensure_started() {
  if (__builtin_expect(!booted(), 0)) return ensure_started_slow();
  services_retry();
  return true;
}

// Publication for live viewers: the file (stats/publish.h) and its tick,
// which refreshes it as often as the reaper visits a CPU
// (NUMASLAB_REAP_MS / online CPUs). 0, or -errno.
int publication_start();
void publication_stop();

}  // namespace numaslab::detail
