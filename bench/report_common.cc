// numaslab-bench: shared report helpers (report_common.h).
#include "report_common.h"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

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

std::string fmt(const char* f, double v) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

double geomean(const std::vector<double>& v) {
  if (v.empty()) return NAN;
  double log_sum = 0;
  for (double x : v) log_sum += std::log(x);
  return std::exp(log_sum / static_cast<double>(v.size()));
}

double best_peer(const std::map<std::string, Series>& row, std::string* who) {
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

std::string markdown_preamble(const std::string& title, const RunInfo& info,
                              const std::vector<std::string>& more) {
  std::ostringstream o;
  o << "# " << title << "\n\n";
  o << "- Command: `" << info.command << "`\n";
  o << "- Date: " << info.started_at << "\n";
  o << "- Machine: " << machine_description() << "\n";
  o << "- Load average (1, 5, 15 min): " << info.load_before << " before, " << info.load_after
    << " after\n";
  if (info.seconds > 0) o << "- Timed part took " << fmt("%.0f", info.seconds) << " s\n";
  for (const auto& line : more) o << "- " << line << "\n";
  return o.str();
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string loadavg() {
  std::string s = read_file("/proc/loadavg");
  auto parts = split(s, ' ');
  if (parts.size() < 3) return "?";
  return parts[0] + " " + parts[1] + " " + parts[2];
}

double load1() {
  std::string s = read_file("/proc/loadavg");
  return s.empty() ? 0.0 : std::atof(s.c_str());
}

// A 1-minute load above half the CPUs means other work competes with the
// measurement: say so, on stderr and in the report's notes.
void warn_about_load(const char* when, std::vector<std::string>* notes) {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  const double load = load1();
  if (cpus <= 0 || load <= 0.5 * static_cast<double>(cpus)) return;
  char msg[256];
  std::snprintf(msg, sizeof msg,
                "load average %s on %ld CPUs %s the run: other work competes for the CPUs, "
                "the figures are unreliable (--max-load waits for a quieter machine)",
                loadavg().c_str(), cpus, when);
  std::fprintf(stderr, "numaslab-bench: warning: %s\n", msg);
  if (notes) notes->push_back(msg);
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&t));
  return buf;
}

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.close();
  if (!f) {
    std::fprintf(stderr, "numaslab-bench: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

namespace {

// A gnuplot string: between single quotes everything is literal but '' for '.
std::string gp_string(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("''") : std::string(1, ch);
  return q + "'";
}

// A column header or x label in a data file: group and series names are
// plain words, double quotes keep them one column.
std::string column(const std::string& s) { return '"' + s + '"'; }

// The panel's data file; returns the range of its values (1 included).
std::pair<double, double> write_panel_data(const RatioPanel& p, const std::string& path) {
  double lo = 1, hi = 1;
  std::ofstream d(path);
  d << "group";
  for (const auto& s : p.series) d << " " << column(s);
  d << "\n";
  for (std::size_t g = 0; g < p.groups.size(); ++g) {
    d << column(p.groups[g]);
    for (std::size_t s = 0; s < p.series.size(); ++s) {
      const double v = g < p.values.size() && s < p.values[g].size() ? p.values[g][s] : NAN;
      if (std::isnan(v) || v <= 0) {
        d << " ?";
      } else {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        d << " " << fmt("%.4f", v);
      }
    }
    d << "\n";
  }
  return {lo, hi};
}

}  // namespace

std::string plot_ratio_panels(const std::vector<RatioPanel>& panels, const std::string& png) {
  if (panels.empty() || panels[0].groups.empty()) return "nothing to plot";
  char tmpl[] = "/tmp/numaslab-bench-plot.XXXXXX";
  const char* dir = mkdtemp(tmpl);
  if (!dir) return "mkdtemp failed";
  const std::string script = std::string(dir) + "/ratios.gp";
  std::vector<std::string> files;
  {
    std::ofstream g(script);
    g << "set terminal pngcairo size 1500," << 650 * panels.size()
      << " enhanced font 'DejaVu Sans,10'\n"
      << "set output " << gp_string(png) << "\n"
      << "set datafile missing '?'\n"
      << "set style data histograms\n"
      << "set style histogram clustered gap 1\n"
      << "set style fill solid 0.85 border rgb 'black'\n"
      << "set boxwidth 0.9\n"
      << "set logscale y 2\n"
      << "set ytics format '%gx'\n"
      << "set grid ytics\n"
      << "set key outside right top vertical\n"
      << "set xtics nomirror rotate by -25 left\n"
      << "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc rgb 'black' "
         "front\n"
      << "set linetype 1 lc rgb '#4e79a7'\nset linetype 2 lc rgb '#f28e2b'\n"
      << "set linetype 3 lc rgb '#59a14f'\nset linetype 4 lc rgb '#b07aa1'\n"
      << "set linetype 5 lc rgb '#9c755f'\nset linetype 6 lc rgb '#e15759'\n"
      << "set linetype 7 lc rgb '#76b7b2'\n";
    if (panels.size() > 1) g << "set multiplot layout " << panels.size() << ",1\n";
    for (std::size_t k = 0; k < panels.size(); ++k) {
      const RatioPanel& p = panels[k];
      files.push_back(std::string(dir) + "/panel" + std::to_string(k) + ".dat");
      const auto [lo, hi] = write_panel_data(p, files.back());
      // Whole powers of two around the data, so 0.5x and 2x look alike.
      const double ymin = std::pow(2.0, std::floor(std::log2(lo)) - (lo == 1 ? 1 : 0));
      const double ymax = std::pow(2.0, std::ceil(std::log2(hi * 1.05)));
      g << "set title " << gp_string(p.title) << "\n"
        << "set ylabel " << gp_string(p.ylabel) << "\n"
        << "set yrange [" << ymin << ":" << ymax << "]\n"
        << "plot for [i=2:" << p.series.size() + 1 << "] " << gp_string(files.back())
        << " using i:xtic(1) title columnheader(i)\n";
    }
    if (panels.size() > 1) g << "unset multiplot\n";
  }
  const std::string cmd = "gnuplot " + gp_string(script) + " 2>&1";
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
    for (const auto& f : files) std::remove(f.c_str());
    std::remove(script.c_str());
    rmdir(dir);
  } else {
    err += " (data and script kept in " + std::string(dir) + ")";
  }
  return err;
}

}  // namespace peer_bench
