// numaslab-bench, reports: text tables, CSV, markdown, the gnuplot chart.
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "peer_bench.h"

namespace peer_bench {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == sep) {
      out.push_back(cur);
      cur.clear();
    } else if (ch != '\n' || sep == '\n') {
      cur += ch;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

double Series::median() const {
  if (samples.empty()) return NAN;
  std::vector<double> v = samples;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Series::min() const {
  if (samples.empty()) return NAN;
  return *std::min_element(samples.begin(), samples.end());
}

double Series::max() const {
  if (samples.empty()) return NAN;
  return *std::max_element(samples.begin(), samples.end());
}

std::vector<std::string> benchmark_names() {
  std::vector<std::string> names;
  for (std::size_t s : kPairSizes) names.push_back("pair/" + std::to_string(s));
  names.insert(names.end(), {"batch1000", "prodcons", "larson", "crossnode"});
  return names;
}

namespace {

std::string describe(const std::string& bench, const Results& r) {
  if (bench.rfind("pair/", 0) == 0)
    return "alloc+free of " + bench.substr(5) + " B, 1 thread, LIFO; ns per pair";
  if (bench == "batch1000")
    return "1 000 allocs of 64 B, then 1 000 frees; ns per operation (an alloc or a free)";
  if (bench == "prodcons")
    return "producer pinned to CPU 0 allocates 64 B, consumer pinned to CPU 1 frees, SPSC ring "
           "of 1 024; wall ns per object";
  if (bench == "larson")
    return "2 threads (CPUs 0, 1), 1 000 slots of 16..1024 B each: free a random slot, allocate "
           "a random size; arrays swapped every 1 000 ops (~63% of frees are the other thread's "
           "objects); wall ns per alloc+free, both threads together";
  if (bench == "crossnode")
    return "prodcons with numaslab under " + r.crossnode_topology +
           " (CPU 1 on node 1: every free is remote, alien path); peer rows repeat their "
           "prodcons numbers";
  return "";
}

bool is_peer(const std::string& a) {
  const AllocatorInfo* info = find_allocator(a);
  return info && info->peer;
}

// Fastest peer's median in a benchmark, NAN if no peer was measured.
double fastest_peer(const std::map<std::string, Series>& row, std::string* who) {
  double best = NAN;
  for (const auto& [alloc, s] : row) {
    if (!is_peer(alloc) || s.samples.empty()) continue;
    const double m = s.median();
    if (std::isnan(best) || m < best) {
      best = m;
      if (who) *who = alloc;
    }
  }
  return best;
}

std::string fmt(const char* f, double v) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string meta(const Results& r, const std::string& key) {
  auto it = r.meta.find(key);
  return it == r.meta.end() ? std::string() : it->second;
}

// One line on numaslab's configuration, from what its children reported.
std::string policy_line(const Results& r) {
  std::string out;
  for (const char* key : {"numaslab-cache", "numaslab-kmalloc"}) {
    const std::string p = meta(r, std::string(key) + "/slots_policy");
    if (p.empty()) continue;
    out = "numaslab slots policy: " + p + " (topology " + meta(r, std::string(key) + "/topology") +
          ", mode " + meta(r, std::string(key) + "/topology_mode") + ", " +
          meta(r, std::string(key) + "/nodes") + " node(s))";
    break;
  }
  for (const char* key : {"numaslab-cache@crossnode", "numaslab-kmalloc@crossnode"}) {
    const std::string p = meta(r, std::string(key) + "/slots_policy");
    if (p.empty()) continue;
    if (!out.empty()) out += "; ";
    out += "crossnode: slots policy " + p + " (topology " +
           meta(r, std::string(key) + "/topology") + ", " + meta(r, std::string(key) + "/nodes") +
           " nodes";
    const std::string nodes = meta(r, std::string(key) + "/crossnode_nodes");
    auto nv = split(nodes, ' ');
    if (nv.size() == 2) out += ", producer on node " + nv[0] + ", consumer on node " + nv[1];
    out += ")";
    break;
  }
  return out.empty() ? "numaslab slots policy: (numaslab not measured)" : out;
}

std::string statistic_line(const Results& r) {
  return "value: median over " + std::to_string(r.rounds) +
         " rounds (each round runs every allocator once, in a fresh process, rotated order)" +
         (r.quick ? ", --quick iteration counts" : "") +
         "; ratio = allocator / fastest peer (peers: glibc, jemalloc, mimalloc, tcmalloc, tbb)";
}

std::vector<std::string> benches_present(const Results& r) {
  std::vector<std::string> out;
  for (const auto& b : benchmark_names())
    if (r.by_bench.count(b)) out.push_back(b);
  return out;
}

}  // namespace

std::string machine_description() {
  cpu_set_t set;
  CPU_ZERO(&set);
  int nproc = sched_getaffinity(0, sizeof set, &set) == 0
                  ? CPU_COUNT(&set)
                  : static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  std::string model = "?";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  std::string mem;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind("MemTotal:", 0) == 0) {
      long kb = std::atol(line.c_str() + 9);
      mem = ", " + fmt("%.1f", static_cast<double>(kb) / (1024.0 * 1024.0)) + " GiB RAM";
      break;
    }
  utsname u{};
  uname(&u);
  return "nproc " + std::to_string(nproc) + ", " + model + mem + ", kernel " + u.release;
}

std::string format_table(const Results& r) {
  std::ostringstream o;
  o << policy_line(r) << "\n" << statistic_line(r) << "\n";
  for (const std::string& b : benches_present(r)) {
    const auto& row = r.by_bench.at(b);
    std::string best;
    const double base = fastest_peer(row, &best);
    o << "\n== " << b << ": " << describe(b, r) << "\n";
    char line[160];
    std::snprintf(line, sizeof line, "  %-18s %10s %10s %8s\n", "allocator", "ns/op", "min",
                  "ratio");
    o << line;
    for (const std::string& a : r.allocators) {
      auto it = row.find(a);
      if (it == row.end() || it->second.samples.empty()) continue;
      const double m = it->second.median();
      std::snprintf(line, sizeof line, "  %-18s %10.2f %10.2f %8s%s\n", a.c_str(), m,
                    it->second.min(), fmt("%.2f", m / base).c_str(),
                    a == best ? "  (fastest peer)" : "");
      o << line;
    }
  }
  // The whole run at a glance: ratios only.
  o << "\nratio to the fastest peer (ns/op of the allocator / ns/op of the fastest peer)\n";
  char cell[64];
  std::snprintf(cell, sizeof cell, "  %-11s", "benchmark");
  o << cell;
  for (const std::string& a : r.allocators) {
    std::snprintf(cell, sizeof cell, " %9.9s",
                  a.rfind("numaslab-", 0) == 0 ? a.c_str() + 9 : a.c_str());
    o << cell;
  }
  o << "\n";
  for (const std::string& b : benches_present(r)) {
    const auto& row = r.by_bench.at(b);
    const double base = fastest_peer(row, nullptr);
    std::snprintf(cell, sizeof cell, "  %-11s", b.c_str());
    o << cell;
    for (const std::string& a : r.allocators) {
      auto it = row.find(a);
      const double v = it == row.end() ? NAN : it->second.median() / base;
      std::snprintf(cell, sizeof cell, " %9s", fmt("%.2f", v).c_str());
      o << cell;
    }
    o << "\n";
  }
  o << "  (cache = numaslab-cache, kmalloc = numaslab-kmalloc)\n";
  for (const std::string& n : r.notes) o << "note: " << n << "\n";
  return o.str();
}

std::string format_csv(const Results& r) {
  std::ostringstream o;
  o << "benchmark,allocator,min_ns,median_ns,max_ns,ratio\n";
  for (const std::string& b : benches_present(r)) {
    const double base = fastest_peer(r.by_bench.at(b), nullptr);
    for (const std::string& a : r.allocators) {
      auto it = r.by_bench.at(b).find(a);
      if (it == r.by_bench.at(b).end() || it->second.samples.empty()) continue;
      const Series& s = it->second;
      o << b << "," << a << "," << fmt("%.3f", s.min()) << "," << fmt("%.3f", s.median()) << ","
        << fmt("%.3f", s.max()) << ","
        << (std::isnan(base) ? std::string() : fmt("%.3f", s.median() / base)) << "\n";
    }
  }
  return o.str();
}

std::string format_callgrind(const CallgrindResults& cg) {
  std::ostringstream o;
  o << "\ninstructions per pair/64 under valgrind --tool=callgrind: (Ir(" << 2 * cg.n
    << " pairs) - Ir(" << cg.n << " pairs)) / " << cg.n
    << "; includes the loop's own ~3 instructions\n";
  char line[256];
  for (const CallgrindRow& row : cg.rows) {
    if (!row.error.empty()) {
      std::snprintf(line, sizeof line, "  %-18s %s\n", row.allocator.c_str(), row.error.c_str());
    } else {
      std::snprintf(
          line, sizeof line, "  %-18s %8.1f Ir/pair%s\n", row.allocator.c_str(), row.ir_per_pair,
          row.policy.empty() ? ""
                             : ("  (slots policy under valgrind: " + row.policy + ")").c_str());
    }
    o << line;
  }
  return o.str();
}

std::string format_markdown(const Results& r, const CallgrindResults* cg) {
  std::ostringstream o;
  o << "# numaslab-bench: numaslab next to other allocators\n\n";
  o << "- Command: `" << r.command << "`\n";
  o << "- Date: " << r.started_at << "\n";
  o << "- Machine: " << machine_description() << "\n";
  o << "- Load average (1, 5, 15 min): " << r.load_before << " before, " << r.load_after
    << " after\n";
  if (r.seconds > 0) o << "- Timed part took " << fmt("%.0f", r.seconds) << " s\n";
  o << "- " << policy_line(r) << "\n";
  o << "- " << statistic_line(r) << "\n";
  o << "- Peers are preloaded (`LD_PRELOAD`) into a child that calls malloc/free; numaslab "
       "children call `numaslab_cache_alloc/free` (numaslab-cache) or "
       "`numaslab_kmalloc/kfree` (numaslab-kmalloc).\n";

  const auto benches = benches_present(r);
  if (!r.plot_link.empty()) o << "\n![ratios to the fastest peer](" << r.plot_link << ")\n";
  if (!benches.empty()) {
    o << "\n## Summary: ns/op (ratio to the fastest peer)\n\n| benchmark |";
    for (const auto& a : r.allocators) o << " " << a << " |";
    o << "\n|---|";
    for (std::size_t i = 0; i < r.allocators.size(); ++i) o << "---:|";
    o << "\n";
    for (const auto& b : benches) {
      const auto& row = r.by_bench.at(b);
      std::string best;
      const double base = fastest_peer(row, &best);
      o << "| " << b << " |";
      for (const auto& a : r.allocators) {
        auto it = row.find(a);
        if (it == row.end() || it->second.samples.empty()) {
          o << " – |";
          continue;
        }
        const double m = it->second.median();
        const std::string cell = fmt("%.2f", m) + " (" + fmt("%.2f", m / base) + ")";
        o << " " << (a == best ? "**" + cell + "**" : cell) << " |";
      }
      o << "\n";
    }
    o << "\nBold: the fastest peer. –: not applicable (larson needs variable sizes; a "
         "numaslab object cache has one).\n";

    o << "\n## Per workload\n";
    for (const auto& b : benches) {
      const auto& row = r.by_bench.at(b);
      std::string best;
      const double base = fastest_peer(row, &best);
      o << "\n### " << b << "\n\n" << describe(b, r) << ".\n\n";
      o << "| allocator | ns/op (median) | min | ratio |\n|---|---:|---:|---:|\n";
      for (const auto& a : r.allocators) {
        auto it = row.find(a);
        if (it == row.end() || it->second.samples.empty()) continue;
        const double m = it->second.median();
        o << "| " << a << (a == best ? " (fastest peer)" : "") << " | " << fmt("%.2f", m) << " | "
          << fmt("%.2f", it->second.min()) << " | " << fmt("%.2f", m / base) << " |\n";
      }
    }
  }
  if (cg) {
    o << "\n## Instructions per pair/64 (valgrind --tool=callgrind)\n\n";
    o << "(Ir of " << 2 * cg->n << " pairs - Ir of " << cg->n << " pairs) / " << cg->n
      << ", whole process, background threads off (NUMASLAB_WATCH_MS=0, NUMASLAB_REAP=0); "
         "includes the benchmark loop's own few instructions. Valgrind does not implement "
         "rseq, so under it numaslab runs its locked per-CPU slots, not the rseq fast path "
         "it uses natively.\n\n";
    o << "| allocator | Ir per pair | slots policy under valgrind |\n|---|---:|---|\n";
    for (const auto& row : cg->rows)
      o << "| " << row.allocator << " | "
        << (row.error.empty() ? fmt("%.1f", row.ir_per_pair) : row.error) << " | "
        << (row.policy.empty() ? "–" : row.policy) << " |\n";
  }
  if (!r.notes.empty()) {
    o << "\n## Notes\n\n";
    for (const auto& n : r.notes) o << "- " << n << "\n";
  }
  return o.str();
}

std::string plot_ratios(const Results& r, const std::string& png) {
  const auto benches = benches_present(r);
  if (benches.empty()) return "nothing to plot";
  char tmpl[] = "/tmp/numaslab-bench-plot.XXXXXX";
  const char* dir = mkdtemp(tmpl);
  if (!dir) return "mkdtemp failed";
  const std::string data = std::string(dir) + "/ratios.dat";
  const std::string script = std::string(dir) + "/ratios.gp";

  double lo = 1, hi = 1;
  {
    std::ofstream d(data);
    d << "benchmark";
    for (const auto& a : r.allocators) d << " \"" << a << "\"";
    d << "\n";
    for (const auto& b : benches) {
      const auto& row = r.by_bench.at(b);
      const double base = fastest_peer(row, nullptr);
      d << "\"" << b << "\"";
      for (const auto& a : r.allocators) {
        auto it = row.find(a);
        double v = it == row.end() || it->second.samples.empty() ? NAN : it->second.median() / base;
        if (std::isnan(v)) {
          d << " ?";
        } else {
          lo = std::min(lo, v);
          hi = std::max(hi, v);
          d << " " << fmt("%.4f", v);
        }
      }
      d << "\n";
    }
  }
  // Log scale, whole powers of two around the data, so 0.5x and 2x look alike.
  const double ymin = std::pow(2.0, std::floor(std::log2(lo)) - (lo == 1 ? 1 : 0));
  const double ymax = std::pow(2.0, std::ceil(std::log2(hi * 1.05)));
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char ch : s) {
      if (ch == '"' || ch == '\\') q += '\\';
      q += ch;
    }
    return q + "\"";
  };
  {
    std::ofstream g(script);
    g << "set terminal pngcairo size 1500,650 enhanced font 'DejaVu Sans,10'\n"
      << "set output " << quote(png) << "\n"
      << "set title "
      << quote("numaslab-bench: ns/op relative to the fastest peer (lower is better; median of " +
               std::to_string(r.rounds) + " rounds" + (r.quick ? ", --quick" : "") + ")")
      << "\n"
      << "set datafile missing '?'\n"
      << "set style data histograms\n"
      << "set style histogram clustered gap 1\n"
      << "set style fill solid 0.85 border rgb 'black'\n"
      << "set boxwidth 0.9\n"
      << "set logscale y 2\n"
      << "set yrange [" << ymin << ":" << ymax << "]\n"
      << "set ytics format '%gx'\n"
      << "set ylabel 'ratio to the fastest peer (log scale)'\n"
      << "set grid ytics\n"
      << "set key outside right top vertical\n"
      << "set xtics nomirror rotate by -25 left\n"
      << "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc rgb 'black' "
         "front\n"
      << "set linetype 1 lc rgb '#4e79a7'\nset linetype 2 lc rgb '#f28e2b'\n"
      << "set linetype 3 lc rgb '#59a14f'\nset linetype 4 lc rgb '#b07aa1'\n"
      << "set linetype 5 lc rgb '#9c755f'\nset linetype 6 lc rgb '#e15759'\n"
      << "set linetype 7 lc rgb '#76b7b2'\n"
      << "plot for [i=2:" << r.allocators.size() + 1 << "] " << quote(data)
      << " using i:xtic(1) title columnheader(i)\n";
  }
  const std::string cmd = "gnuplot " + quote(script) + " 2>&1";
  std::string err;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) err += buf;
    int st = pclose(p);
    if (st != 0) {
      err = "gnuplot failed (status " + std::to_string(st) + "): " + err;
    } else {
      if (!err.empty()) std::fprintf(stderr, "gnuplot: %s", err.c_str());  // warnings only
      err.clear();
    }
  } else {
    err = "cannot run gnuplot";
  }
  std::error_code ec;
  if (err.empty() &&
      (!std::filesystem::exists(png, ec) || std::filesystem::file_size(png, ec) == 0))
    err = "gnuplot wrote no image";
  if (err.empty()) {
    std::remove(data.c_str());
    std::remove(script.c_str());
    rmdir(dir);
  } else {
    err += " (data and script kept in " + std::string(dir) + ")";
  }
  return err;
}

}  // namespace peer_bench
