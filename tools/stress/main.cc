// numaslab-stress — the seed patch's test as a program: a dbench-like load on
// several worker threads while CPUs go down and up underneath, with
// numaslab_verify at regular quiescent points.
//
//   numaslab-stress [--topology sim:2x2] [--threads 4] [--seconds 10]
//                   [--hotplug-interval-ms 20] [--seed N] [--json FILE]
//                   [--verify-interval-s 2] [--no-hotplug | --real-hotplug]
//
// The last line printed is always "verdict: PASS" or "verdict: FAIL: <reason>"
// (exit 0/1). Usage errors and refusals exit 2.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hotplug_driver.h"
#include "numaslab/numaslab.h"
#include "objects.h"
#include "real_cpu.h"
#include "run_plot.h"
#include "stress.h"
#include "tuner.h"
#include "worker.h"

namespace stress {
namespace {

constexpr std::size_t kVerifyBuf = 64 * 1024;

struct Totals {
  std::uint64_t allocs = 0, frees = 0, fs_ops = 0, cross = 0, remote = 0, node_allocs = 0,
                node_mismatch = 0, handoffs = 0, large = 0, rebinds = 0;
  std::uint64_t ops() const { return allocs + frees; }
  std::int64_t live() const { return static_cast<std::int64_t>(allocs - frees); }
};

struct Run {
  Options opt;
  Shared shared;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<HotplugDriver> hotplug;
  std::unique_ptr<Tuner> tuner;
  std::string mode;
  int nodes = 0, cpus = 0;
  std::vector<int> real_cpus;

  // Main thread's phase, for the watchdog.
  std::atomic<const char*> phase{"starting"};
  std::atomic<std::int64_t> phase_since{0};
  std::atomic<bool> finished{false};

  std::uint64_t verify_runs = 0, verify_failures = 0;
  std::string first_verify_failure;
  double verify_ms_max = 0;
  int final_verify = -1;
  std::string final_verify_line;
  int post_destroy_verify = -1;
  int cache_destroy_failures = 0;
  double elapsed_s = 0;
  std::int64_t peak_live = 0;
  std::vector<double> peak_node_mib;
  bool interrupted = false;
  std::vector<std::string> extra_failures;  // verdict reasons found at the end
  std::vector<std::string> warnings;        // suspicious but not failing (unless --strict)
  std::mutex out_mu;                        // stdout lines from main and watchdog

  void set_phase(const char* p) {
    phase_since.store(now_ms(), std::memory_order_relaxed);
    phase.store(p, std::memory_order_relaxed);
  }

  Totals totals() const {
    Totals t;
    for (const auto& w : workers) {
      const WorkerCounters& c = w->counters();
      t.allocs += c.allocs.load(std::memory_order_relaxed);
      t.frees += c.frees.load(std::memory_order_relaxed);
      t.fs_ops += c.fs_ops.load(std::memory_order_relaxed);
      t.cross += c.cross_thread_frees.load(std::memory_order_relaxed);
      t.remote += c.remote_node_frees.load(std::memory_order_relaxed);
      t.node_allocs += c.node_allocs.load(std::memory_order_relaxed);
      t.node_mismatch += c.node_mismatch.load(std::memory_order_relaxed);
      t.handoffs += c.handoffs.load(std::memory_order_relaxed);
      t.large += c.large_allocs.load(std::memory_order_relaxed);
      t.rebinds += c.rebinds.load(std::memory_order_relaxed);
    }
    return t;
  }
};

Run* g_run = nullptr;

void out(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void out(const char* fmt, ...) {
  std::lock_guard<std::mutex> g(g_run->out_mu);
  va_list ap;
  va_start(ap, fmt);
  std::vprintf(fmt, ap);
  va_end(ap);
  std::fflush(stdout);
}

std::string mib(std::size_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return b;
}

// ---------------------------------------------------------------- summary JSON

// query_lib=false on a stall: numaslab may hold the lock its stats need.
nlohmann::json summary_json(Run& r, const std::string& verdict, bool query_lib) {
  const Totals t = r.totals();
  numaslab_hotplug_stats hs{};
  if (query_lib) numaslab_get_hotplug_stats(&hs);
  nlohmann::json j;
  j["ops"] = t.ops();
  j["hotplug_events"] = hs.ups + hs.downs;
  j["last_cpu_of_node_downs"] = hs.last_cpu_of_node_downs;
  j["verify_runs"] = r.verify_runs;
  j["errors"] = errors().count();
  j["verdict"] = verdict;
  j["ops_per_sec"] = r.elapsed_s > 0 ? static_cast<double>(t.ops()) / r.elapsed_s : 0.0;
  j["topology"] = r.opt.topology;
  j["mode"] = r.mode;
  j["slots_policy"] = numaslab_slots_policy();
  j["nodes"] = r.nodes;
  j["cpus"] = r.cpus;
  j["threads"] = r.opt.threads;
  j["seconds"] = r.opt.seconds;
  j["elapsed_s"] = r.elapsed_s;
  j["seed"] = r.opt.seed;
  j["interrupted"] = r.interrupted;
  j["fs_ops"] = t.fs_ops;
  j["allocs"] = t.allocs;
  j["frees"] = t.frees;
  j["live_at_end"] = t.live();
  j["peak_live"] = r.peak_live;
  j["cross_thread_frees"] = t.cross;
  j["remote_node_frees"] = t.remote;
  j["node_allocs"] = t.node_allocs;
  j["node_alloc_mismatches"] = t.node_mismatch;
  j["handoffs"] = t.handoffs;
  j["large_allocs"] = t.large;
  j["rebinds"] = t.rebinds;
  j["verify_failures"] = r.verify_failures;
  j["verify_ms_max"] = r.verify_ms_max;
  j["final_verify"] = r.final_verify_line;
  j["cache_destroy_failures"] = r.cache_destroy_failures;
  j["peak_node_mib"] = r.peak_node_mib;
  nlohmann::json ctors;
  for (int k = 0; k < kNumTyped; ++k) ctors[kTyped[k].name] = ctor_calls(static_cast<Kind>(k));
  j["constructor_calls"] = ctors;
  nlohmann::json lib{{"ups", hs.ups},
                     {"downs", hs.downs},
                     {"canceled", hs.canceled},
                     {"last_cpu_of_node_downs", hs.last_cpu_of_node_downs},
                     {"sim_migrations", hs.sim_migrations}};
  j["numaslab_hotplug_stats"] = lib;
  if (r.hotplug) {
    const HotplugCounters& h = r.hotplug->counters();
    nlohmann::json tool{{"mode", r.hotplug->real() ? "real" : "numaslab_cpu_up/down"},
                        {"steps", h.steps.load()},
                        {"ups", h.ups.load()},
                        {"downs", h.downs.load()},
                        {"last_cpu_of_node_downs", h.last_cpu_of_node_downs.load()},
                        {"ebusy", h.ebusy.load()},
                        {"ealready", h.ealready.load()}};
    if (r.hotplug->real()) {
      tool["real_offline_transitions"] = h.downs.load();
      tool["real_online_transitions"] = h.ups.load();
      tool["watch_poll_events"] = h.poll_events.load();
      tool["state_lags"] = h.state_lags.load();
      tool["cpus"] = r.real_cpus;
    }
    j["hotplug"] = tool;
  } else {
    j["hotplug"] = nullptr;
  }
  if (r.tuner)
    j["tuner"] = {{"tunes", r.tuner->tunes()},
                  {"reaps", r.tuner->reaps()},
                  {"reaped_bytes", r.tuner->reaped_bytes()}};
  j["error_messages"] = errors().first_messages();
  j["warnings"] = r.warnings;
  if (!r.first_verify_failure.empty()) j["first_verify_failure"] = r.first_verify_failure;
  return j;
}

// Writes the summary; false (with the reason on stderr) if it could not be
// written completely.
bool write_json(Run& r, const std::string& verdict, bool query_lib = true) {
  if (r.opt.json_path.empty()) return true;
  std::ofstream f(r.opt.json_path);
  if (f) f << summary_json(r, verdict, query_lib).dump(2) << "\n";
  if (f) f.close();
  if (!f) {
    std::fprintf(stderr, "numaslab-stress: cannot write %s: %s\n", r.opt.json_path.c_str(),
                 std::strerror(errno ? errno : EIO));
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- watchdog

[[noreturn]] void stall(Run& r, const std::string& what) {
  static std::atomic<bool> once{false};
  if (once.exchange(true)) {  // the other thread is already reporting
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::fprintf(stderr, "\nnumaslab-stress: STALL: %s\n", what.c_str());
  std::fprintf(stderr, "  main thread phase: %s (for %" PRId64 " ms)\n", r.phase.load(),
               now_ms() - r.phase_since.load());
  for (const auto& w : r.workers)
    std::fprintf(stderr, "  w%d: progress %" PRIu64 ", in %s%s\n", w->id(), w->progress(),
                 w->in_call() ? w->in_call() : "(no numaslab call)",
                 w->finished() ? ", finished" : "");
  if (r.hotplug)
    std::fprintf(stderr, "  hotplug thread: in %s\n",
                 r.hotplug->in_call() ? r.hotplug->in_call() : "(no call)");
  if (r.tuner)
    std::fprintf(stderr, "  tuner thread: in %s\n",
                 r.tuner->in_call() ? r.tuner->in_call() : "(no call)");
  std::fflush(stderr);
  realcpu::restore_all();
  if (r.opt.gdb_on_stall && ::access("/usr/bin/gdb", X_OK) == 0) {
    std::fprintf(stderr, "  stacks (gdb):\n");
    std::fflush(stderr);
    char cmd[256];
    std::snprintf(cmd, sizeof cmd,
                  "gdb -p %d -batch -nx -ex 'set pagination off' -ex 'thread apply all bt' "
                  "</dev/null 1>&2 2>/dev/null",
                  static_cast<int>(::getpid()));
    int rc = std::system(cmd);
    (void)rc;
  }
  r.elapsed_s = static_cast<double>(now_ms()) / 1000.0;
  const std::string verdict = "FAIL: stall: " + what;
  write_json(r, verdict, false);
  std::printf("verdict: %s\n", verdict.c_str());
  std::fflush(stdout);
  std::_Exit(1);
}

void watchdog(Run* r) {
  const auto limit = static_cast<std::int64_t>(r->opt.stall_timeout_s * 1000);
  std::vector<std::uint64_t> last(r->workers.size(), 0);
  std::vector<std::int64_t> since(r->workers.size(), now_ms());
  while (!r->finished.load(std::memory_order_relaxed)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    const std::int64_t now = now_ms();
    const char* phase = r->phase.load(std::memory_order_relaxed);
    const bool running = std::strcmp(phase, "run") == 0 && !r->shared.gate.pause_requested();
    if (!running && now - r->phase_since.load(std::memory_order_relaxed) > limit)
      stall(*r, std::string("main thread stuck in phase '") + phase + "'");
    for (std::size_t i = 0; i < r->workers.size(); ++i) {
      const std::uint64_t p = r->workers[i]->progress();
      if (!running || p != last[i]) {
        last[i] = p;
        since[i] = now;
      } else if (now - since[i] > limit) {
        const char* c = r->workers[i]->in_call();
        stall(*r, "worker w" + std::to_string(i) + " made no progress for " +
                      std::to_string((now - since[i]) / 1000) + " s (in " +
                      (c ? c : "no numaslab call") + ")");
      }
    }
    if (r->tuner && r->tuner->in_call() && now - r->tuner->in_call_since_ms() > limit)
      stall(*r, std::string("tuner thread stuck in ") + r->tuner->in_call());
    if (r->hotplug && r->hotplug->in_call() && now - r->hotplug->in_call_since_ms() > limit)
      stall(*r, std::string("hotplug thread stuck in ") + r->hotplug->in_call() + " for " +
                    std::to_string((now - r->hotplug->in_call_since_ms()) / 1000) + " s");
  }
}

// ---------------------------------------------------------------- phases

void progress_line(Run& r, std::int64_t t_ms, std::uint64_t ops_delta, double dt_s,
                   bool partial = false) {
  numaslab_hotplug_stats hs{};
  numaslab_get_hotplug_stats(&hs);
  std::string online, bytes;
  std::vector<int> on(static_cast<std::size_t>(r.nodes), 0),
      all(static_cast<std::size_t>(r.nodes), 0);
  for (int c = 0; c < r.cpus; ++c) {
    const int n = numaslab_cpu_to_node(c);
    if (n < 0 || n >= r.nodes) continue;
    ++all[static_cast<std::size_t>(n)];
    if (numaslab_cpu_online(c) == 1) ++on[static_cast<std::size_t>(n)];
  }
  for (int n = 0; n < r.nodes; ++n) {
    char b[64];
    std::snprintf(b, sizeof b, "%sn%d:%d/%d", n ? " " : "", n, on[static_cast<std::size_t>(n)],
                  all[static_cast<std::size_t>(n)]);
    online += b;
    const std::size_t nb = numaslab_node_bytes(n);
    const double m = static_cast<double>(nb) / (1024.0 * 1024.0);
    if (m > r.peak_node_mib[static_cast<std::size_t>(n)])
      r.peak_node_mib[static_cast<std::size_t>(n)] = m;
    std::snprintf(b, sizeof b, "%sn%d %s", n ? " " : "", n, mib(nb).c_str());
    bytes += b;
  }
  const Totals t = r.totals();
  r.peak_live = std::max(r.peak_live, t.live());
  char hp[96];
  if (r.opt.no_hotplug)
    std::snprintf(hp, sizeof hp, "hotplug off");
  else
    std::snprintf(hp, sizeof hp, "hotplug %llu (last-cpu-of-node %llu)",
                  static_cast<unsigned long long>(hs.ups + hs.downs),
                  static_cast<unsigned long long>(hs.last_cpu_of_node_downs));
  char when[16];
  if (partial)
    std::snprintf(when, sizeof when, "%4.1fs", static_cast<double>(t_ms) / 1000.0);
  else
    std::snprintf(when, sizeof when, "%3llds", static_cast<long long>(t_ms / 1000));
  out("[%s] ops/s %9.0f  %s  online %s  bytes %s  live %lld  errors %llu\n", when,
      dt_s > 0 ? static_cast<double>(ops_delta) / dt_s : 0.0, hp, online.c_str(), bytes.c_str(),
      static_cast<long long>(t.live()), static_cast<unsigned long long>(errors().count()));
}

void interval_verify(Run& r) {
  r.set_phase("pausing workers for verify");
  const std::int64_t t0 = now_ms();
  int parked = 0, participants = 0;
  if (!r.shared.gate.pause_all(r.opt.stall_timeout_s, &parked, &participants))
    stall(r, "only " + std::to_string(parked) + " of " + std::to_string(participants) +
                 " threads reached the verify safe point");
  const std::int64_t t1 = now_ms();
  r.set_phase("numaslab_verify (interval)");
  std::vector<char> buf(kVerifyBuf);
  const auto v0 = std::chrono::steady_clock::now();
  const int rc = numaslab_verify(buf.data(), buf.size());
  const double vms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - v0).count();
  r.verify_ms_max = std::max(r.verify_ms_max, vms);
  ++r.verify_runs;
  const Totals t = r.totals();
  std::string report(buf.data());
  while (!report.empty() && report.back() == '\n') report.pop_back();
  if (rc != 0) {
    ++r.verify_failures;
    if (r.first_verify_failure.empty()) r.first_verify_failure = report;
    out("[%3llds] verify #%llu FAILED (%d violations) with %lld objects held by the tool:\n%s\n",
        static_cast<long long>(t0 / 1000), static_cast<unsigned long long>(r.verify_runs), rc,
        static_cast<long long>(t.live()), report.c_str());
  } else {
    const std::size_t nl = report.rfind('\n');
    out("[%3llds] verify #%llu: %s  (%lld objects held, paused in %lld ms, verify %.1f ms)\n",
        static_cast<long long>(t0 / 1000), static_cast<unsigned long long>(r.verify_runs),
        (nl == std::string::npos ? report : report.substr(nl + 1)).c_str(),
        static_cast<long long>(t.live()), static_cast<long long>(t1 - t0), vms);
  }
  r.shared.gate.resume_all();
  r.set_phase("run");
}

// The slabinfo lines of the tool's caches and of kmalloc caches that hold objects.
void print_slabinfo(Run& r) {
  std::vector<char> buf(256 * 1024);
  std::size_t n = numaslab_slabinfo(buf.data(), buf.size());
  if (n >= buf.size()) {
    buf.resize(n + 1);
    numaslab_slabinfo(buf.data(), buf.size());
  }
  std::istringstream in(std::string(buf.data()));
  std::string line;
  std::string text;
  int lineno = 0, skipped = 0;
  while (std::getline(in, line)) {
    ++lineno;
    bool keep = lineno <= 2 || r.opt.full_slabinfo;
    if (!keep) {
      char name[64];
      unsigned long active = 0, num = 0;
      if (std::sscanf(line.c_str(), "%63s %lu %lu", name, &active, &num) == 3) {
        for (int k = 0; k < kNumTyped; ++k)
          if (std::strcmp(name, kTyped[k].name) == 0) keep = true;
        if (std::strncmp(name, "kmalloc-", 8) == 0 && (active || num)) keep = true;
      }
    }
    if (keep)
      text += line + "\n";
    else
      ++skipped;
  }
  out("slabinfo (the tool's caches and kmalloc caches holding slabs; %d other lines omitted, "
      "--full-slabinfo shows all):\n%s",
      skipped, text.c_str());
  // Every object was released, yet the typed caches show active objects.
  unsigned long long cached = 0, in_arrays_caches = 0;
  for (int k = 0; k < kNumTyped; ++k) {
    struct numaslab_cache_stats cs {};
    if (numaslab_cache_stats(cache_of(static_cast<Kind>(k)), &cs) != 0) continue;
    cached += cs.active_objs;
    if (cs.active_objs) ++in_arrays_caches;
  }
  if (cached)
    out("note: %llu typed cache(s) still show %llu active objects although every object was "
        "released. Those objects sit in per-CPU, shared and alien arrays, ready for the next "
        "allocation without touching a slab; to the slabs they are handed out, so slabinfo "
        "counts them as active, as the kernel's /proc/slabinfo does. Shrinking the caches "
        "(next) or the reaper puts them back.\n",
        in_arrays_caches, cached);
}

std::string verdict_reason(Run& r) {
  std::vector<std::string> why;
  const std::uint64_t errs = errors().count();
  if (errs) {
    auto msgs = errors().first_messages();
    why.push_back(std::to_string(errs) + " error" + (errs == 1 ? "" : "s") +
                  (msgs.empty() ? "" : " (first: " + msgs.front() + ")"));
  }
  if (r.verify_failures)
    why.push_back("numaslab_verify failed " + std::to_string(r.verify_failures) + " of " +
                  std::to_string(r.verify_runs) + " interval runs");
  if (r.final_verify != 0) why.push_back("final numaslab_verify failed");
  if (r.post_destroy_verify > 0)
    why.push_back("numaslab_verify failed after destroying the caches");
  for (const auto& s : r.extra_failures) why.push_back(s);
  if (r.opt.strict)
    for (const auto& s : r.warnings) why.push_back("warning: " + s);
  std::string s;
  for (const auto& w : why) s += (s.empty() ? "" : "; ") + w;
  return s;
}

// Durations are converted to milliseconds in 64-bit integers: a year keeps
// every conversion far from overflow (1e99 s would wrap to a tiny run).
constexpr double kMaxSeconds = 366.0 * 24 * 3600;

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "numaslab-stress: %s\n", msg.c_str());
  return 2;
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

int run_main(int argc, char** argv) {
  static Run r;
  g_run = &r;
  Options& o = r.opt;
  CLI::App app{"numaslab-stress: a dbench-like load on numaslab while CPUs go down and up "
               "(the seed patch's test as a program)"};
  app.set_version_flag("--version", std::string("numaslab-stress ") + numaslab_version());
  app.add_option("--topology", o.topology, "numaslab topology: sim:NxM, map:C=N,... or real")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "worker threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--seconds", o.seconds, "run time (at most a year)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, kMaxSeconds));
  app.add_option("--hotplug-interval-ms", o.hotplug_interval_ms, "time between hotplug events")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600000));
  auto* seed_opt = app.add_option("--seed", o.seed, "random seed (default: time-based, printed)");
  app.add_option("--json", o.json_path, "write a JSON summary to FILE");
  app.add_option("--plot", o.plot_path,
                 "draw the run into FILE.png with gnuplot: operations per second, online CPUs "
                 "per node, bytes per node and hotplug events over time")
      ->check([](const std::string& f) {
        return f.size() > 4 && f.compare(f.size() - 4, 4, ".png") == 0
                   ? std::string()
                   : "the plot file must end in .png: " + f;
      });
  app.add_option("--verify-interval-s", o.verify_interval_s,
                 "seconds between numaslab_verify runs at a quiescent point (0: only at the end)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, kMaxSeconds));
  auto* real_opt =
      app.add_flag("--real-hotplug", o.real_hotplug,
                   "real/map topology, root: take real CPUs offline through "
                   "/sys/devices/system/cpu/cpuN/online (never CPU 0; always restored)");
  auto* no_opt = app.add_flag("--no-hotplug", o.no_hotplug, "no hotplug thread");
  real_opt->excludes(no_opt);
  app.add_option("--ws-small", o.ws_small, "small working-set target (files per worker)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--ws-large", o.ws_large, "large working-set target (files per worker)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--ws-period-ms", o.ws_period_ms,
                 "the target swings between small and large every this many ms")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600000));
  app.add_option("--node-alloc-pct", o.node_alloc_pct,
                 "share of allocations that use *_alloc_node/kmalloc_node")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  app.add_option("--stall-timeout-s", o.stall_timeout_s,
                 "report a stall (deadlock) when a thread makes no progress for this long")
      ->capture_default_str()
      ->check(CLI::Range(0.001, kMaxSeconds));
  app.add_flag("--full-slabinfo", o.full_slabinfo, "print every slabinfo line at the end");
  app.add_flag("--strict", o.strict, "warnings fail the run too");
  app.add_option("--tune-interval-ms", o.tune_interval_ms,
                 "also retune caches (numaslab_tune) and reap (numaslab_reap) this often; 0: never")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600000));
  app.add_flag(
      "--inject-stall", o.inject_stall,
      "check the watchdog: worker 0 stops after 1 s (the run must FAIL with a stall report)");
  app.add_flag(
      "--inject-corruption", o.inject_corruption,
      "check the checker: worker 0 damages one object it holds after 1 s (the run must FAIL)");
  app.add_flag("!--no-gdb", o.gdb_on_stall, "do not attach gdb for stacks on a stall");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  o.seed_given = seed_opt->count() > 0;
  if (!o.plot_path.empty() && std::system("gnuplot --version >/dev/null 2>&1") != 0) {
    std::fprintf(stderr,
                 "numaslab-stress: --plot needs gnuplot (Debian: apt-get install gnuplot-nox)\n");
    return 2;
  }
  // The summary must be writable before the run is worth starting; it is
  // written again at the end.
  if (!o.json_path.empty()) {
    std::ofstream probe(o.json_path);
    if (!probe)
      return usage_error("cannot write the summary to " + o.json_path + ": " +
                         std::strerror(errno));
  }
  if (!o.seed_given) {
    o.seed = static_cast<std::uint64_t>(
                 std::chrono::system_clock::now().time_since_epoch().count() / 1000) ^
             (static_cast<std::uint64_t>(::getpid()) << 40);
    o.seed %= 1000000000000ull;  // short enough to retype
  }
  if (o.ws_small > o.ws_large) std::swap(o.ws_small, o.ws_large);

  // --real-hotplug refusals, before anything is touched.
  if (o.real_hotplug) {
    if (starts_with(o.topology, "sim"))
      return usage_error(
          "--real-hotplug needs a real or map topology (e.g. --topology map:0=0,1=1), "
          "not " +
          o.topology + ": simulated CPUs have no sysfs online file");
    if (::geteuid() != 0)
      return usage_error(
          "--real-hotplug writes /sys/devices/system/cpu/cpuN/online and needs root; "
          "refusing to start");
  }

  if (const int rc = numaslab_init(o.topology.c_str()); rc != 0)
    return usage_error("numaslab_init(\"" + o.topology + "\") failed: " + std::strerror(-rc));
  r.mode = numaslab_topology_mode();
  r.nodes = numaslab_num_nodes();
  r.cpus = numaslab_num_possible_cpus();
  r.peak_node_mib.assign(static_cast<std::size_t>(r.nodes), 0.0);
  r.shared.opt = &r.opt;
  r.shared.num_nodes = r.nodes;
  r.shared.sim = r.mode == "sim";

  if (o.real_hotplug) {
    if (r.shared.sim)
      return usage_error("--real-hotplug: the topology is simulated; refusing to start");
    for (int c = 1; c < r.cpus; ++c)
      if (realcpu::read_online(c) == 1 && numaslab_cpu_online(c) == 1) r.real_cpus.push_back(c);
    if (r.real_cpus.empty())
      return usage_error(
          "--real-hotplug: the only hot-pluggable CPU would be CPU 0 (CPU 0 is never "
          "touched); refusing to start");
    std::string why;
    if (!realcpu::arm(r.real_cpus, &why))
      return usage_error("--real-hotplug: cannot control CPU hotplug: " + why +
                         "; refusing to start");
  } else {
    realcpu::install_sigint_only();
  }

  // Worker placement: sim mode binds worker i to the i-th CPU of a list that
  // alternates nodes, so neighbours (who hand files to each other) are on
  // different nodes.
  std::vector<int> order;
  if (r.shared.sim) {
    std::vector<std::vector<int>> per_node(static_cast<std::size_t>(r.nodes));
    for (int c = 0; c < r.cpus; ++c)
      per_node[static_cast<std::size_t>(numaslab_cpu_to_node(c))].push_back(c);
    for (std::size_t k = 0; order.size() < static_cast<std::size_t>(r.cpus); ++k)
      for (auto& v : per_node)
        if (k < v.size()) order.push_back(v[k]);
  }

  start_clock();
  std::string hp;
  if (o.no_hotplug)
    hp = "hotplug off";
  else if (o.real_hotplug) {
    hp = "REAL hotplug of CPU";
    for (int c : r.real_cpus) hp += " " + std::to_string(c);
    hp += " every " + std::to_string(o.hotplug_interval_ms) + " ms";
  } else
    hp = "hotplug every " + std::to_string(o.hotplug_interval_ms) + " ms";
  char vi[48];
  if (o.verify_interval_s > 0)
    std::snprintf(vi, sizeof vi, "verify every %g s", o.verify_interval_s);
  else
    std::snprintf(vi, sizeof vi, "verify at the end");
  out("numaslab-stress: topology %s (%s, %d node%s, %d CPUs, %s slots)  threads %d  seconds %g  %s "
      " %s  seed %llu\n",
      o.topology.c_str(), r.mode.c_str(), r.nodes, r.nodes == 1 ? "" : "s", r.cpus,
      numaslab_slots_policy(), o.threads, o.seconds, hp.c_str(), vi,
      static_cast<unsigned long long>(o.seed));
  if (!o.real_hotplug && !o.no_hotplug && !r.shared.sim)
    out("note: %s topology: numaslab_cpu_down/up on real CPUs; numaslab's watcher may bring them "
        "back "
        "up at once\n",
        r.mode.c_str());

  if (!create_caches()) {
    out("verdict: FAIL: could not create the caches\n");
    return 1;
  }

  for (int i = 0; i < o.threads; ++i) {
    const int home = order.empty() ? -1 : order[static_cast<std::size_t>(i) % order.size()];
    r.workers.push_back(std::make_unique<Worker>(i, home, &r.shared, o.seed));
    r.shared.workers.push_back(r.workers.back().get());
  }
  if (!order.empty() && r.workers.size() > 1) {
    std::string place = "workers:";
    for (const auto& w : r.workers)
      place += " w" + std::to_string(w->id()) + "=cpu" + std::to_string(w->home_cpu()) + "/n" +
               std::to_string(numaslab_cpu_to_node(w->home_cpu()));
    out("%s  (files go to the next worker, on another node)\n", place.c_str());
  }
  out("workload: inode %zu B, dentry %zu B, file %zu B, buffer_head %zu B caches with "
      "constructors; "
      "kmalloc 16 B..8 KiB and 64 KiB; working set %d..%d files/worker, swinging every %d ms\n",
      kTyped[kInode].size, kTyped[kDentry].size, kTyped[kFile].size, kTyped[kBufferHead].size,
      o.ws_small, o.ws_large, o.ws_period_ms);

  if (!o.no_hotplug)
    r.hotplug = std::make_unique<HotplugDriver>(&r.shared, o.real_hotplug, r.real_cpus, o.seed);
  if (o.tune_interval_ms > 0) r.tuner = std::make_unique<Tuner>(&r.shared, o.seed);
  r.set_phase("run");
  std::thread dog(watchdog, &r);  // reads r.workers and r.hotplug: both fixed from here on
  for (auto& w : r.workers) w->start();
  if (r.hotplug) r.hotplug->start();
  if (r.tuner) r.tuner->start();

  // ---- the run: progress every second, verify every interval
  const auto end_ms = static_cast<std::int64_t>(o.seconds * 1000);
  const auto verify_every = static_cast<std::int64_t>(o.verify_interval_s * 1000);
  std::int64_t next_progress = 1000, next_verify = verify_every > 0 ? verify_every : INT64_MAX;
  std::unique_ptr<RunPlot> plot;
  if (!o.plot_path.empty()) {
    plot = std::make_unique<RunPlot>(r.nodes, "numaslab-stress: topology " + o.topology + ", " +
                                                  std::to_string(o.threads) + " workers");
    plot->sample(0, 0);
  }
  constexpr std::int64_t kPlotEveryMs = 100;
  std::int64_t next_sample = plot ? kPlotEveryMs : INT64_MAX;
  std::int64_t last_t = 0;
  std::uint64_t last_ops = 0;
  for (;;) {
    const std::int64_t t = now_ms();
    if (t >= end_ms) break;
    if (realcpu::interrupted()) {
      r.interrupted = true;
      break;
    }
    if (t >= next_progress) {
      const std::uint64_t ops = r.totals().ops();
      progress_line(r, t, ops - last_ops, static_cast<double>(t - last_t) / 1000.0);
      last_ops = ops;
      last_t = t;
      next_progress += 1000;
    }
    if (t >= next_verify) {
      interval_verify(r);
      next_verify += verify_every;
    }
    if (t >= next_sample) {
      plot->sample(static_cast<double>(t) / 1000.0, r.totals().ops());
      while (next_sample <= t) next_sample += kPlotEveryMs;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<std::int64_t>(
        20, std::max<std::int64_t>(
                1, std::min({end_ms, next_progress, next_verify, next_sample}) - t))));
  }
  r.elapsed_s = static_cast<double>(now_ms()) / 1000.0;
  if (plot) plot->sample(r.elapsed_s, r.totals().ops());
  {
    const std::int64_t t = now_ms();
    const std::int64_t frac = t % 1000;
    if (t - last_t >= 250)
      progress_line(r, t, r.totals().ops() - last_ops, static_cast<double>(t - last_t) / 1000.0,
                    frac > 50 && frac < 950);
  }
  if (r.interrupted) out("interrupted after %.1f s: shutting down\n", r.elapsed_s);

  // ---- shutdown: hotplug off, CPUs up, workers off, every object released
  if (r.tuner) {
    r.set_phase("stopping the tuner");
    r.tuner->stop_and_join();
  }
  if (r.hotplug) {
    r.set_phase("stopping the hotplug thread");
    r.hotplug->stop_and_join();
    r.set_phase("bringing every CPU back up");
    r.hotplug->bring_all_up();
    if (r.hotplug->real())
      out(
          "real hotplug: %llu offline and %llu online transitions of CPU(s)%s; all restored, "
          "/sys/devices/system/cpu/online = %s\n",
          static_cast<unsigned long long>(r.hotplug->counters().downs.load()),
          static_cast<unsigned long long>(r.hotplug->counters().ups.load()),
          [&] {
            std::string s;
            for (int c : r.real_cpus) s += " " + std::to_string(c);
            return s;
          }()
              .c_str(),
          realcpu::system_online_list().c_str());
  }
  r.set_phase("stopping the workers");
  r.shared.stop_workers.store(true, std::memory_order_relaxed);
  for (auto& w : r.workers) w->join();
  r.set_phase("releasing objects left in inboxes");
  for (auto& w : r.workers) w->release_inbox_leftovers();
  const Totals t = r.totals();
  if (t.live() != 0)
    r.extra_failures.push_back(std::to_string(t.live()) +
                               " objects could not be released (see errors)");

  r.set_phase("final numaslab_verify");
  {
    std::vector<char> buf(kVerifyBuf);
    r.final_verify = numaslab_verify(buf.data(), buf.size());
    std::string report(buf.data());
    while (!report.empty() && report.back() == '\n') report.pop_back();
    const std::size_t nl = report.rfind('\n');
    r.final_verify_line = nl == std::string::npos ? report : report.substr(nl + 1);
    if (r.final_verify != 0)
      out("final %s\n", report.c_str());
    else
      out("final %s  (every object released)\n", r.final_verify_line.c_str());
  }
  r.set_phase("slabinfo");
  print_slabinfo(r);

  // ---- summary
  numaslab_hotplug_stats hs{};
  numaslab_get_hotplug_stats(&hs);
  const double secs = r.elapsed_s > 0 ? r.elapsed_s : 1e-9;
  out("summary: %.1f s, %d workers: %llu allocator ops (%.0f/s), %llu file ops; %llu allocs, %llu "
      "frees "
      "(cross-thread %llu, remote-node %llu), node-directed %llu (%llu came from another node), "
      "64 KiB blocks %llu; peak %lld live objects\n",
      r.elapsed_s, o.threads, static_cast<unsigned long long>(t.ops()),
      static_cast<double>(t.ops()) / secs, static_cast<unsigned long long>(t.fs_ops),
      static_cast<unsigned long long>(t.allocs), static_cast<unsigned long long>(t.frees),
      static_cast<unsigned long long>(t.cross), static_cast<unsigned long long>(t.remote),
      static_cast<unsigned long long>(t.node_allocs),
      static_cast<unsigned long long>(t.node_mismatch), static_cast<unsigned long long>(t.large),
      static_cast<long long>(r.peak_live));
  std::string ctors;
  for (int k = 0; k < kNumTyped; ++k)
    ctors += std::string(k ? ", " : "") + kTyped[k].name + " " +
             std::to_string(ctor_calls(static_cast<Kind>(k)));
  out("constructors run: %s\n", ctors.c_str());
  if (r.hotplug) {
    const HotplugCounters& h = r.hotplug->counters();
    out("hotplug: %llu events (%llu down, %llu up), %llu downs took the last CPU of a node; "
        "numaslab "
        "counted %llu down / %llu up / %llu last-cpu-of-node, %llu canceled, %llu sim migrations\n",
        static_cast<unsigned long long>(h.ups.load() + h.downs.load()),
        static_cast<unsigned long long>(h.downs.load()),
        static_cast<unsigned long long>(h.ups.load()),
        static_cast<unsigned long long>(h.last_cpu_of_node_downs.load()),
        static_cast<unsigned long long>(hs.downs), static_cast<unsigned long long>(hs.ups),
        static_cast<unsigned long long>(hs.last_cpu_of_node_downs),
        static_cast<unsigned long long>(hs.canceled),
        static_cast<unsigned long long>(hs.sim_migrations));
    // In sim mode the tool is the only source of events: the counts must agree.
    if (!h.ebusy.load() && !r.hotplug->real() && r.shared.sim &&
        (hs.downs != h.downs.load() || hs.ups != h.ups.load() ||
         hs.last_cpu_of_node_downs != h.last_cpu_of_node_downs.load()))
      r.extra_failures.push_back(
          "numaslab_get_hotplug_stats disagrees with the events the tool made");
    if (h.ups.load() + h.downs.load() == 0 && r.elapsed_s >= 1.0 && !r.interrupted)
      r.extra_failures.push_back("no hotplug event succeeded");
  }
  if (r.tuner)
    out("tuner: %llu retunes, %llu reaps (%s given back)\n",
        static_cast<unsigned long long>(r.tuner->tunes()),
        static_cast<unsigned long long>(r.tuner->reaps()), mib(r.tuner->reaped_bytes()).c_str());
  out("verify: %llu interval runs, %llu failed, longest %.1f ms; final: %s\n",
      static_cast<unsigned long long>(r.verify_runs),
      static_cast<unsigned long long>(r.verify_failures), r.verify_ms_max,
      r.final_verify_line.c_str());

  if (plot) {
    const std::string err = plot->write_png(o.plot_path);
    if (err.empty())
      out("plot of %zu samples written to %s\n", plot->samples(), o.plot_path.c_str());
    else
      r.warnings.push_back("--plot " + o.plot_path + ": " + err);
  }
  r.set_phase("destroying the caches");
  r.cache_destroy_failures = destroy_caches(&r.warnings, t.live() != 0);
  {
    std::vector<char> buf(kVerifyBuf);
    r.post_destroy_verify = numaslab_verify(buf.data(), buf.size());
    if (r.post_destroy_verify != 0)
      out("numaslab_verify after destroying the caches:\n%s", buf.data());
  }
  std::string bytes;
  for (int n = 0; n < r.nodes; ++n)
    bytes +=
        std::string(n ? ", " : "") + "n" + std::to_string(n) + " " + mib(numaslab_node_bytes(n));
  out("caches destroyed%s; numaslab now holds %s; errors %llu, warnings %zu\n",
      r.cache_destroy_failures ? " (with FAILURES)" : "", bytes.c_str(),
      static_cast<unsigned long long>(errors().count()), r.warnings.size());
  for (const auto& w : r.warnings)
    out("WARNING: %s%s\n", w.c_str(),
        o.strict ? "" : " (not failing the run; --strict makes it fail)");

  r.finished.store(true);
  r.set_phase("done");
  dog.join();
  const std::string reason = verdict_reason(r);
  const std::string verdict = reason.empty() ? "PASS" : "FAIL: " + reason;
  if (!write_json(r, verdict)) {
    out("verdict: FAIL: %scannot write the summary to %s\n",
        reason.empty() ? "" : (reason + "; ").c_str(), o.json_path.c_str());
    return 1;
  }
  if (!o.json_path.empty()) out("summary written to %s\n", o.json_path.c_str());
  out("verdict: %s\n", verdict.c_str());
  // A report that did not reach its reader is a failed run.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) return 1;
  return reason.empty() ? 0 : 1;
}

}  // namespace
}  // namespace stress

int main(int argc, char** argv) { return stress::run_main(argc, argv); }
