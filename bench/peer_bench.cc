// numaslab-bench: numaslab's object caches and kmalloc next to glibc malloc,
// jemalloc, mimalloc, gperftools tcmalloc and TBB's scalable allocator, in one
// run, with ratios to the fastest peer.
//
// How: the program re-runs itself (fork + exec of its own binary with the
// hidden option --child ALLOCATOR) once per allocator and round. A peer's
// child gets LD_PRELOAD=<the peer's library> (glibc: nothing) and measures
// plain malloc/free; numaslab's children preload nothing and call the C API
// after numaslab_init(--topology). Children write their results as text lines
// to a pipe. Each round runs every child once, in a rotated order, so a burst
// of load from elsewhere is spread over allocators instead of hitting one;
// the reported value is the median over rounds.
//
// Workloads (see peer_workloads.cc): pair/<size>, batch1000, prodcons,
// larson, crossnode (numaslab under --crossnode-topology, default
// map:0=0,1=1: CPU 1 on node 1, so every free is a remote-node free).
//
// --callgrind counts instructions per pair/64 under valgrind instead of
// timing it: Ir(2N pairs) - Ir(N pairs), divided by N.
//
// --workloads runs the other suite instead: the classic allocator programs
// of workloads/ under every peer and numaslab's malloc shim, timed and
// measured through the hidden --launch helper (workload_suite.h).
//
// Performance is never a ctest test: this is a program to run by hand. (The
// bench_workloads test runs --workloads for its checksums, not its times.)
#include "peer_bench.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "numaslab/numaslab.h"
#include "workload_suite.h"

namespace peer_bench {

const AllocatorInfo* find_allocator(const std::string& name) {
  for (const AllocatorInfo& a : kAllocators)
    if (name == a.name) return &a;
  return nullptr;
}

namespace {

// ---------------------------------------------------------------------------
// The timed run.

struct Job {
  std::string allocator;  // child --child value
  std::string key;        // prefix of meta keys
  std::string topology;
  std::string workloads;
  std::vector<std::string> env;
};

struct Options {
  bool quick = false;
  std::string format = "table";
  std::string plot;
  std::string csv_out, md_out;
  std::string topology = "real";
  std::string crossnode_topology = "map:0=0,1=1";
  int rounds = 0;  // 0: 9 full, 3 quick
  std::vector<std::string> allocators;
  bool callgrind = false;
  bool callgrind_only = false;
  long callgrind_pairs = 100000;
  double max_load = 0;  // 0: no wait; else wait (up to 10 min) until load1 <= this
};

void absorb(const Job& job, const ChildResult& cr, Results& res, std::set<std::string>& notes) {
  for (const std::string& line : cr.lines) {
    auto f = split(line, ' ');
    if (f.size() >= 3 && f[0] == "result") {
      res.by_bench[f[1]][job.allocator].samples.push_back(std::atof(f[2].c_str()));
    } else if (f.size() >= 2 && f[0] == "meta") {
      std::string value = line.substr(line.find(f[1]) + f[1].size());
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      res.meta[job.key + "/" + f[1]] = value;
    } else if (f.size() >= 2 && f[0] == "note") {
      notes.insert(job.key + ": " + line.substr(5));
    }
  }
  if (!cr.ok()) notes.insert(job.key + ": child failed (" + cr.describe() + ")");
}

Results run_timed(const Options& o, const std::string& exe, const std::string& command) {
  Results res;
  res.quick = o.quick;
  res.topology = o.topology;
  res.crossnode_topology = o.crossnode_topology;
  res.rounds = o.rounds > 0 ? o.rounds : (o.quick ? 3 : 9);
  res.command = command;
  std::set<std::string> notes;

  auto wanted = [&](const std::string& name) {
    return o.allocators.empty() ||
           std::find(o.allocators.begin(), o.allocators.end(), name) != o.allocators.end();
  };

  std::vector<Job> jobs;
  for (const AllocatorInfo& a : kAllocators) {
    if (!wanted(a.name)) continue;
    Job j{a.name, a.name, o.topology, "pair,batch,prodcons,larson", {"LD_PRELOAD"}};
    if (a.preload) {
      const std::string path = find_in_linker_cache(a.preload);
      if (path.empty()) {
        notes.insert(std::string(a.name) + ": " + a.preload +
                     " is not in the dynamic linker's cache (ldconfig -p); skipped");
        continue;
      }
      j.env = {"LD_PRELOAD=" + path};
    }
    jobs.push_back(j);
    res.allocators.push_back(a.name);
  }
  // Cross-node: the numaslab children again, under the map topology, without
  // the hotplug watcher.
  for (const char* name : {"numaslab-cache", "numaslab-kmalloc"})
    if (wanted(name))
      jobs.push_back({name,
                      std::string(name) + "@crossnode",
                      o.crossnode_topology,
                      "crossnode",
                      {"LD_PRELOAD", "NUMASLAB_WATCH_MS=0"}});

  const int timeout_s = o.quick ? 120 : 600;
  const auto t_start = std::chrono::steady_clock::now();
  for (int round = 0; round < res.rounds; ++round) {
    std::fprintf(stderr, "round %d/%d (load %s):", round + 1, res.rounds, loadavg().c_str());
    for (std::size_t k = 0; k < jobs.size(); ++k) {
      const Job& job = jobs[(k + static_cast<std::size_t>(round)) % jobs.size()];
      std::fprintf(stderr, " %s", job.key.c_str());
      std::vector<std::string> argv = {exe,           "--child",     job.allocator,
                                       "--topology",  job.topology,  "--child-workloads",
                                       job.workloads, "--result-fd", std::to_string(kResultFd)};
      if (o.quick) argv.push_back("--quick");
      ChildResult cr = run_process(argv, make_env(job.env), timeout_s, false);
      absorb(job, cr, res, notes);
    }
    std::fprintf(stderr, "\n");
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

  // The preload must have taken: malloc resolved in the peer's library.
  for (const AllocatorInfo& a : kAllocators) {
    if (!a.preload) continue;
    auto it = res.meta.find(std::string(a.name) + "/malloc_from");
    if (it == res.meta.end()) continue;
    if (basename_real(it->second) != basename_real(find_in_linker_cache(a.preload)))
      notes.insert(std::string(a.name) + ": malloc resolved to " + it->second +
                   ", not the preloaded library: its numbers are not the peer's");
  }
  // Peers have no cross-node mode: their row is their prodcons measurement.
  auto pc = res.by_bench.find("prodcons");
  if (pc != res.by_bench.end())
    for (const AllocatorInfo& a : kAllocators)
      if (a.peer && pc->second.count(a.name))
        res.by_bench["crossnode"][a.name] = pc->second[a.name];

  res.notes.assign(notes.begin(), notes.end());
  return res;
}

// ---------------------------------------------------------------------------
// Instructions per pair under callgrind.

unsigned long long callgrind_total(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  unsigned long long summary = 0, totals = 0;
  while (std::getline(in, line)) {
    if (line.rfind("summary:", 0) == 0) summary = std::strtoull(line.c_str() + 8, nullptr, 10);
    if (line.rfind("totals:", 0) == 0) totals = std::strtoull(line.c_str() + 7, nullptr, 10);
  }
  return totals ? totals : summary;
}

CallgrindResults run_callgrind(const Options& o, const std::string& exe) {
  CallgrindResults out;
  out.n = o.callgrind_pairs;
  char tmpl[] = "/tmp/numaslab-bench-cg.XXXXXX";
  const char* dir = mkdtemp(tmpl);
  if (!dir) {
    out.rows.push_back({"-", 0, 0, 0, "", std::string("mkdtemp: ") + std::strerror(errno)});
    return out;
  }
  // Fast paths first, then the peers, as in the brief: numaslab-cache,
  // glibc and mimalloc at least; the others cost a few seconds more.
  const char* order[] = {"numaslab-cache", "numaslab-kmalloc", "glibc", "mimalloc",
                         "jemalloc",       "tcmalloc",         "tbb"};
  for (const char* name : order) {
    if (!o.allocators.empty() &&
        std::find(o.allocators.begin(), o.allocators.end(), name) == o.allocators.end())
      continue;
    const AllocatorInfo* a = find_allocator(name);
    CallgrindRow row;
    row.allocator = name;
    const std::string path = a->preload ? find_in_linker_cache(a->preload) : "";
    if (a->preload && path.empty()) {
      row.error = std::string(a->preload) + " not in the dynamic linker's cache";
      out.rows.push_back(row);
      continue;
    }
    // No background threads: their wake-ups scale with the (valgrind-slowed)
    // run time and would not cancel out of the N vs 2N difference.
    std::vector<std::string> env = {"NUMASLAB_WATCH_MS=0", "NUMASLAB_REAP=0", "LD_PRELOAD"};
    if (a->preload) env.back() = "LD_PRELOAD=" + path;
    unsigned long long ir[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      const long n = out.n * (k + 1);
      const std::string file = std::string(dir) + "/" + name + "." + std::to_string(n);
      std::vector<std::string> argv = {"valgrind",
                                       "-q",
                                       "--tool=callgrind",
                                       "--callgrind-out-file=" + file,
                                       exe,
                                       "--child",
                                       name,
                                       "--topology",
                                       o.topology,
                                       "--pairs",
                                       std::to_string(n),
                                       "--result-fd",
                                       std::to_string(kResultFd)};
      std::fprintf(stderr, "callgrind: %s, %ld pairs\n", name, n);
      ChildResult cr = run_process(argv, make_env(env), 600, true);
      for (const auto& line : cr.lines)
        if (line.rfind("meta slots_policy ", 0) == 0) row.policy = line.substr(18);
      if (!cr.ok()) {
        row.error = "valgrind run failed (" + cr.describe() + ")";
        break;
      }
      ir[k] = callgrind_total(file);
      std::remove(file.c_str());
      if (ir[k] == 0) {
        row.error = "no instruction total in " + file;
        break;
      }
    }
    if (row.error.empty()) {
      row.ir_n = ir[0];
      row.ir_2n = ir[1];
      row.ir_per_pair =
          (static_cast<double>(ir[1]) - static_cast<double>(ir[0])) / static_cast<double>(out.n);
    }
    out.rows.push_back(row);
  }
  rmdir(dir);
  return out;
}

// The chart's path as the markdown report links it: relative to the report.
std::string plot_link_for(const std::string& plot, const std::string& md_out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path base =
      md_out.empty() ? fs::current_path(ec) : fs::absolute(md_out, ec).parent_path();
  const std::string link = fs::absolute(plot, ec).lexically_relative(base).string();
  return link.empty() ? plot : link;
}

}  // namespace
}  // namespace peer_bench

int main(int argc, char** argv) {
  using namespace peer_bench;
  // First, before anything else allocates: the launcher's peak RSS is what
  // its program's starts from.
  if (argc >= 2 && std::strcmp(argv[1], kLaunchFlag) == 0) return launch_main(argc, argv);

  std::string command;
  for (int i = 0; i < argc; ++i) {
    if (i) command += ' ';
    command += i == 0 ? std::filesystem::path(argv[0]).filename().string() : argv[i];
  }

  Options o;
  ChildConfig child;
  SuiteOptions suite;
  bool workloads = false;
  std::string allocators, only;
#ifdef NUMASLAB_BENCH_MALLOC_SHIM
  suite.shim = NUMASLAB_BENCH_MALLOC_SHIM;
  suite.shim_origin = "built with this program";
#endif
  CLI::App app{
      "numaslab-bench: numaslab's object caches and kmalloc next to glibc, jemalloc, mimalloc, "
      "tcmalloc and TBB malloc, in one run (each allocator in its own child process). Values are "
      "medians over rounds; ratio = ns/op divided by the fastest peer's ns/op. With --workloads: "
      "the classic allocator workloads (larson, cfrac, xmalloc, ...) under every allocator and "
      "numaslab's malloc shim, wall time and peak RSS, ratios to the best peer; a checksum that "
      "differs between allocators, or a crash, makes the exit status 1."};
  app.set_version_flag("--version", std::string("numaslab-bench ") + numaslab_version());
  app.add_flag("--quick", o.quick, "fewer rounds and iterations (under a minute)");
  app.add_option("--format", o.format, "stdout format")
      ->check(CLI::IsMember({"table", "csv", "md"}))
      ->capture_default_str();
  app.add_option("--plot", o.plot, "draw the ratios as a grouped bar chart (PNG, gnuplot)");
  app.add_option("--csv", o.csv_out, "also write the CSV to this file");
  app.add_option("--md", o.md_out, "also write the markdown report to this file");
  app.add_option("--topology", o.topology, "numaslab topology (numaslab_init)")
      ->capture_default_str();
  app.add_option("--crossnode-topology", o.crossnode_topology,
                 "numaslab topology of the crossnode workload")
      ->capture_default_str();
  app.add_option("--rounds", o.rounds, "rounds (default 9, with --workloads 5; --quick 3)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--allocators", allocators,
                 "comma-separated subset of: glibc,jemalloc,mimalloc,tcmalloc,tbb,numaslab-cache,"
                 "numaslab-kmalloc (with --workloads: glibc,jemalloc,mimalloc,tcmalloc,tbb,"
                 "numaslab)");
  app.add_flag("--callgrind", o.callgrind,
               "also count instructions per pair/64 with valgrind --tool=callgrind");
  app.add_flag("--callgrind-only", o.callgrind_only, "only the callgrind measurement");
  app.add_option("--callgrind-pairs", o.callgrind_pairs, "N for Ir(2N) - Ir(N)")
      ->check(CLI::Range(1000L, 100000000L))
      ->capture_default_str();
  app.add_option("--max-load", o.max_load,
                 "wait (up to 10 minutes) until the 1-minute load average is at most this");
  auto* wl_group = "Workload suite (--workloads)";
  app.add_flag("--workloads", workloads,
               "run the classic allocator workloads instead of the microbenchmarks")
      ->group(wl_group);
  app.add_option("--only", only, "comma-separated subset of the workloads")->group(wl_group);
  app.add_option("--scale", suite.scale, "work per workload (default 1, --quick 0.1)")
      ->check(CLI::Range(0.001, 1000.0))
      ->group(wl_group);
  app.add_option("--shim", suite.shim,
                 "numaslab's malloc shim to preload (default: libnumaslab-malloc.so of this build, "
                 "when the build has one)")
      ->group(wl_group);
  app.add_option("--workload-dir", suite.workload_dir,
                 "where the wl-* programs are (default: workloads/ beside this program)")
      ->group(wl_group);
  // Hidden: the child side.
  app.add_option("--child", child.allocator)->group("");
  app.add_option("--child-workloads", child.workloads)->group("");
  app.add_option("--result-fd", child.result_fd)->group("");
  app.add_option("--pairs", child.pairs_only)->group("");
  CLI11_PARSE(app, argc, argv);

  if (!child.allocator.empty()) {
    child.topology = o.topology;
    child.quick = o.quick;
    if (child.workloads.empty()) child.workloads = "pair,batch,prodcons,larson";
    return run_child(child);
  }

  if (app.count("--shim")) {
    suite.shim_origin = "--shim";
    if (access(suite.shim.c_str(), R_OK) != 0) {
      std::fprintf(stderr, "numaslab-bench: --shim %s: %s\n", suite.shim.c_str(),
                   std::strerror(errno));
      return 2;
    }
  }
  if (!allocators.empty()) {
    o.allocators = split(allocators, ',');
    const std::vector<std::string> known = suite_allocator_names();
    for (const auto& a : o.allocators)
      if (workloads ? std::find(known.begin(), known.end(), a) == known.end()
                    : !find_allocator(a)) {
        std::fprintf(stderr, "numaslab-bench: unknown allocator '%s'\n", a.c_str());
        return 2;
      }
  }
  if (!only.empty()) {
    suite.workloads = split(only, ',');
    for (const auto& w : suite.workloads)
      if (!find_workload(w)) {
        std::fprintf(stderr, "numaslab-bench: unknown workload '%s'\n", w.c_str());
        return 2;
      }
  }
  if (o.callgrind_only) o.callgrind = true;
  if (workloads && o.callgrind) {
    std::fprintf(stderr, "numaslab-bench: --callgrind does not apply to --workloads\n");
    return 2;
  }

  if (o.max_load > 0) {
    for (int waited = 0; load1() > o.max_load && waited < 600; waited += 10) {
      std::fprintf(stderr, "load %s above %.2f; waiting\n", loadavg().c_str(), o.max_load);
      sleep(10);
    }
  }

  const std::string exe = self_exe();
  const std::string started_at = now_iso();
  const std::string load_before = loadavg();
  std::vector<std::string> load_notes;
  warn_about_load("before", &load_notes);
  Results res;
  SuiteResults suite_res;
  CallgrindResults cg;
  if (workloads) {
    suite.quick = o.quick;
    suite.rounds = o.rounds;
    suite.allocators = o.allocators;
    suite_res = run_suite(suite, command);
  } else if (!o.callgrind_only) {
    res = run_timed(o, exe, command);
  } else {
    res.command = command;
    res.topology = o.topology;
    res.crossnode_topology = o.crossnode_topology;
  }
  if (o.callgrind) cg = run_callgrind(o, exe);
  RunInfo& info = workloads ? static_cast<RunInfo&>(suite_res) : res;
  info.started_at = started_at;
  info.load_before = load_before;
  info.load_after = loadavg();
  warn_about_load("after", &load_notes);
  info.notes.insert(info.notes.end(), load_notes.begin(), load_notes.end());
  const bool timed = workloads || !o.callgrind_only;
  if (!o.plot.empty() && timed) info.plot_link = plot_link_for(o.plot, o.md_out);

  auto markdown = [&] {
    return workloads ? format_suite_markdown(suite_res)
                     : format_markdown(res, o.callgrind ? &cg : nullptr);
  };
  auto csv = [&] { return workloads ? format_suite_csv(suite_res) : format_csv(res); };
  if (timed) {
    std::string text = o.format == "csv"  ? csv()
                       : o.format == "md" ? markdown()
                       : workloads        ? format_suite_table(suite_res)
                                          : format_table(res);
    std::fputs(text.c_str(), stdout);
  }
  if (o.callgrind && o.format != "md") std::fputs(format_callgrind(cg).c_str(), stdout);
  std::fflush(stdout);

  int rc = workloads && !suite_res.failures.empty() ? 1 : 0;
  if (!o.csv_out.empty() && !write_text(o.csv_out, csv())) rc = 1;
  if (!o.md_out.empty() && !write_text(o.md_out, markdown())) rc = 1;
  if (!o.plot.empty() && timed) {
    std::string err = workloads ? plot_suite(suite_res, o.plot) : plot_ratios(res, o.plot);
    if (!err.empty()) {
      std::fprintf(stderr, "numaslab-bench: plot: %s\n", err.c_str());
      rc = 1;
    }
  }
  return rc;
}
