#include "hotplug/watcher.h"

#include <pthread.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "base/clock.h"
#include "base/fork_gate.h"
#include "cache/registry.h"
#include "hotplug/hotplug.h"
#include "platform/options.h"
#include "platform/platform.h"
#include "topology/topology.h"

namespace numaslab::detail {

namespace {

std::atomic<bool> g_started{false};
std::atomic<int> g_uevent_fd{-1};
int g_interval_ms = 100;

// True if any pending uevent concerns a CPU; drains the socket.
bool drain_uevents(int fd) {
  bool cpu_event = false;
  char buf[2048];
  for (;;) {
    const long n = platform().receive(fd, buf, sizeof buf - 1);
    if (n <= 0) break;
    buf[n] = '\0';
    if (std::strstr(buf, "/devices/system/cpu/cpu")) cpu_event = true;
  }
  return cpu_event;
}

// Without a uevent socket (netlink refused, e.g. in a sandbox) the watcher
// still sees every change: it polls the online mask each interval.
void* watcher_main(void*) {
  const int fd = platform().uevent_open();
  g_uevent_fd.store(fd);
  for (;;) {
    if (fd >= 0) {
      if (platform().wait_readable(fd, g_interval_ms) > 0) drain_uevents(fd);
    } else {
      sleep_ms(static_cast<std::uint64_t>(g_interval_ms));
    }
    watch_poll();
  }
  return nullptr;
}

}  // namespace

int watch_poll() {
  GateSection gate;
  Topology& t = topology();
  if (t.mode() == TopologyMode::kSim) return 0;
  CpuMask sys_online, allowed;
  if (!read_online_cpus(&sys_online)) return 0;
  if (!read_allowed_cpus(&allowed)) allowed = sys_online;
  int events = 0;
  for (int c = 0; c < t.possible_cpus(); ++c) {
    const bool want = sys_online.test(c) && allowed.test(c);
    const bool have = t.cpu_online(c);
    if (have && !want) {
      if (hotplug_cpu_down(c) == 0) ++events;
    } else if (!have && want) {
      if (hotplug_cpu_up(c) == 0) ++events;
    }
  }
  return events;
}

std::atomic<int> g_watcher_start_error{0};

bool watcher_start() {
  if (topology().mode() == TopologyMode::kSim) return true;
  g_interval_ms = options().watch_ms;
  if (g_interval_ms <= 0) return true;
  bool expected = false;
  if (!g_started.compare_exchange_strong(expected, true)) return true;
  pthread_t tid;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  const int rc = platform().thread_create(&tid, &attr, watcher_main, nullptr);
  pthread_attr_destroy(&attr);
  g_watcher_start_error.store(rc);
  if (rc != 0) g_started.store(false);
  return rc == 0;
}

int watcher_start_error() { return g_watcher_start_error.load(); }

bool watcher_running() { return g_started.load(); }

void watcher_forget_in_child() {
  const int fd = g_uevent_fd.exchange(-1);
  if (fd >= 0) platform().close(fd);
  g_started.store(false);
}

}  // namespace numaslab::detail
