// numaslab-bench --workloads: the reports (workload_suite.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "peer_bench.h"
#include "workload_suite.h"

namespace peer_bench {
namespace {

using Table = std::map<std::string, std::map<std::string, Series>>;  // [workload][allocator]

// One measured quantity and how it is shown.
struct Metric {
  const char* title;  // "wall time, s"
  const char* key;    // the CSV's and the chart's word
  const Table* data;
  double unit;         // shown value = median / unit
  const char* format;  // of a shown value
};

std::vector<Metric> metrics(const SuiteResults& r) {
  return {{"wall time, s", "time", &r.time, 1.0, "%.3f"},
          {"peak RSS, MiB", "peak RSS", &r.rss, 1024.0 * 1024.0, "%.1f"}};
}

const Series* series(const Metric& m, const std::string& w, const std::string& a) {
  auto row = m.data->find(w);
  if (row == m.data->end()) return nullptr;
  auto it = row->second.find(a);
  return it == row->second.end() || it->second.samples.empty() ? nullptr : &it->second;
}

// median / the best peer's median; NAN when either is missing.
double ratio(const Metric& m, const std::string& w, const std::string& a, std::string* best) {
  const Series* s = series(m, w, a);
  auto row = m.data->find(w);
  if (!s || row == m.data->end()) return NAN;
  return s->median() / best_peer(row->second, best);
}

double geomean_ratio(const Metric& m, const SuiteResults& r, const std::string& a) {
  std::vector<double> ratios;
  for (const auto& w : r.workloads) {
    const double v = ratio(m, w, a, nullptr);
    if (!std::isnan(v) && v > 0) ratios.push_back(v);
  }
  return geomean(ratios);
}

bool failed(const SuiteResults& r, const std::string& w, const std::string& a) {
  auto row = r.failed.find(w);
  return row != r.failed.end() && row->second.count(a);
}

// Rows of cells: a header, one row per workload, the geomean row.
// Cell: "value (ratio)", "FAIL", or "-"; emphasis marks the best peer.
std::vector<std::vector<std::string>> grid(const SuiteResults& r, const Metric& m,
                                           const std::string& emphasis) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"workload"});
  rows[0].insert(rows[0].end(), r.allocators.begin(), r.allocators.end());
  for (const auto& w : r.workloads) {
    std::string best;
    auto& row = rows.emplace_back(std::vector<std::string>{w});
    for (const auto& a : r.allocators) {
      const Series* s = series(m, w, a);
      if (!s) {
        row.push_back(failed(r, w, a) ? "FAIL" : "-");
        continue;
      }
      const double v = ratio(m, w, a, &best);
      std::string c = fmt(m.format, s->median() / m.unit) + " (" + fmt("%.2f", v) + ")";
      if (failed(r, w, a)) c += " FAIL";
      row.push_back(a == best ? emphasis + c + emphasis : c);
    }
  }
  auto& gm = rows.emplace_back(std::vector<std::string>{"geomean"});
  for (const auto& a : r.allocators) gm.push_back(fmt("(%.2f)", geomean_ratio(m, r, a)));
  return rows;
}

std::string statistic_line(const SuiteResults& r) {
  return "scale " + fmt("%g", r.scale) + ", median over " + std::to_string(r.rounds) +
         " rounds (each run a fresh process, allocators in a rotated order); ratio = allocator / "
         "best peer of the workload (peers: glibc, jemalloc, mimalloc, tcmalloc, tbb), for time "
         "and for peak RSS separately; geomean: over the workloads";
}

std::string shim_line(const SuiteResults& r) {
  return r.shim.empty()
             ? "numaslab: not measured (no malloc shim; see the notes)"
             : "numaslab: the malloc shim " + std::filesystem::path(r.shim).filename().string() +
                   " of this build preloaded";
}

std::string checksum_line(const SuiteResults& r) {
  if (!r.failures.empty())
    return "checksums and exits: " + std::to_string(r.failures.size()) +
           " failure(s), listed below";
  return "checksums: every workload gave the same checksum under every allocator (" +
         std::to_string(r.workloads.size()) + " workloads, " + std::to_string(r.allocators.size()) +
         " allocators)";
}

// numaslab's ratio and who the best peer was, per workload.
std::vector<std::vector<std::string>> shim_rows(const SuiteResults& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : r.workloads) {
    auto& row = rows.emplace_back(std::vector<std::string>{w});
    for (const Metric& m : metrics(r)) {
      std::string best;
      const double v = ratio(m, w, kShimName, &best);
      row.push_back(failed(r, w, kShimName) ? "FAIL" : fmt("%.2f", v));
      row.push_back(best.empty() ? "-" : best);
    }
  }
  auto& gm = rows.emplace_back(std::vector<std::string>{"geomean"});
  for (const Metric& m : metrics(r)) {
    gm.push_back(fmt("%.2f", geomean_ratio(m, r, kShimName)));
    gm.push_back("");
  }
  return rows;
}

bool shim_measured(const SuiteResults& r) {
  return std::find(r.allocators.begin(), r.allocators.end(), kShimName) != r.allocators.end();
}

void text_grid(std::ostringstream& o, const std::vector<std::vector<std::string>>& rows,
               int first_width, int width) {
  for (const auto& row : rows) {
    char cell[96];
    for (std::size_t i = 0; i < row.size(); ++i) {
      std::snprintf(cell, sizeof cell, i == 0 ? "  %-*s" : " %*s", i == 0 ? first_width : width,
                    row[i].c_str());
      o << cell;
    }
    o << "\n";
  }
}

void markdown_grid(std::ostringstream& o, const std::vector<std::vector<std::string>>& rows) {
  for (std::size_t k = 0; k < rows.size(); ++k) {
    o << "|";
    for (const auto& c : rows[k]) o << " " << c << " |";
    o << "\n";
    if (k == 0) {
      o << "|---|";
      for (std::size_t i = 1; i < rows[k].size(); ++i) o << "---:|";
      o << "\n";
    }
  }
}

const std::vector<std::string> kShimHeader = {"workload", "time ratio", "best peer (time)",
                                              "RSS ratio", "best peer (RSS)"};

}  // namespace

std::string format_suite_table(const SuiteResults& r) {
  std::ostringstream o;
  o << "numaslab-bench --workloads: " << statistic_line(r) << "\n" << shim_line(r) << "\n";
  for (const Metric& m : metrics(r)) {
    o << "\n" << m.title << " (ratio to the best peer)\n";
    text_grid(o, grid(r, m, ""), 14, 15);
  }
  if (shim_measured(r)) {
    o << "\nnumaslab / best peer\n";
    auto rows = shim_rows(r);
    rows.insert(rows.begin(), kShimHeader);
    text_grid(o, rows, 14, 17);
  }
  o << "\n" << checksum_line(r) << "\n";
  for (const auto& f : r.failures) o << "FAIL: " << f << "\n";
  for (const auto& n : r.notes) o << "note: " << n << "\n";
  return o.str();
}

std::string format_suite_csv(const SuiteResults& r) {
  std::ostringstream o;
  o << "workload,allocator,runs,min_s,median_s,max_s,time_ratio,median_rss_bytes,max_rss_bytes,"
       "rss_ratio,failed,checksum\n";
  const auto ms = metrics(r);
  for (const auto& w : r.workloads) {
    auto sum = r.checksums.find(w);
    for (const auto& a : r.allocators) {
      const Series* t = series(ms[0], w, a);
      const Series* m = series(ms[1], w, a);
      o << w << "," << a << "," << (t ? t->samples.size() : 0) << ","
        << (t ? fmt("%.4f", t->min()) + "," + fmt("%.4f", t->median()) + "," + fmt("%.4f", t->max())
              : ",,")
        << "," << fmt("%.4f", ratio(ms[0], w, a, nullptr)) << ","
        << (m ? fmt("%.0f", m->median()) + "," + fmt("%.0f", m->max()) : ",") << ","
        << fmt("%.4f", ratio(ms[1], w, a, nullptr)) << "," << (failed(r, w, a) ? 1 : 0) << ","
        << (sum == r.checksums.end() ? "" : sum->second) << "\n";
    }
  }
  for (const auto& a : r.allocators)
    o << "geomean," << a << ",,,,," << fmt("%.4f", geomean_ratio(ms[0], r, a)) << ",,,"
      << fmt("%.4f", geomean_ratio(ms[1], r, a)) << ",,\n";
  return o.str();
}

std::string format_suite_markdown(const SuiteResults& r) {
  std::ostringstream o;
  o << markdown_preamble(
      "numaslab-bench --workloads: classic allocator workloads", r,
      {statistic_line(r), shim_line(r),
       "Every workload is a program of its own that calls only malloc/free/realloc/calloc and "
       "new/delete, run with the allocator's library in `LD_PRELOAD` (glibc: nothing); time is "
       "the program's wall time, peak RSS its `ru_maxrss`.",
       checksum_line(r)});
  if (!r.plot_link.empty()) o << "\n![ratios to the best peer](" << r.plot_link << ")\n";
  for (const Metric& m : metrics(r)) {
    o << "\n## " << m.title << " (ratio to the best peer)\n\n";
    markdown_grid(o, grid(r, m, "**"));
    o << "\nBold: the best peer. FAIL: a wrong checksum or a failed run (below).\n";
  }
  if (shim_measured(r)) {
    o << "\n## numaslab / best peer\n\n";
    auto rows = shim_rows(r);
    rows.insert(rows.begin(), kShimHeader);
    markdown_grid(o, rows);
  }
  o << "\n## Workloads\n\n";
  for (const auto& w : r.workloads) {
    const WorkloadInfo* info = find_workload(w);
    auto sum = r.checksums.find(w);
    o << "- **" << w << "**: " << (info ? info->what : "") << " (checksum "
      << (sum == r.checksums.end() ? "-" : sum->second) << ")\n";
  }
  if (!r.failures.empty()) {
    o << "\n## Failures\n\n";
    for (const auto& f : r.failures) o << "- " << f << "\n";
  }
  if (!r.notes.empty()) {
    o << "\n## Notes\n\n";
    for (const auto& n : r.notes) o << "- " << n << "\n";
  }
  return o.str();
}

std::string plot_suite(const SuiteResults& r, const std::string& png) {
  std::vector<RatioPanel> panels;
  for (const Metric& m : metrics(r)) {
    RatioPanel& p = panels.emplace_back();
    p.title = std::string("numaslab-bench --workloads: ") + m.key +
              " relative to the best peer (lower is better; median of " + std::to_string(r.rounds) +
              " rounds, scale " + fmt("%g", r.scale) + ")";
    p.ylabel = std::string(m.key) + " ratio (log scale)";
    p.groups = r.workloads;
    p.groups.push_back("geomean");
    p.series = r.allocators;
    for (const auto& w : r.workloads) {
      auto& values = p.values.emplace_back();
      for (const auto& a : r.allocators) values.push_back(ratio(m, w, a, nullptr));
    }
    auto& gm = p.values.emplace_back();
    for (const auto& a : r.allocators) gm.push_back(geomean_ratio(m, r, a));
  }
  return plot_ratio_panels(panels, png);
}

}  // namespace peer_bench
