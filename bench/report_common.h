// numaslab-bench: what the reports of both suites share — the statistic over
// rounds, the run's circumstances (command, machine, load) and their markdown
// preamble, ratios to the best peer, and the gnuplot chart of ratios.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace peer_bench {

// One measurement per round.
struct Series {
  std::vector<double> samples;
  double median() const;  // NAN when empty
  double min() const;
  double max() const;
};

// The circumstances of a run, shown at the top of every markdown report.
struct RunInfo {
  std::string command;                  // the command line
  std::string started_at;               // local time, ISO 8601
  double seconds = 0;                   // wall time of the timed part
  std::string load_before, load_after;  // /proc/loadavg
  std::string plot_link;                // the chart, relative to the markdown file ("" if none)
  int rounds = 0;
  bool quick = false;
  std::vector<std::string> notes;  // skipped peers, failures, remarks
};

std::vector<std::string> split(const std::string& s, char sep);
std::string machine_description();             // nproc, CPU model, memory, kernel
std::string fmt(const char* f, double v);      // printf of one number; "-" for NAN
double geomean(const std::vector<double>& v);  // NAN when empty

// The smallest median among the peers of a row ([allocator] -> Series), NAN
// when no peer was measured; *who names that peer.
double best_peer(const std::map<std::string, Series>& row, std::string* who);

// "# <title>" and a bullet list: RunInfo's command, date, machine, load and
// duration, then one bullet per line of `more`.
std::string markdown_preamble(const std::string& title, const RunInfo& info,
                              const std::vector<std::string>& more);

// The machine's load: /proc/loadavg's three figures, the 1-minute one; a
// warning (stderr and notes) when it is above half the CPUs.
std::string loadavg();
double load1();
void warn_about_load(const char* when, std::vector<std::string>* notes);

std::string now_iso();
bool write_text(const std::string& path, const std::string& text);  // false: said so on stderr

// A chart of ratios: one panel per entry, stacked; in each, a cluster of bars
// per group (x axis) with one bar per series, on a log2 scale with a dashed
// line at 1. values[group][series]; NAN: no bar.
struct RatioPanel {
  std::string title;
  std::string ylabel;
  std::vector<std::string> groups;
  std::vector<std::string> series;
  std::vector<std::vector<double>> values;
};
// Draws the panels into a PNG with gnuplot; returns "" or an error message.
std::string plot_ratio_panels(const std::vector<RatioPanel>& panels, const std::string& png);

}  // namespace peer_bench
