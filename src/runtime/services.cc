// The background services: which are wanted, starting them, retrying the ones
// whose thread could not be created, reporting their state, and the
// publication tick.
#include "runtime/services.h"

#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "base/check.h"
#include "base/clock.h"
#include "base/format.h"
#include "base/sanitizer.h"
#include "hotplug/watcher.h"
#include "platform/options.h"
#include "platform/platform.h"
#include "reap/reaper.h"
#include "runtime/runtime.h"
#include "stats/publish.h"

namespace numaslab::detail {

namespace {

std::atomic<bool> g_services_pending{false};
std::atomic<std::uint64_t> g_services_next_try_ms{0};
std::atomic<std::uint64_t> g_services_failures{0};
std::atomic<std::uint64_t> g_services_retries{0};

// ---- the publication tick ----

std::atomic<bool> g_ticker_running{false};
std::atomic<bool> g_republish{false};  // a fork child whose parent published

std::uint64_t publication_period_ms() {
  int online = topology().online_cpus();
  if (online < 1) online = 1;
  const std::uint64_t step = static_cast<std::uint64_t>(options().reap_ms) / online;
  return step ? step : 1;
}

void* ticker_main(void*) {
  for (;;) {
    sleep_ms(publication_period_ms());
    if (publishing()) {
      publish_now(services_status());
      continue;
    }
    // Publication stopped: leave, unless it restarted after the check (its
    // start found this tick still running and started none).
    g_ticker_running.store(false);
    bool expected = false;
    if (!publishing() || !g_ticker_running.compare_exchange_strong(expected, true)) break;
  }
  return nullptr;
}

// True when the tick runs or is not wanted.
bool ticker_start() {
  if (!publishing()) return true;
  bool expected = false;
  if (!g_ticker_running.compare_exchange_strong(expected, true)) return true;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t tid;
  const int rc = platform().thread_create(&tid, &attr, ticker_main, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) g_ticker_running.store(false);
  return rc == 0;
}

// "on", "off" (not wanted), or "not started (<error>), retrying".
const char* service_state(bool wanted, bool running, int error, char* buf, std::size_t len) {
  if (running) return "on";
  if (!wanted || error == 0) return "off";
  format(buf, len, "not started (%s), retrying",
         strerrorname_np(error) ? strerrorname_np(error) : "error");
  return buf;
}

}  // namespace

bool try_start_services() {
  if (g_republish.exchange(false) && publish_start() != 0) g_republish.store(true);
  bool ok = watcher_start();
  ok = reaper_start() && ok;
  ok = ticker_start() && ok;
  if (!ok) {
    g_services_failures.fetch_add(1, std::memory_order_relaxed);
    g_services_next_try_ms.store(coarse_clock_ms() + 1000, std::memory_order_relaxed);
  }
  ok = ok && !g_republish.load();
  g_services_pending.store(!ok, std::memory_order_release);
  return ok;
}

void services_forget_in_child(bool republish) {
  g_ticker_running.store(false);
  g_republish.store(republish);
  g_services_next_try_ms.store(0, std::memory_order_relaxed);
  g_services_pending.store(true, std::memory_order_release);
}

void print_verbose_line() {
  char line[512], r[64], w[64], dbg[48];
  {
    BufWriter d(dbg, sizeof dbg);
    static constexpr struct {
      unsigned bit;
      const char* word;
    } kWords[] = {{kDebugOptRedZone, "redzone"},
                  {kDebugOptPoison, "poison"},
                  {kDebugOptUser, "user"},
                  {kDebugOptLeaks, "leaks"}};
    for (const auto& k : kWords)
      if (options().debug & k.bit) d.printf("%s%s", d.size() ? "," : "", k.word);
    if (d.size() == 0) d.put("none");
  }
  ServicesStatus st = services_status();
  std::size_t n = format(
      line, sizeof line,
      "numaslab: topology %s (%d nodes, %d CPUs possible, %d online), "
      "slots %s (%s), check %s, cpu cache budget %llu bytes, reaper %s/%d ms, watcher %s, "
      "lockcheck %s, debug %s, checker %s\n",
      topology().spec_text(), topology().num_nodes(), topology().possible_cpus(),
      topology().online_cpus(), slots_policy_name(), slots_reason(), check_full() ? "full" : "fast",
      static_cast<unsigned long long>(cpu_cache_budget()),
      service_state(options().reap, st.reaper_running, st.reaper_error, r, sizeof r),
      options().reap_ms, service_state(true, st.watcher_running, st.watcher_error, w, sizeof w),
      lock_validation_enabled() ? "on" : "off", dbg, tools_name());
  write_all(2, line, n < sizeof line ? n : sizeof line - 1);
}

void services_retry_slow() {
  if (!booted() || registry().mutex.held_by_me()) return;
  if (coarse_clock_ms() < g_services_next_try_ms.load(std::memory_order_relaxed)) return;
  g_services_retries.fetch_add(1, std::memory_order_relaxed);
  if (try_start_services() && options().verbose)
    warn("background services started after %llu attempts",
         static_cast<unsigned long long>(g_services_failures.load()) + 1);
}

bool services_pending() { return g_services_pending.load(std::memory_order_acquire); }

ServicesStatus services_status() {
  ServicesStatus s;
  s.reaper_running = reaper_running();
  s.reaper_error = s.reaper_running ? 0 : reaper_start_error();
  s.watcher_running = watcher_running();
  s.watcher_error = s.watcher_running ? 0 : watcher_start_error();
  s.start_failures = g_services_failures.load(std::memory_order_relaxed);
  s.retries = g_services_retries.load(std::memory_order_relaxed);
  s.pending = services_pending();
  return s;
}

int publication_start() {
  if (int rc = publish_start(); rc != 0) return rc;
  publish_now(services_status());
  if (!ticker_start()) {
    g_services_failures.fetch_add(1, std::memory_order_relaxed);
    g_services_next_try_ms.store(coarse_clock_ms() + 1000, std::memory_order_relaxed);
    g_services_pending.store(true, std::memory_order_release);
  }
  return 0;
}

void publication_stop() { publish_stop(); }

}  // namespace numaslab::detail
