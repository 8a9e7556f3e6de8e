// numaslab-bench, reports: text tables, CSV, markdown, the gnuplot chart.
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "peer_bench.h"

namespace peer_bench {

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

std::string format_table(const Results& r) {
  std::ostringstream o;
  o << policy_line(r) << "\n" << statistic_line(r) << "\n";
  for (const std::string& b : benches_present(r)) {
    const auto& row = r.by_bench.at(b);
    std::string best;
    const double base = best_peer(row, &best);
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
    const double base = best_peer(row, nullptr);
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
    const double base = best_peer(r.by_bench.at(b), nullptr);
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
  o << markdown_preamble("numaslab-bench: numaslab next to other allocators", r,
                         {policy_line(r), statistic_line(r),
                          "Peers are preloaded (`LD_PRELOAD`) into a child that calls "
                          "malloc/free; numaslab children call `numaslab_cache_alloc/free` "
                          "(numaslab-cache) or `numaslab_kmalloc/kfree` (numaslab-kmalloc)."});

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
      const double base = best_peer(row, &best);
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
      const double base = best_peer(row, &best);
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
  RatioPanel p;
  p.title = "numaslab-bench: ns/op relative to the fastest peer (lower is better; median of " +
            std::to_string(r.rounds) + " rounds" + (r.quick ? ", --quick" : "") + ")";
  p.ylabel = "ratio to the fastest peer (log scale)";
  p.groups = benches_present(r);
  p.series = r.allocators;
  for (const auto& b : p.groups) {
    const auto& row = r.by_bench.at(b);
    const double base = best_peer(row, nullptr);
    auto& values = p.values.emplace_back();
    for (const auto& a : r.allocators) {
      auto it = row.find(a);
      values.push_back(it == row.end() || it->second.samples.empty() ? NAN
                                                                     : it->second.median() / base);
    }
  }
  return plot_ratio_panels({p}, png);
}

}  // namespace peer_bench
